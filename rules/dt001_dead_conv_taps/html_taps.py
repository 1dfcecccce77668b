"""Tap diagrams of the HTML report: the geometry of what to draw, and the SVG.

Every function returns markup as a string; every string that comes from a model
goes through :func:`~analyzer.render.markup.esc`.

A diagram shows, for one conv, the *canvas* the kernel slides over and where its
taps land for one chosen position:

* Conv: the input map with its padding (ONNX pads, including a folded zero
  ``Pad``).  The kernel is drawn at the **centre output position** (per axis
  ``(out - 1) // 2``): the place where a kernel typically sits and where the most
  live taps read real input.  A dead tap lands in padding there as it does at
  every other position.
* ConvTranspose: the output before cropping, with the cropped margins (the pads)
  hatched like padding; the taps are drawn where the centre *input* position
  writes.

Markers (colour and shape, so greyscale print still works): filled circle = live
tap reading real input here; hollow circle = live tap that reads padding at this
position but real input at some other; cross = dead tap (padding at every
position).  Real cells are plain, padding cells are hatched.

1-D convs are one row.  For 3-D (and higher) convs the last two axes are drawn
as a 2-D map, one panel per kernel tap of the leading axes (the depth slices the
kernel reads at the chosen position; a slice lying in padding is all hatched),
at most :data:`MAX_SLICES` panels.  An axis whose canvas is longer than
:data:`MAX_FULL_AXIS` cells is drawn as a window: the cells around the taps and
the edges of the map, with a zigzag break wherever cells are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice, product

from analyzer.render.markup import esc, fmt_dims
from analyzer.render.markup import svg_num as _n

__all__ = [
    "DiagramError",
    "axis_plans",
    "cell_size",
    "drawn_cells",
    "legend_svg",
    "tap_figure_svgs",
]

BREAK = 12  # px of a break (elided cells) in a window
MAX_FULL_AXIS = 23  # canvases up to this many cells per axis are drawn whole
MAX_SHOWN_TAPS = 15  # kernels up to this many taps per axis show every tap
MAX_SLICES = 9  # panels for the leading axes of a 3-D+ conv
MARGIN_L, MARGIN_T, MARGIN_B = 26, 4, 16


class DiagramError(ValueError):
    """The finding's details do not describe a drawable conv."""


# --------------------------------------------------------------------------- tap geometry


@dataclass
class AxisPlan:
    """One spatial axis of a diagram."""

    length: int  # canvas cells: pad_begin + size + pad_end
    real: tuple  # [begin, end) of the real (input, or kept output) cells
    taps: list  # canvas index of each kernel tap j
    live: frozenset  # live tap indices
    cells: list  # canvas indices drawn, ascending
    shown: list  # tap indices drawn (every tap whose cell is drawn)
    pos: int  # the chosen output (Conv) or input (ConvTranspose) position
    size: int  # the real extent (input size, or kept output size)

    def is_real(self, c: int) -> bool:
        return self.real[0] <= c < self.real[1]

    @property
    def windowed(self) -> bool:
        return len(self.cells) < self.length


def _int_list(details, key, n, minimum):
    v = details.get(key)
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise DiagramError(f"{key} missing or of the wrong length")
    if not all(isinstance(x, int) and not isinstance(x, bool) and x >= minimum for x in v):
        raise DiagramError(f"{key} is not static")
    return list(v)


def _liveness(details, rank, kernel, sizes, strides, dilations, pb, pe, transpose):
    per_axis = details.get("live_taps_per_axis")
    if isinstance(per_axis, (list, tuple)) and len(per_axis) == rank:
        return [frozenset(int(j) for j in a) for a in per_axis]
    from analyzer.geometry import GeometryError, live_taps_conv, live_taps_conv_transpose

    fn = live_taps_conv_transpose if transpose else live_taps_conv
    try:
        return [frozenset(fn(sizes[a], kernel[a], strides[a], dilations[a], pb[a], pe[a])) for a in range(rank)]
    except GeometryError as e:
        raise DiagramError(str(e)) from None


