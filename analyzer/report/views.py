"""The text views of a report, for people: grouped (the default), full (one line per
finding), statistics (a count per rule and severity with the waste they total) and
quiet (totals only).  Every view shows files that failed, what was not checked and
how many findings hold only at some input sizes: none says "clean" when it isn't.

The views work on findings as objects (``check``) or as their JSON dicts (``scan``),
and know no rule: findings are grouped by rule, severity and *message shape*, the
message with every quoted name and every number taken out (see ``message_shape``).
"""
from __future__ import annotations

import re

from analyzer.findings import WASTE_KINDS
from analyzer.render.markup import escape_controls as escape

__all__ = [
    "VIEWS", "message_shape", "group_findings", "grouped_lines", "full_lines", "quiet_lines",
    "statistics", "statistics_lines", "summary_line", "is_conditional", "color_code",
]  # fmt: skip

VIEWS = ("grouped", "full")
EXAMPLES = 3  # node names shown per group

_COLORS = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_RESET = "\x1b[0m"

# A slot of a message: a quoted name ('x' or "x", as repr() writes it) or a number
# (not one inside an identifier such as conv2d_9; the second 3 of "3x3" is one).
_SLOT = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?:(?<![\w.])|(?<=\dx))-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"""
)


def _get(x, name, default=None):
    return x.get(name, default) if isinstance(x, dict) else getattr(x, name, default)


def color_code(code: str, severity: str, color: bool) -> str:
    return f"{_COLORS.get(severity, '')}{code}{_RESET}" if color and severity in _COLORS else code


def is_conditional(f) -> bool:
    details = _get(f, "details") or {}
    return bool(isinstance(details, dict) and details.get("condition"))


def where(f) -> str:
    graph, node = _get(f, "graph") or "main", str(_get(f, "node") or "")
    return node if graph == "main" else f"{graph}/{node}"


def message_shape(message: str):
    """``(template, slots)``: the message with each number replaced by ``\\0`` and each
    quoted name by ``\\1``, and the strings taken out, in order.  Findings whose messages differ only
    in names and numbers have the same template."""
    if "\0" in message or "\1" in message:  # (a hostile name) would pass for a slot: the message is its own shape
        return message, []
    slots = [m.group(0) for m in _SLOT.finditer(message)]
    return _SLOT.sub(lambda m: "\1" if m.group(0)[0] in "'\"" else "\0", message), slots


def _number(s: str):
    try:
        return int(s)
    except ValueError:
        return float(s)


def _merge_slot(values: list) -> str:
    """One slot of a group's message: the value when all agree, a range of numbers, or
    an ellipsis in place of names that differ."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return distinct[0]
    if distinct[0][:1] in "'\"":
        q = distinct[0][0]
        return f"{q}...{q}"
    nums = [_number(v) for v in distinct]
    lo, hi = min(nums), max(nums)
    return f"{lo}-{hi}" if lo >= 0 else f"{lo}..{hi}"


def group_findings(findings) -> list:
    """Findings of one file grouped by (rule, severity, message shape), in order of
    first appearance: ``[{"rule", "severity", "message", "findings"}]`` where
    ``message`` is the group's message (differing slots merged)."""
    groups: dict = {}
    for f in findings:
        template, slots = message_shape(str(_get(f, "message") or ""))
        key = (_get(f, "rule"), _get(f, "severity"), template)
        groups.setdefault(key, []).append((f, slots))
    out = []
    for (rule, severity, template), members in groups.items():
        if len(members) == 1 or not members[0][1]:  # one finding, or no slots: all the same message
            message = str(_get(members[0][0], "message") or "")
        else:
            columns = list(zip(*(slots for _, slots in members)))
            parts = re.split("[\0\1]", template)
            message = parts[0] + "".join(_merge_slot(list(col)) + part for col, part in zip(columns, parts[1:]))
        out.append({"rule": rule, "severity": severity, "message": message, "findings": [f for f, _ in members]})
    return out


def full_lines(path: str, findings, color: bool = False) -> list:
    """``path:node: CODE [severity] message``, one line per finding (``path`` escaped)."""
    return [
        f"{path}:{escape(where(f))}: {color_code(_get(f, 'rule'), _get(f, 'severity'), color)} [{_get(f, 'severity')}] {escape(str(_get(f, 'message')))}"
        for f in findings
    ]


def grouped_lines(path: str, findings, color: bool = False) -> list:
    """One line per group; a group of one is its finding's full line, a larger one
    ``path: CODE [severity] N findings: message (node, node, node, +K more)``."""
    lines = []
    for g in group_findings(findings):
        fs = g["findings"]
        if len(fs) == 1:
            lines.extend(full_lines(path, fs, color))
            continue
        names = list(dict.fromkeys(where(f) for f in fs))
        k = len(names) if len(names) <= EXAMPLES + 1 else EXAMPLES  # "+1 more" would hide a name for nothing
        shown = ", ".join(escape(n) for n in names[:k])
        if len(names) > k:
            shown += f", +{len(names) - k} more"
        code = color_code(g["rule"], g["severity"], color)
        lines.append(f"{path}: {code} [{g['severity']}] {len(fs)} findings: {escape(g['message'])} ({shown})")
    return lines


