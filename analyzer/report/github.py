"""GitHub Actions workflow commands: one ``::warning file=...::message`` line per
finding, so findings show up as annotations on the pull request; per file, a
``::notice`` for what was not checked (unless findings report it already) and one
for each of the linter's notices (suppressed, already in the baseline)."""
from __future__ import annotations

__all__ = ["render_github"]

_LEVEL = {"info": "notice", "warning": "warning", "error": "error"}


def _data(s: str) -> str:
    """Escape a message the way the runner expects (it decodes %25, %0D, %0A)."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def _clean(s: str) -> str:
    from analyzer.report.text import escape

    return escape(s)  # no control characters (ANSI escapes) reach the log


def render_github(report) -> str:
    lines = []
    for fr in report.files:
        path = _prop(_clean(fr.path))
        if fr.status == "error":
            lines.append(f"::error file={path},title={_prop('onnxlint ' + fr.error['kind'])}::{_data(_clean(fr.error['message']))}")
            continue
        for f in fr.findings:
            title = _prop(f"{f.rule} {f.name} ({f.node})")
            lines.append(f"::{_LEVEL[f.severity]} file={path},title={_clean(title)}::{_data(_clean(f.message))}")
        from analyzer.findings import unreported_unchecked
        from analyzer.report.text import coverage_text

        rest = unreported_unchecked(fr.unchecked, fr.findings)
        if rest:
            lines.append(f"::notice file={path},title={_prop('onnxlint: not checked')}::{_data(coverage_text(rest))}")
        for n in fr.notices:
            lines.append(f"::notice file={path},title=onnxlint::{_data(_clean(n))}")
    return "\n".join(lines) + ("\n" if lines else "")
