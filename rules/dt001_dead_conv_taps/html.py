"""DT001 in the HTML report: one card per conv with dead taps (the tap diagram, the
numbers, and the chain of ops from the one that shrank the map to the conv), the
legend of the tap diagrams, and their stylesheet.  How the diagrams are drawn:
:mod:`.html_taps`.  Called through :func:`rules.dt001_dead_conv_taps.html_section`
(see :mod:`analyzer.render.section` for the hook's contract)."""
from __future__ import annotations

from math import prod

from analyzer.render.markup import as_int, esc, fmt_dims, num, pads, pct, short
from analyzer.render.section import HtmlSection
from analyzer.render.svg import chain_svg

from . import CODE
from .html_taps import DiagramError, legend_svg, tap_figure_svgs

__all__ = ["LEGEND", "TAP_CSS", "TAP_SVG_CSS", "dead_everywhere", "html_section", "out_spatial"]

# The figures and number lists of tap-diagram cards (DT002's panels use them too).
TAP_CSS = """figure.tap-diagram{min-width:220px}figure.branch-diagram{min-width:150px}
.tap-diagram .slices{display:flex;flex-wrap:wrap;gap:10px}
dl.nums{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:0;font-size:13px;max-width:400px}
dl.nums dt{color:var(--muted)}dl.nums dd{margin:0;word-break:break-word}
dd .dead{color:var(--dead);font-weight:700}dd .live{color:var(--live);font-weight:700}
"""

# The cells and tap markers inside a tap diagram.
TAP_SVG_CSS = """svg .real{fill:#b6e3ff}svg .pad{fill:url(#hatch)}
svg .grid{fill:none;stroke:#8c959f;stroke-width:.6}
svg .edge-real{fill:none;stroke:#0969da;stroke-width:1.6}svg .frame{fill:none;stroke:#6e7781;stroke-width:1}
svg .foot{fill:none;stroke:#6e7781;stroke-width:1.2;stroke-dasharray:3 2}
svg .brk{fill:none;stroke:#57606a;stroke-width:1.3}
svg .t-live{fill:var(--live);stroke:#fff;stroke-width:1}
svg .t-idle{fill:#fff;stroke:var(--live);stroke-width:2}
svg .t-dead{fill:none;stroke:var(--dead);stroke-width:2.6;stroke-linecap:round}
svg .hit{fill:transparent}
svg .sh{font-size:11px;fill:var(--fg)}svg .ax{font-size:9px;fill:var(--muted);text-anchor:middle}svg .ay{text-anchor:end}
"""

LEGEND = (
    '<details class="legend" open><summary>How to read the tap diagrams</summary>'
    f"<div>{legend_svg()}</div>"
    f"<p>Each {CODE} diagram is the map a conv reads, drawn to scale in cells: the input (blue) "
    "surrounded by its zero padding (hatched), with the kernel's taps where they land at the "
    "centre output position (for a ConvTranspose: the output before cropping, where the centre "
    "input position writes; the cropped margins are hatched). A dead tap lands in padding at "
    "every output position; its weights can never touch real data. Huge maps are drawn as a "
    "window around the kernel (a zigzag marks cells left out); 1-D convs are one row; 3-D convs "
    "get one panel per depth tap of the kernel. Hover a tap or a box for details.</p></details>"
)


def dead_everywhere(f) -> bool:
    """A finding of this rule whose taps are dead at the size analyzed, not only at
    some input sizes (``details.condition``): the ones with a card and a diagram."""
    return f.rule == CODE and not f.details.get("condition")


def html_section(findings, all_findings, page) -> HtmlSection:
    cards = [f for f in findings if dead_everywhere(f)]
    conditional = [f for f in findings if not dead_everywhere(f)]
    out = []
    if cards:
        limit = page.max_cards
        out.append(f"<h3>Convs with dead taps ({CODE}): {len(cards)}</h3>")
        out.append('<div class="cards">')
        out.extend(_card(f, page) for f in cards[:limit])
        out.append("</div>")
        if len(cards) > limit:
            out.append(f"<p>{len(cards) - limit:,} more {CODE} findings, without diagrams:</p>")
            out.append(page.table(cards[limit:]))
    if conditional:
        out.append(f"<h3>Convs with dead taps at some input sizes ({CODE}): {len(conditional)}</h3>")
        out.append(page.table(conditional))
    return HtmlSection(
        stats=[(len(cards), f"convs with dead taps ({CODE})")],
        html="\n".join(out),
        css=(TAP_CSS, TAP_SVG_CSS),
        legend=(LEGEND,),
        node_weights={id(f): as_int(f.details.get("total_weights")) for f in cards},
        node_kind="convs",
    )


