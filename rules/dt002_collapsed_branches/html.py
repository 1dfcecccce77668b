"""DT002 in the HTML report: one panel per group of collapsed branches (the branches
side by side on the same map, then the one conv they reduce to, and the ops around
them).  The tap diagrams are DT001's (:mod:`rules.dt001_dead_conv_taps.html_taps`),
and the map size comes from the branches' DT001 findings.  Called through
:func:`rules.dt002_collapsed_branches.html_section` (see
:mod:`analyzer.render.section` for the hook's contract)."""
from __future__ import annotations

from analyzer.render.markup import esc, fmt_dims, pads, short
from analyzer.render.section import HtmlSection
from analyzer.render.svg import fanout_svg
from rules.dt001_dead_conv_taps import CODE as DT001
from rules.dt001_dead_conv_taps.html import (
    LEGEND,
    TAP_CSS,
    TAP_SVG_CSS,
    dead_everywhere,
    out_spatial,
)
from rules.dt001_dead_conv_taps.html_taps import (
    DiagramError,
    cell_size,
    drawn_cells,
    tap_figure_svgs,
)

from . import CODE

__all__ = ["BRANCH_CSS", "html_section"]

BRANCH_CSS = """.branches{display:flex;flex-wrap:wrap;gap:18px;align-items:center;margin:6px 0 10px}
.equiv{font-size:30px;color:var(--muted);padding:0 4px}
"""


def html_section(findings, all_findings, page) -> HtmlSection:
    out = []
    if findings:
        by_node = {(f.graph, f.node): f for f in all_findings if dead_everywhere(f)}
        out.append(f"<h3>Collapsed multi-scale branches ({CODE}): {len(findings)}</h3>")
        out.append('<div class="cards">')
        out.extend(_panel(f, page, by_node) for f in findings)
        out.append("</div>")
    return HtmlSection(
        stats=[(len(findings), f"collapsed branch groups ({CODE})")],
        html="\n".join(out),
        # the panels sum up the convs whose cards follow: they come first
        order=-1,
        css=(TAP_CSS, BRANCH_CSS, TAP_SVG_CSS),
        legend=(LEGEND,),
    )


def _panel(f, page, dt001_by_node) -> str:
    d = f.details
    branches = [b for b in (d.get("branches") or []) if isinstance(b, dict)]
    transpose = f.op_type == "ConvTranspose"
    siblings = [dt001_by_node.get((f.graph, b.get("node"))) for b in branches]
    known = next((s for s in siblings if s is not None), None)
    spatial = known.details.get("input_spatial_shape") if known is not None else None
    out_sp = out_spatial(known.details) if known is not None else None
    figs = []
    for b, s in zip(branches, siblings):
        if s is not None:
            bd = s.details
        else:
            bd = {
                "kernel_shape": b.get("kernel_shape"),
                "input_spatial_shape": spatial,
                "strides": d.get("strides"),
                "dilations": b.get("dilations"),
                "pads": b.get("pads"),
                "transpose": transpose,
            }
        cap = (
            f"{short(b.get('node'), 40)}: {fmt_dims(b.get('kernel_shape'))}, dilation {fmt_dims(b.get('dilations'))}, "
            f"pads {pads(b.get('pads'))}, {b.get('out_channels', '?')} out channels"
        )
        figs.append((bd, cap))
    eff_pads = d.get("effective_pads") or []
    clamped = [max(0, p) if isinstance(p, int) else p for p in eff_pads]
    eff = {
        "kernel_shape": d.get("effective_kernel_shape"),
        "input_spatial_shape": spatial,
        "strides": d.get("strides"),
        "dilations": d.get("effective_dilations"),
        "pads": clamped,
        "transpose": transpose,
    }
    eff_cap = (
        f"all of them: one {fmt_dims(d.get('effective_kernel_shape'))} conv, dilation {fmt_dims(d.get('effective_dilations'))}, "
        f"pads {pads(eff_pads)}, {d.get('merged_out_channels', '?')} out channels"
    )
    if clamped != list(eff_pads):
        eff_cap += " (negative pads crop the input; drawn without the crop)"
    cell = _common_cell([bd for bd, _ in figs] + [eff], out_sp) if spatial is not None else None
    body = '<div class="branches">' + "".join(_branch_figure(bd, out_sp, cap, spatial, cell) for bd, cap in figs)
    body += '<div class="equiv" aria-hidden="true">&equiv;</div>'
    body += _branch_figure(eff, out_sp, eff_cap, spatial, cell, effective=True) + "</div>"
    if spatial is None:
        body = (
            f"<p>No diagrams: the map size is known from {DT001} findings of the branches, and there are none "
            f"(select {DT001} too).</p>" + body
        )
    prefix = []
    if known is not None:
        path = known.details.get("path_from_cause")
        if isinstance(path, list):
            prefix = [dict(p) for p in path[:-1] if isinstance(p, dict)]
    if not prefix and d.get("input"):
        prefix = [{"node": d.get("input"), "op_type": "tensor", "shape": None}]
    boxes = []
    for b, s in zip(branches, siblings):
        shape = None
        if s is not None:
            p = s.details.get("path_from_cause")
            if isinstance(p, list) and p and isinstance(p[-1], dict):
                shape = p[-1].get("shape")
        boxes.append({"node": b.get("node"), "op_type": f.op_type, "shape": shape})
    concat = {"node": d.get("concat"), "op_type": "Concat", "shape": None} if d.get("concat") else None
    cause = known.details.get("cause") if known is not None else None
    cause_name = cause.get("node") if isinstance(cause, dict) else None
    gcap = f"the branches read the same tensor {d.get('input')}"
    graph = fanout_svg(prefix, boxes, concat, cause_name, gcap)
    nums = [
        ("branches", esc(len(branches))),
        ("shared input", f'<span class="mono">{esc(d.get("input"))}</span>'),
        ("effective kernel", esc(f"{fmt_dims(d.get('effective_kernel_shape'))}, dilation {fmt_dims(d.get('effective_dilations'))}, pads {pads(eff_pads)}")),
        ("merged out channels", esc(d.get("merged_out_channels", "?"))),
    ]
    if d.get("concat"):
        nums.append(("feeds", esc(f"Concat {d.get('concat')}")))
    dl = '<dl class="nums">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in nums) + "</dl>"
    return (
        f'<section class="card {CODE.lower()}" id="{page.anchor(f)}">'
        + page.card_header(f)
        + body
        + '<div class="body">'
        + dl
        + f'<figure class="neighbourhood">{graph}<figcaption>{esc(gcap)}</figcaption></figure>'
        + "</div></section>"
    )


def _common_cell(all_details, out_sp):
    """One cell size for every diagram of a group, so the maps compare at a glance."""
    most = 1
    for d in all_details:
        try:
            most = max(most, drawn_cells(d, out_sp))
        except DiagramError:
            pass
    return cell_size(most)


def _branch_figure(details, out_sp, caption, spatial, cell, effective=False) -> str:
    cls = "branch-diagram effective" if effective else "branch-diagram"
    if spatial is None:
        return f'<figure class="{cls} none"><figcaption>{esc(caption)}</figcaption></figure>'
    try:
        svgs, _notes = tap_figure_svgs(details, out_sp, cell)
    except DiagramError as e:
        return f'<figure class="{cls} none"><figcaption>{esc(caption)}; no diagram: {esc(e)}</figcaption></figure>'
    inner = svgs[0] if len(svgs) == 1 else '<div class="slices">' + "".join(svgs) + "</div>"
    return f'<figure class="{cls}">{inner}<figcaption>{esc(caption)}</figcaption></figure>'