def axis_plans(details, out_spatial=None):
    """Per-axis plans for a conv described by DT001-style ``details``.

    ``out_spatial``: the conv's output spatial size (needed for ConvTranspose
    with output_padding; computed without it otherwise)."""
    kernel = details.get("kernel_shape")
    if not isinstance(kernel, (list, tuple)) or not kernel:
        raise DiagramError("no kernel shape")
    rank = len(kernel)
    kernel = _int_list(details, "kernel_shape", rank, 1)
    sizes = _int_list(details, "input_spatial_shape", rank, 1)
    strides = _int_list(details, "strides", rank, 1) if details.get("strides") else [1] * rank
    dilations = _int_list(details, "dilations", rank, 1) if details.get("dilations") else [1] * rank
    pads = _int_list(details, "pads", 2 * rank, 0) if details.get("pads") else [0] * (2 * rank)
    pb, pe = pads[:rank], pads[rank:]
    transpose = bool(details.get("transpose"))
    live = _liveness(details, rank, kernel, sizes, strides, dilations, pb, pe, transpose)
    plans = []
    for a in range(rank):
        n, k, s, d = sizes[a], kernel[a], strides[a], dilations[a]
        extent = (k - 1) * d + 1
        if transpose:
            out = None
            if out_spatial is not None and a < len(out_spatial) and isinstance(out_spatial[a], int):
                out = out_spatial[a]
            if out is None:
                out = s * (n - 1) + extent - pb[a] - pe[a]
            if out < 1:
                raise DiagramError("the cropping removes the whole output")
            length, real, pos = pb[a] + out + pe[a], (pb[a], pb[a] + out), (n - 1) // 2
            size = out
        else:
            out = (n + pb[a] + pe[a] - extent) // s + 1
            if out < 1:
                raise DiagramError("the kernel is larger than the padded input")
            length, real, pos = pb[a] + n + pe[a], (pb[a], pb[a] + n), (out - 1) // 2
            size = n
        taps = [pos * s + j * d for j in range(k)]
        plans.append(_window(AxisPlan(length, real, taps, live[a], [], [], pos, size)))
    return plans


def _trivial_axis() -> AxisPlan:
    return AxisPlan(1, (0, 1), [0], frozenset([0]), [0], [0], 0, 1)


def _window(p: AxisPlan) -> AxisPlan:
    """Choose the cells (and taps) to draw on one axis."""
    k = len(p.taps)
    if p.length <= MAX_FULL_AXIS:
        p.cells = list(range(p.length))
        p.shown = list(range(k))
        return p
    if k <= MAX_SHOWN_TAPS:
        want = set(range(k))
    else:
        # first and last taps, and the taps where the picture changes
        want = {0, 1, k - 2, k - 1}
        for j in range(1, k):
            before = (j - 1 in p.live, p.is_real(p.taps[j - 1]))
            if (j in p.live, p.is_real(p.taps[j])) != before:
                want.update((j - 1, j))
        if len(want) > 2 * MAX_SHOWN_TAPS:  # a pathological pattern: its two ends
            ordered = sorted(want)
            want = set(ordered[:MAX_SHOWN_TAPS] + ordered[-MAX_SHOWN_TAPS:])
    cells = set()
    for j in want:
        c = p.taps[j]
        cells.update(x for x in (c - 1, c, c + 1) if 0 <= x < p.length)
    lo, hi = p.real
    cells.update(x for x in (lo - 1, lo, hi - 1, hi) if 0 <= x < p.length)
    ordered = sorted(cells)
    filled = []
    for c in ordered:  # a break that hides a single cell is not worth it
        if filled and c - filled[-1] == 2:
            filled.append(c - 1)
        filled.append(c)
    p.cells = filled
    drawn = set(filled)
    p.shown = [j for j in range(k) if p.taps[j] in drawn]
    return p


