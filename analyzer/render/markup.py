"""Escaping and formatting for HTML/SVG markup.  Every string that comes from a
model (node names, op types, tensor names, paths) goes through :func:`esc`."""
from __future__ import annotations

import html

__all__ = ["as_int", "esc", "escape_controls", "fmt_dims", "num", "pads", "pct", "share", "short", "svg_num"]


def escape_controls(s: str) -> str:
    """Make a string from a model safe for one terminal/CI-log line: control
    characters (ANSI escapes, newlines, carriage returns) are shown as escapes."""
    out = []
    for ch in s:
        o = ord(ch)
        if o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        elif ch in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def esc(value) -> str:
    """HTML-escape any value from a model, for text and attributes alike.

    Control characters are shown as ``\\xNN`` first (like the text report), so
    nothing from a model can add invisible characters to the page either."""
    return html.escape(escape_controls(str(value)), quote=True)


def short(value, n: int = 34) -> str:
    """``value`` cut to ``n`` characters (middle elided), not escaped."""
    s = str(value)
    if len(s) <= n:
        return s
    keep = n - 1
    return s[: keep - keep // 2] + "\u2026" + s[len(s) - keep // 2 :]


def fmt_dims(dims) -> str:
    """``[1, 64, None]`` -> ``1×64×?``; None -> ``?``."""
    if dims is None:
        return "?"
    return "\u00d7".join("?" if d is None else str(d) for d in dims)


def num(n) -> str:
    """An int with thousands separators; anything else ``?``."""
    return f"{n:,}" if isinstance(n, int) else "?"


def pct(part, whole) -> str:
    """`` (12.5%)`` when both are ints and ``whole`` is not 0, else empty."""
    if not isinstance(part, int) or not isinstance(whole, int) or not whole:
        return ""
    return f" ({100 * part / whole:.1f}%)"


def share(part, whole) -> str:
    return f"{100 * part / whole:.2f}%" if whole else ""


def as_int(v) -> int:
    """``v`` if it is an int (not a bool), else 0."""
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def pads(p) -> str:
    """A list as ``[0, 1, 0, 1]``; anything else ``?``."""
    if not isinstance(p, (list, tuple)):
        return "?"
    return "[" + ", ".join(str(x) for x in p) + "]"


def svg_num(x: float) -> str:
    """A coordinate, as short as it gets (``12``, ``12.5``)."""
    return f"{x:g}"
