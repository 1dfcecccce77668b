"""Renderers of one Report: text (compiler-style), JSON, SARIF 2.1.0, GitHub
workflow annotations, HTML.  Each is deterministic: same report, same bytes."""
from __future__ import annotations

__all__ = ["render"]


def render(report, fmt: str = "text", color: bool = False) -> str:
    if fmt == "json":
        from analyzer.report.json import render_json

        return render_json(report)
    if fmt == "sarif":
        from analyzer.report.sarif import render_sarif

        return render_sarif(report)
    if fmt == "github":
        from analyzer.report.github import render_github

        return render_github(report)
    if fmt == "html":
        from analyzer.report.html import render_html

        return render_html(report)
    from analyzer.report.text import render_text

    return render_text(report, color=color)