def out_spatial(details):
    """The conv's output spatial shape, from the last entry of ``path_from_cause``."""
    path = details.get("path_from_cause")
    if isinstance(path, list) and path and isinstance(path[-1], dict):
        shape = path[-1].get("shape")
        if isinstance(shape, list) and len(shape) > 2:
            return shape[2:]
    return None


def _taps_figure(details, cls, caption_extra="") -> str:
    try:
        svgs, notes = tap_figure_svgs(details, out_spatial(details))
    except DiagramError as e:
        return f'<figure class="{cls} none"><figcaption>no diagram: {esc(e)}</figcaption></figure>'
    inner = svgs[0] if len(svgs) == 1 else '<div class="slices">' + "".join(svgs) + "</div>"
    cap = "; ".join(notes)
    if caption_extra:
        cap = caption_extra + ("; " + cap if cap else "")
    return f'<figure class="{cls}" data-rule="{CODE}">{inner}<figcaption>{esc(cap)}</figcaption></figure>'


def _card(f, page) -> str:
    d = f.details
    kernel = d.get("kernel_shape") or []
    per_axis = d.get("live_taps_per_axis")
    taps_total = prod(kernel) if kernel and all(isinstance(k, int) for k in kernel) else None
    taps_live = prod(len(a) for a in per_axis) if isinstance(per_axis, list) and per_axis else None
    rows = []
    dw, tw = d.get("dead_weights"), d.get("total_weights")
    rows.append(("dead weights", f'<span class="dead">{esc(num(dw))}</span> of {esc(num(tw))}{esc(pct(dw, tw))}'))
    if taps_total is not None and taps_live is not None:
        rows.append(("dead taps", f'<span class="dead">{taps_total - taps_live:,}</span> of {taps_total:,} (live: <span class="live">{taps_live:,}</span>)'))
    kind = "ConvTranspose " if d.get("transpose") else ""
    rows.append(("kernel", esc(f"{kind}{fmt_dims(kernel)}, dilation {fmt_dims(d.get('dilations'))}, stride {fmt_dims(d.get('strides'))}")))
    pad_text = pads(d.get("pads"))
    if d.get("pad_node"):
        pad_text += f" (includes Pad node {d.get('pad_node')})"
    rows.append(("pads", esc(pad_text)))
    if d.get("transpose"):
        rows.append(("input map", esc(f"{fmt_dims(d.get('input_spatial_shape'))} (output {fmt_dims(out_spatial(d))})")))
    else:
        rows.append(("input map", esc(fmt_dims(d.get("input_spatial_shape")))))
    if as_int(d.get("group")) > 1:
        rows.append(("group", esc(d.get("group"))))
    rows.append((
        "equivalent",
        esc(f"{fmt_dims(d.get('effective_kernel_shape'))} kernel, dilation {fmt_dims(d.get('effective_dilations'))}, "
            f"pads {pads(d.get('effective_pads'))}"),
    ))
    cause = d.get("cause")
    if isinstance(cause, dict):
        rows.append(("made small by", esc(f"{cause.get('op_type')} {cause.get('node')}")))
    else:
        rows.append(("made small by", "the graph input's size"))
    if d.get("weight"):
        rows.append(("weight", f'<span class="mono">{esc(short(d.get("weight"), 60))}</span> ({esc(d.get("weight_source", "?"))})'))
    if d.get("dead_bytes"):
        rows.append(("dead bytes", esc(num(d.get("dead_bytes")))))
    nums = '<dl class="nums">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"
    return (
        f'<article class="card {CODE.lower()}" id="{page.anchor(f)}">'
        + page.card_header(f)
        + '<div class="body">'
        + _taps_figure(d, "tap-diagram")
        + nums
        + _neighbourhood(d, f)
        + "</div></article>"
    )


def _neighbourhood(d, f) -> str:
    path = d.get("path_from_cause")
    if not isinstance(path, list) or not path:
        path = [{"node": f.node, "op_type": f.op_type, "shape": None}]
    nodes = [dict(p) for p in path if isinstance(p, dict)]
    if d.get("pad_node") and nodes:
        nodes.insert(len(nodes) - 1, {"node": d.get("pad_node"), "op_type": "Pad", "shape": None})
    cause = d.get("cause")
    cause_name = cause.get("node") if isinstance(cause, dict) else None
    if cause_name is not None:
        cap = "from the op that made the map small to the conv, with output shapes"
    else:
        cap = "the map size comes from the graph input"
    return f'<figure class="neighbourhood">{chain_svg(nodes, cause_name, cap)}<figcaption>{esc(cap)}</figcaption></figure>'
