"""Renderers of one Report: text (compiler-style: grouped, or ``full`` with a line per
finding), JSON, SARIF 2.1.0, GitHub workflow annotations, HTML, JUnit XML and GitLab
Code Quality.  Each is deterministic: same report, same bytes.

``statistics`` (text, full, json) renders a count per rule and severity instead of the
findings; ``quiet`` (text, full) only the totals.  ``check_view_options`` says which
combinations exist."""
from __future__ import annotations

from analyzer.findings import REPORT_FORMATS as FORMATS

__all__ = ["render", "check_view_options", "FORMATS"]

STATISTICS_FORMATS = ("text", "full", "json")
QUIET_FORMATS = ("text", "full")


def check_view_options(fmt: str, statistics: bool = False, quiet: bool = False) -> str | None:
    """Why ``statistics``/``quiet`` do not go with ``fmt`` (one line), or None."""
    if statistics and quiet:
        return "--statistics and --quiet do not go together (--quiet prints only the totals)"
    if statistics and fmt not in STATISTICS_FORMATS:
        return f"--statistics works with --format {', '.join(STATISTICS_FORMATS)}, not {fmt}"
    if quiet and fmt not in QUIET_FORMATS:
        return f"--quiet works with --format {' or '.join(QUIET_FORMATS)}, not {fmt} (a machine-readable report is complete)"
    return None


def render(report, fmt: str = "text", color: bool = False, statistics: bool = False, quiet: bool = False) -> str:
    problem = check_view_options(fmt, statistics, quiet)
    if problem:
        raise ValueError(problem)
    if fmt == "json" and statistics:
        from analyzer.report.json import render_statistics_json

        return render_statistics_json(report)
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
    if fmt == "junit":
        from analyzer.report.junit import render_junit

        return render_junit(report.to_dict()["files"])
    if fmt == "gitlab":
        from analyzer.report.gitlab import render_gitlab

        return render_gitlab(report.to_dict()["files"])
    from analyzer.report.text import render_text

    return render_text(report, color=color, view="full" if fmt == "full" else "grouped", statistics=statistics, quiet=quiet)
