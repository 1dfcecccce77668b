"""Renderers of one Report: text (compiler-style) and JSON."""
from __future__ import annotations

__all__ = ["render"]


def render(report, fmt: str = "text", color: bool = False) -> str:
    if fmt == "json":
        from .json import render_json

        return render_json(report)
    from .text import render_text

    return render_text(report, color=color)