# --------------------------------------------------------------------------- counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _by_rule(findings) -> str:
    counts: dict = {}
    for f in findings:
        counts[_get(f, "rule")] = counts.get(_get(f, "rule"), 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def counts_text(findings, n_unchecked: int) -> str:
    """``5 findings (XY001: 4, XY002: 1), 2 of them only at some input sizes, 3 not checked``"""
    findings = list(findings)
    text = _plural(len(findings), "finding")
    rules = _by_rule(findings)
    if rules:
        text += f" ({rules})"
    conditional = sum(1 for f in findings if is_conditional(f))
    if conditional:
        text += f", {conditional} of them only at some input sizes"
    if n_unchecked:
        text += f", {n_unchecked} not checked"
    return text


def summary_line(files, waste_text: str = "") -> str:
    """The last line of every text view: ``N files checked, M findings (...), [K of them
    only at some input sizes,] W dead weights..., U not checked, E files could not be
    analyzed``.  ``files``: (status, findings, unchecked count) per file; ``waste_text``:
    `` W dead weights (...)...`` (the caller knows the totals)."""
    files = list(files)
    findings = [f for _, fs, _ in files for f in fs]
    n_err = sum(1 for status, _, _ in files if status == "error")
    n_unchecked = sum(u for _, _, u in files)
    text = f"{_plural(len(files), 'file')} checked, " + counts_text(findings, 0)
    text += "," + waste_text if waste_text else ""
    if n_unchecked:
        text += f", {n_unchecked} not checked"
    if n_err:
        text += f", {_plural(n_err, 'file')} could not be analyzed"
    return text


def quiet_lines(files) -> list:
    """Per-file totals, for files with findings or things not checked, when there is
    more than one file (one file: the summary says it all).  ``files``: (path escaped,
    status, findings, unchecked count)."""
    files = list(files)
    if len(files) < 2:
        return []
    return [f"{path}: {counts_text(fs, u)}" for path, status, fs, u in files if status == "ok" and (fs or u)]


# --------------------------------------------------------------------------- statistics

def statistics(findings) -> list:
    """Rows ``{"rule", "name", "severity", "count", "conditional", "waste", "waste_unknown"}``
    per (rule, severity), most findings first: ``waste`` sums each finding's generic
    ``waste`` (known figures), ``waste_unknown`` counts findings whose figure is not
    known (None) for a kind that others report."""
    rows: dict = {}
    for f in findings:
        key = (_get(f, "rule"), _get(f, "severity"))
        row = rows.setdefault(
            key,
            {"rule": key[0], "name": _get(f, "name"), "severity": key[1], "count": 0, "conditional": 0,
             "waste": {k: 0 for k in WASTE_KINDS}, "waste_unknown": {k: 0 for k in WASTE_KINDS}},
        )  # fmt: skip
        row["count"] += 1
        row["conditional"] += is_conditional(f)
        waste = _get(f, "waste") or {}
        for k in WASTE_KINDS:
            if k in waste:
                v = waste[k]
                if v is None:
                    row["waste_unknown"][k] += 1
                else:
                    row["waste"][k] += int(v)
    return sorted(rows.values(), key=lambda r: (-r["count"], r["rule"], r["severity"]))


def _figure(row, kind) -> str:
    v, unknown = row["waste"][kind], row["waste_unknown"][kind]
    if unknown and not v:
        return "?"
    return f"{v}+" if unknown else str(v)


def statistics_lines(rows, color: bool = False) -> list:
    """An aligned table, like ``ruff --statistics`` with the waste the findings total
    (``N+``: some findings' figure is not known; ``?``: none is)."""
    if not rows:
        return []
    header = ["count", "rule", "severity", "name", "dead weights", "dead bytes", "wasted MACs"]
    cells = [
        [str(r["count"]), escape(str(r["rule"])), r["severity"], escape(str(r["name"] or "")), _figure(r, "weights"), _figure(r, "bytes"), _figure(r, "macs")]
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    right = {0, 4, 5, 6}

    def fmt(row, colored=False):
        out = []
        for i, (c, w) in enumerate(zip(row, widths)):
            pad = c.rjust(w) if i in right else c.ljust(w)
            if colored and i == 1:
                pad = color_code(c, row[2], color) + " " * (w - len(c))
            out.append(pad)
        return "  ".join(out).rstrip()

    lines = [fmt(header)]
    for r, c in zip(rows, cells):
        line = fmt(c, colored=True)
        if r["conditional"]:
            line += f"  ({r['conditional']} only at some input sizes)"
        lines.append(line)
    return lines
