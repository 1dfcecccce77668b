"""JSON output: one object, keys in a fixed order, deterministic."""
from __future__ import annotations

import json

__all__ = ["render_json", "render_statistics_json"]


def render_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def render_statistics_json(report) -> str:
    """``check --statistics --format json``: ``{"tool", "statistics": [row per rule and
    severity], "totals"}`` (rows as ``analyzer.report.views.statistics``; ``totals``
    also counts what the rows cannot show: files that failed and things not checked)."""
    from analyzer.findings import WASTE_KINDS
    from analyzer.report.text import count_unchecked
    from analyzer.report.views import is_conditional, statistics

    doc = report.to_dict()
    findings = report.findings
    doc.pop("files")
    doc["statistics"] = statistics(findings)
    doc["totals"] = {
        "files": len(report.files),
        "errors": [{"path": fr.path, **dict(fr.error or {})} for fr in report.errors],
        "findings": len(findings),
        "conditional": sum(1 for f in findings if is_conditional(f)),
        "not_checked": sum(count_unchecked(fr.unchecked) for fr in report.files),
        "waste": {k: report.waste(k) for k in WASTE_KINDS},
    }
    return json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
