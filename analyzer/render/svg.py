"""Generic SVG pieces: the page's shared defs (hatch pattern, arrow head), op boxes
and arrows, a vertical chain of ops, a fan-out of parallel ops, horizontal bar
charts.  Every function returns markup as a string; every string from a model goes
through :func:`~analyzer.render.markup.esc`."""
from __future__ import annotations

from analyzer.render.markup import esc, fmt_dims, short
from analyzer.render.markup import svg_num as _n

__all__ = ["BOX_H", "BOX_W", "GAP", "arrow_svg", "bar_chart_svg", "box_svg", "chain_svg", "defs_svg", "elide", "fanout_svg"]


# --------------------------------------------------------------------------- shared defs


def defs_svg() -> str:
    """The hatch pattern every diagram uses (one copy per page)."""
    return (
        '<svg class="defs" xmlns="http://www.w3.org/2000/svg" width="0" height="0" aria-hidden="true">'
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#eceff3"/><path d="M0 0v6" stroke="#9aa3ae" stroke-width="1.6"/>'
        "</pattern>"
        '<marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0 0L8 4L0 8z" fill="#6e7781"/></marker></defs></svg>'
    )


# --------------------------------------------------------------------------- graph views

BOX_W, BOX_H, GAP = 220, 34, 16


def box_svg(x, y, node, role) -> str:
    """One op box at ``(x, y)``: op type, output dims, node name; ``role``: its CSS class."""
    op = node.get("op_type") or "?"
    name = node.get("node") or ""
    shape = node.get("shape")
    dims = fmt_dims(shape) if shape is not None else ""
    tip = f"{op} {name}" + (f" -> {dims}" if dims else "")
    return (
        f'<g class="box {role}"><title>{esc(tip)}</title>'
        f'<rect x="{_n(x)}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/>'
        f'<text class="b1" x="{_n(x + 7)}" y="{y + 14}">{esc(short(op, 18))}</text>'
        f'<text class="b3" x="{_n(x + BOX_W - 7)}" y="{y + 14}">{esc(short(dims, 16))}</text>'
        f'<text class="b2" x="{_n(x + 7)}" y="{y + 27}">{esc(short(name, 32))}</text></g>'
    )


def arrow_svg(x1, y1, x2, y2) -> str:
    return f'<path class="edge" d="M{_n(x1)} {_n(y1)}L{_n(x2)} {_n(y2)}"/>'


def elide(nodes, keep=3):
    """``nodes`` with the middle replaced by one gap box when there are many."""
    if len(nodes) <= 2 * keep + 1:
        return nodes
    hidden = len(nodes) - 2 * keep
    return nodes[:keep] + [{"op_type": "\u2026", "node": f"{hidden} more ops", "shape": None, "_gap": True}] + nodes[-keep:]


def _roles(nodes, cause_name, conv_last=True):
    roles = []
    for i, nd in enumerate(nodes):
        if nd.get("_gap"):
            roles.append("gap")
        elif conv_last and i == len(nodes) - 1:
            roles.append("conv")
        elif cause_name is not None and nd.get("node") == cause_name and i == 0:
            roles.append("cause")
        else:
            roles.append("")
    return roles


def chain_svg(nodes, cause_name=None, caption="") -> str:
    """A vertical chain of ops, each ``{"node", "op_type", "shape"}``: the first is
    marked as the cause when it is ``cause_name``, the last as the target (box class
    ``conv``); long chains are elided in the middle."""
    nodes = elide([n for n in nodes if isinstance(n, dict)])
    roles = _roles(nodes, cause_name)
    width = BOX_W + 4
    height = len(nodes) * (BOX_H + GAP) - GAP + 4
    parts = []
    for i, (nd, role) in enumerate(zip(nodes, roles)):
        y = 2 + i * (BOX_H + GAP)
        if i:
            parts.append(arrow_svg(2 + BOX_W / 2, y - GAP, 2 + BOX_W / 2, y - 2))
        parts.append(box_svg(2, y, nd, role))
    return (
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(caption)}">' + "".join(parts) + "</svg>"
    )


def fanout_svg(prefix, branches, concat, cause_name=None, caption="") -> str:
    """The ops before a shared input (``prefix``), the parallel ops that read it
    (``branches``, marked as targets) side by side, and the op they all feed
    (``concat``, when there is one)."""
    prefix = elide([n for n in prefix if isinstance(n, dict)], keep=2)
    roles = _roles(prefix, cause_name, conv_last=False)
    nb = max(1, len(branches))
    row_w = nb * BOX_W + (nb - 1) * GAP
    width = max(row_w, BOX_W) + 4
    cx = 2 + (width - 4) / 2
    parts = []
    y = 2
    for i, (nd, role) in enumerate(zip(prefix, roles)):
        if i:
            parts.append(arrow_svg(cx, y - GAP, cx, y - 2))
        parts.append(box_svg(cx - BOX_W / 2, y, nd, role))
        y += BOX_H + GAP
    x0 = 2 + (width - 4 - row_w) / 2
    for i, b in enumerate(branches):
        bx = x0 + i * (BOX_W + GAP)
        if prefix:
            parts.append(arrow_svg(cx, y - GAP, bx + BOX_W / 2, y - 2))
        parts.append(box_svg(bx, y, b, "conv"))
    y += BOX_H + GAP
    if concat is not None:
        for i in range(len(branches)):
            bx = x0 + i * (BOX_W + GAP)
            parts.append(arrow_svg(bx + BOX_W / 2, y - GAP, cx, y - 2))
        parts.append(box_svg(cx - BOX_W / 2, y, concat, ""))
        y += BOX_H + GAP
    height = y - GAP + 2
    return (
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{height}" '
        f'viewBox="0 0 {_n(width)} {height}" role="img" aria-label="{esc(caption)}">' + "".join(parts) + "</svg>"
    )


# --------------------------------------------------------------------------- bar chart

BAR_H, BAR_GAP, LABEL_W, BAR_W = 13, 3, 230, 380


def bar_chart_svg(items, caption="") -> str:
    """Horizontal bars: ``items`` are ``(label, value, href or None, title)``."""
    top = max((v for _, v, _, _ in items), default=0) or 1
    height = len(items) * (BAR_H + BAR_GAP) + 2
    width = LABEL_W + BAR_W + 90
    parts = []
    for i, (label, value, href, title) in enumerate(items):
        y = 1 + i * (BAR_H + BAR_GAP)
        w = max(1.0, BAR_W * value / top) if value else 0
        row = (
            f"<title>{esc(title)}</title>"
            f'<text class="bl" x="{LABEL_W - 6}" y="{y + 10}">{esc(short(label, 36))}</text>'
            f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{_n(round(w, 1))}" height="{BAR_H}"/>'
            f'<text class="bv" x="{_n(round(LABEL_W + w + 4, 1))}" y="{y + 10}">{value:,}</text>'
        )
        if href:
            parts.append(f'<a href="{esc(href)}">{row}</a>')
        else:
            parts.append(f"<g>{row}</g>")
    return (
        f'<svg class="bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(caption)}">' + "".join(parts) + "</svg>"
    )
