"""Text output, like a compiler's: ``path:node: CODE message``, then a summary."""
from __future__ import annotations

# escape(): a string from a model made safe for one line (no control characters)
from analyzer.render.markup import escape_controls as escape

__all__ = ["escape", "render_text"]

_COLORS = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_RESET = "\x1b[0m"


def render_text(report, color: bool = False) -> str:
    lines = []
    for fr in report.files:
        path = escape(fr.path)
        if fr.status == "error":
            lines.append(f"{path}: error: {fr.error['kind']}: {escape(fr.error['message'])}")
            continue
        for f in fr.findings:
            where = f.node if f.graph == "main" else f"{f.graph}/{f.node}"
            code = f"{_COLORS[f.severity]}{f.rule}{_RESET}" if color else f.rule
            lines.append(f"{path}:{escape(where)}: {code} [{f.severity}] {escape(f.message)}")
    n_files = len(report.files)
    n_err = len(report.errors)
    findings = report.findings
    by_rule = {}
    for f in findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    rules = ", ".join(f"{k}: {v}" for k, v in sorted(by_rule.items()))
    summary = f"{n_files} file{'s' if n_files != 1 else ''} checked, {len(findings)} finding{'s' if len(findings) != 1 else ''}"
    if rules:
        summary += f" ({rules})"
    summary += f", {report.waste('weights')} dead weights"
    conditional = sum(1 for f in findings if f.details.get("condition"))
    if conditional:
        summary += f" ({conditional} more finding{'s' if conditional != 1 else ''} only at some input sizes)"
    if n_err:
        summary += f", {n_err} file{'s' if n_err != 1 else ''} could not be analyzed"
    lines.append(summary)
    return "\n".join(lines) + "\n"