class _Layout:
    """Pixel positions of the drawn cells of one axis (breaks between gaps)."""

    def __init__(self, plan: AxisPlan, origin: int, cell: int):
        self.plan = plan
        self.cell = cell
        self.start = {}
        self.breaks = []  # pixel start of each break
        x = origin
        prev = None
        for c in plan.cells:
            if prev is not None and c != prev + 1:
                self.breaks.append(x)
                x += BREAK
            self.start[c] = x
            x += cell
            prev = c
        self.end = x

    def runs(self, by_kind=True):
        """Runs of consecutive drawn cells (of one kind): [first, last, is_real]."""
        out = []
        for c in self.plan.cells:
            r = self.plan.is_real(c)
            if out and c == out[-1][1] + 1 and (out[-1][2] == r or not by_kind):
                out[-1][1] = c
            else:
                out.append([c, c, r])
        return out

    def span(self, first, last):
        return self.start[first], self.start[last] + self.cell - self.start[first]


def cell_size(max_cells: int) -> int:
    """Pixels per cell: small canvases are drawn larger."""
    if max_cells <= 9:
        return 24
    if max_cells <= 17:
        return 19
    return 15


# --------------------------------------------------------------------------- tap diagram SVG


def _panel(yplan, xplan, slice_real, slice_dead, caption, one_d, label, cell, heading="") -> str:
    top = MARGIN_T + (16 if heading else 0)
    xl = _Layout(xplan, MARGIN_L, cell)
    yl = _Layout(yplan, top, cell)
    width = xl.end + 6
    height = yl.end + MARGIN_B
    parts, grid, frames = [], [], []
    for x0, x1, xr in xl.runs():
        for y0, y1, yr in yl.runs():
            (px, w), (py, h) = xl.span(x0, x1), yl.span(y0, y1)
            real = xr and yr and slice_real
            parts.append(f'<rect class="{"real" if real else "pad"}" x="{px}" y="{py}" width="{w}" height="{h}"/>')
            for c in range(x0 + 1, x1 + 1):
                grid.append(f"M{xl.start[c]} {py}v{h}")
            for c in range(y0 + 1, y1 + 1):
                grid.append(f"M{px} {yl.start[c]}h{w}")
    for x0, x1, _ in xl.runs(by_kind=False):
        for y0, y1, _ in yl.runs(by_kind=False):
            (px, w), (py, h) = xl.span(x0, x1), yl.span(y0, y1)
            frames.append(f"M{px} {py}h{w}v{h}h{-w}z")
    if grid:
        parts.append(f'<path class="grid" d="{"".join(grid)}"/>')
    parts.append(f'<path class="frame" d="{"".join(frames)}"/>')
    if slice_real:  # one outline around the real map, across any breaks
        xr = [c for c in xplan.cells if xplan.is_real(c)]
        yr = [c for c in yplan.cells if yplan.is_real(c)]
        if xr and yr:
            (px, w), (py, h) = xl.span(xr[0], xr[-1]), yl.span(yr[0], yr[-1])
            parts.append(f'<rect class="edge-real" x="{px}" y="{py}" width="{w}" height="{h}"/>')
    # zigzag breaks where cells are elided
    brk = []
    for bx in xl.breaks:
        brk.append(_zigzag_v(bx + BREAK / 2, top, yl.end))
    for by in yl.breaks:
        brk.append(_zigzag_h(by + BREAK / 2, MARGIN_L, xl.end))
    if brk:
        parts.append(f'<path class="brk" d="{"".join(brk)}"><title>cells left out: the map continues</title></path>')
    # the kernel footprint (the window the kernel spans at this position)
    fx0, fx1 = xplan.taps[0], xplan.taps[-1]
    fy0, fy1 = yplan.taps[0], yplan.taps[-1]
    if fx0 in xl.start and fx1 in xl.start and fy0 in yl.start and fy1 in yl.start:
        px, py = xl.start[fx0] - 1.5, yl.start[fy0] - 1.5
        parts.append(
            f'<rect class="foot" x="{_n(px)}" y="{_n(py)}" width="{_n(xl.start[fx1] + cell + 1.5 - px)}" '
            f'height="{_n(yl.start[fy1] + cell + 1.5 - py)}"/>'
        )
    # the taps
    dead_d, live_d, hollow_d = [], [], []
    tips = []
    r, x = round(cell * 0.3, 1), round(cell * 0.28, 1)  # circle radius, cross half-width
    for jy in yplan.shown:
        for jx in xplan.shown:
            cx = xl.start[xplan.taps[jx]] + cell / 2
            cy = yl.start[yplan.taps[jy]] + cell / 2
            dead = slice_dead or jx not in xplan.live or jy not in yplan.live
            real_here = slice_real and xplan.is_real(xplan.taps[jx]) and yplan.is_real(yplan.taps[jy])
            idx = f"{label}{jx}" if one_d else f"{label}{jy}, {jx}"
            if dead:
                dead_d.append(f"M{_n(cx - x)} {_n(cy - x)}l{_n(2 * x)} {_n(2 * x)}m0 {_n(-2 * x)}l{_n(-2 * x)} {_n(2 * x)}")
                what = "dead: reads padding at every position"
            elif real_here:
                live_d.append(_circle(cx, cy, r))
                what = "live: reads real input here"
            else:
                hollow_d.append(_circle(cx, cy, r - 0.5))
                what = "live: padding here, real input at other positions"
            tips.append(f'<rect class="hit" x="{_n(cx - cell / 2)}" y="{_n(cy - cell / 2)}" width="{cell}" height="{cell}"><title>tap ({idx}): {what}</title></rect>')
    if live_d:
        parts.append(f'<path class="t-live" d="{"".join(live_d)}"/>')
    if hollow_d:
        parts.append(f'<path class="t-idle" d="{"".join(hollow_d)}"/>')
    if dead_d:
        parts.append(f'<path class="t-dead" d="{"".join(dead_d)}"/>')
    parts.extend(tips)
    # index labels of the real cells' first and last (input coordinates)
    labels = []
    for c in sorted({xplan.real[0], xplan.real[1] - 1}):
        if c in xl.start:
            labels.append(f'<text class="ax" x="{_n(xl.start[c] + cell / 2)}" y="{yl.end + 11}">{c - xplan.real[0]}</text>')
    if not one_d:
        for c in sorted({yplan.real[0], yplan.real[1] - 1}):
            if c in yl.start:
                labels.append(f'<text class="ax ay" x="{MARGIN_L - 4}" y="{_n(yl.start[c] + cell / 2 + 3.5)}">{c - yplan.real[0]}</text>')
    parts.extend(labels)
    if heading:
        parts.append(f'<text class="sh" x="{MARGIN_L}" y="12">{esc(heading)}</text>')
    width = max(width, MARGIN_L + 7 * len(heading))
    return (
        f'<svg class="taps" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(caption)}"><title>{esc(caption)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def _circle(cx, cy, r) -> str:
    return f"M{_n(cx - r)} {_n(cy)}a{_n(r)} {_n(r)} 0 1 0 {_n(2 * r)} 0a{_n(r)} {_n(r)} 0 1 0 {_n(-2 * r)} 0"


def _zigzag_v(x: float, y0: float, y1: float) -> str:
    d = [f"M{_n(x)} {_n(y0)}"]
    y, side = y0, 1
    while y < y1:
        step = min(4, y1 - y)
        y += step
        d.append(f"L{_n(x + 3 * side)} {_n(y)}")
        side = -side
    return "".join(d)


def _zigzag_h(y: float, x0: float, x1: float) -> str:
    d = [f"M{_n(x0)} {_n(y)}"]
    x, side = x0, 1
    while x < x1:
        step = min(4, x1 - x)
        x += step
        d.append(f"L{_n(x)} {_n(y + 3 * side)}")
        side = -side
    return "".join(d)


def drawn_cells(details, out_spatial=None) -> int:
    """The most cells the diagram of ``details`` draws on one axis."""
    return max(len(p.cells) for p in axis_plans(details, out_spatial))


def tap_figure_svgs(details, out_spatial=None, cell=None):
    """``(svgs, notes)``: one SVG (more for 3-D+ convs, one per slice) and notes
    about what the drawing leaves out.  ``cell``: pixels per cell (default:
    from the canvas size).  Raises :class:`DiagramError`."""
    plans = axis_plans(details, out_spatial)
    if cell is None:
        cell = cell_size(max(len(p.cells) for p in plans))
    rank = len(plans)
    transpose = bool(details.get("transpose"))
    where = "input" if transpose else "output"
    notes = []
    pos = ", ".join(str(p.pos) for p in plans)
    notes.append(f"kernel drawn at the centre {where} position ({pos})")
    if transpose:
        notes.append("the canvas is the output before cropping; blue: the output kept")
    if any(p.windowed for p in plans):
        notes.append("zigzags mark cells left out: the map continues")
    if rank == 1:
        yplan, xplan = _trivial_axis(), plans[0]
        cap = f"taps of a 1-D kernel on a {plans[0].size}-long {'output' if transpose else 'input'}"
        return [_panel(yplan, xplan, True, False, cap, True, "", cell)], notes
    yplan, xplan = plans[-2], plans[-1]
    if rank == 2:
        cap = f"taps of a {fmt_dims([len(yplan.taps), len(xplan.taps)])} kernel on a {fmt_dims([yplan.size, xplan.size])} map"
        return [_panel(yplan, xplan, True, False, cap, False, "", cell)], notes
    lead = plans[:-2]
    choices = [_lead_taps(p) for p in lead]
    combos = list(islice(product(*choices), MAX_SLICES))
    total = 1
    for p in lead:
        total *= len(p.taps)
    if len(combos) < total:
        notes.append(f"{len(combos)} of {total} kernel slices drawn")
    svgs = []
    for combo in combos:
        cells = [p.taps[j] for p, j in zip(lead, combo)]
        slice_real = all(p.is_real(c) for p, c in zip(lead, cells))
        slice_dead = any(j not in p.live for p, j in zip(lead, combo))
        at = ", ".join(str(c - p.real[0]) for p, c in zip(lead, cells))
        state = "dead tap" if slice_dead else "live tap"
        place = "real input" if slice_real else ("cropped" if transpose else "padding")
        label = "".join(f"{j}, " for j in combo)
        cap = f"kernel slice ({', '.join(map(str, combo))}): {state}, reads index ({at}): {place}"
        head = f"tap {', '.join(map(str, combo))} \u2192 {'depth' if len(lead) == 1 else 'index'} {at}: {place}"
        svgs.append(_panel(yplan, xplan, slice_real, slice_dead, cap, False, label, cell, head))
    return svgs, notes


def _lead_taps(p: AxisPlan):
    k = len(p.taps)
    if k <= 5:
        return list(range(k))
    keep = {0, k - 1, k // 2}
    for j in range(1, k):
        if (j in p.live) != (j - 1 in p.live):
            keep.update((j - 1, j))
            if len(keep) >= MAX_SLICES:
                break
    return sorted(keep)


# --------------------------------------------------------------------------- legend


def legend_svg() -> str:
    items = [
        ('<rect class="real" x="2" y="2" width="16" height="16"/>', "real input"),
        ('<rect class="pad" x="2" y="2" width="16" height="16"/>', "zero padding (ConvTranspose: cropped)"),
        ('<path class="t-live" d="M5 10a5 5 0 1 0 10 0a5 5 0 1 0 -10 0"/>', "live tap, reads real input here"),
        ('<path class="t-idle" d="M5.5 10a4.5 4.5 0 1 0 9 0a4.5 4.5 0 1 0 -9 0"/>', "live tap, padding here only"),
        ('<path class="t-dead" d="M5.5 5.5l9 9m0 -9l-9 9"/>', "dead tap: padding everywhere"),
        ('<rect class="foot" x="3" y="3" width="14" height="14"/>', "kernel footprint"),
        ('<path class="brk" d="M10 1L13 5L7 9L13 13L7 17L10 19"/>', "cells left out"),
    ]
    out = []
    for shape, text in items:
        out.append(
            '<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" viewBox="0 0 20 20" aria-hidden="true">'
            f"{shape}</svg>{esc(text)}</span>"
        )
    return "".join(out)
