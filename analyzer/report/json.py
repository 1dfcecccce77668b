"""JSON output: one object, keys in a fixed order, deterministic."""
from __future__ import annotations

import json

__all__ = ["render_json"]


def render_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=True, allow_nan=False) + "\n"
