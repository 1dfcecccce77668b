"""Text output, like a compiler's: ``path:node: CODE message`` (grouped by message
shape by default, see ``analyzer.report.views``), then a summary line."""
from __future__ import annotations

# escape(): a string from a model made safe for one line (no control characters)
from analyzer.render.markup import escape_controls as escape

__all__ = ["escape", "render_text", "summary", "coverage_text", "coverage_lines", "count_unchecked"]


def render_text(report, color: bool = False, view: str = "grouped", statistics: bool = False, quiet: bool = False) -> str:
    """The report for people (see ``analyzer.report.views``): per file, its findings
    (``view``: grouped or full), what was not checked and the linter's notices; or
    with ``statistics`` a table per rule and severity; or with ``quiet`` only per-file
    totals.  Files that failed and the summary line are in every view."""
    from analyzer.report import views

    lines = []
    if statistics:
        lines.extend(views.statistics_lines(views.statistics(report.findings), color=color))
    for fr in report.files:
        path = escape(fr.path)
        if fr.status == "error":
            lines.append(f"{path}: error: {fr.error['kind']}: {escape(fr.error['message'])}")
            continue
        if quiet or statistics:
            if statistics:  # the table has the findings; what it cannot show, per file
                lines.extend(coverage_lines(path, fr.unchecked, fr.findings, fr.notices))
            continue
        if view == "full":
            lines.extend(views.full_lines(path, fr.findings, color))
        else:
            lines.extend(views.grouped_lines(path, fr.findings, color))
        lines.extend(coverage_lines(path, fr.unchecked, fr.findings, fr.notices))
    if quiet:
        lines.extend(views.quiet_lines((escape(fr.path), fr.status, fr.findings, count_unchecked(fr.unchecked)) for fr in report.files))
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def summary(report) -> str:
    """``1 file checked, 100 findings (XY001: 80, XY002: 20), 7680 dead weights (...)``."""
    from analyzer.report.views import summary_line

    waste = f" {report.waste('weights')} dead weights" + _waste_shares(report)
    return summary_line(((fr.status, fr.findings, count_unchecked(fr.unchecked)) for fr in report.files), waste)


# --------------------------------------------------------------------------- coverage
# Records (``FileResult.unchecked``) as objects or as their dicts (scan's records).


def _get(x, name, default=None):
    return x.get(name, default) if isinstance(x, dict) else getattr(x, name, default)


def count_unchecked(records) -> int:
    """Things not checked (a record standing for N nodes counts N)."""
    total = 0
    for r in records:
        try:
            total += max(1, int(_get(r, "count", 1) or 1))
        except (TypeError, ValueError):
            total += 1
    return total


_NOUNS = {
    "unknown-op": ("unknown op", "unknown ops"),
    "shape-error": ("node with a shape error", "nodes with a shape error"),
    "shape-function-failed": ("node whose shape function failed", "nodes whose shape function failed"),
    "onnx-fallback-failed": ("onnx shape inference", "onnx shape inferences"),
    "skipped-subgraph": ("subgraph skipped", "subgraphs skipped"),
    "stale-suppression": ("stale suppression", "stale suppressions"),
}
_EXAMPLES = 3


def _noun(kind: str, n: int) -> str:
    if kind in _NOUNS:
        return _NOUNS[kind][n != 1]
    word = kind[len("unchecked-"):] if kind.startswith("unchecked-") else kind  # a rule's own kind
    return word if n == 1 else word + "s"


def _example(r) -> str:
    kind, node, reason = _get(r, "kind", ""), _get(r, "node"), _get(r, "reason") or ""
    if kind == "unknown-op":
        domain, op_type = _get(r, "domain") or "", _get(r, "op_type") or ""
        return f"{domain + '.' if domain else ''}{op_type} {node!r}"
    if kind == "stale-suppression" and reason:
        return repr(reason)
    if reason:
        return reason
    return repr(node) if node else (_get(r, "graph") or _get(r, "message") or "")


def coverage_text(records) -> str:
    """``1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)``: the
    records by kind (in order of first appearance), a few examples each."""
    by_kind: dict = {}
    for r in records:
        by_kind.setdefault(_get(r, "kind", "") or "unknown", []).append(r)
    parts = []
    for kind, recs in by_kind.items():
        n = count_unchecked(recs)
        examples = list(dict.fromkeys(_example(r) for r in recs))
        shown = ", ".join(examples[:_EXAMPLES]) + (f", +{len(examples) - _EXAMPLES} more" if len(examples) > _EXAMPLES else "")
        parts.append(f"{n} {_noun(kind, n)}" + (f" ({shown})" if shown else ""))
    return escape(", ".join(parts))


def coverage_lines(path: str, unchecked, findings, notices) -> list:
    """A file's lines after its findings: what was not checked and that no finding
    reports already (one line), then the linter's notices (``path`` escaped already)."""
    from analyzer.findings import unreported_unchecked

    lines = []
    rest = unreported_unchecked(unchecked or [], findings or [])
    if rest:
        lines.append(f"{path}: not checked: {coverage_text(rest)}")
    lines.extend(f"{path}: note: {escape(n)}" for n in notices or [])
    return lines


def _share(part: int, whole) -> str:
    pct = 100.0 * part / whole
    return f"{pct:.3g}%" if pct >= 0.01 else "<0.01%"


def _waste_shares(report) -> str:
    """`` (x% of all weights), N wasted MACs (y% of all MACs)``: the findings' waste against
    the analyzed files' totals (``stats``); empty when nothing is wasted."""
    weights = report.waste("weights")
    macs = report.waste("macs")
    ok = [fr for fr in report.files if fr.status == "ok"]
    all_weights = sum(int(fr.stats.get("weights") or 0) for fr in ok)
    known = [fr.stats.get("macs") for fr in ok]
    all_macs = sum(known) if known and all(isinstance(m, int) for m in known) else None
    out = ""
    if weights and all_weights:
        out += f" ({_share(weights, all_weights)} of all weights)"
    if macs:
        out += f", {macs} wasted MACs" + (f" ({_share(macs, all_macs)} of all MACs)" if all_macs else "")
    return out

