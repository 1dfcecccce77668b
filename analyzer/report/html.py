"""HTML output: one self-contained page (inline CSS, SVG and a few lines of JS).

Nothing is loaded from anywhere: no fonts, scripts or images from the network,
and a Content-Security-Policy (``default-src 'none'``, the one script and the one
style block allowed by hash) makes sure of it, and stops any markup that a
model's names might smuggle in from running.  Every name from a model is escaped.

What a page shows:

* a summary (files, findings per rule, dead weights) and a legend;
* for a multi-file run, a table of files (click a header to sort);
* per file: its notes, a bar chart of dead weights by layer, one panel per DT002
  group (the branches side by side on the same map, then the one conv they
  reduce to, and the ops around them), one card per DT001 finding (the tap
  diagram, the numbers, and the chain of ops from the one that shrank the map to
  the conv).  How the diagrams are drawn: see :mod:`analyzer.report.html_svg`.

The output is deterministic (no timestamps): the same report gives the same bytes.
"""
from __future__ import annotations

import base64
import hashlib
from math import prod

from analyzer.common import VERSION as __version__

from analyzer.report.html_svg import (
    DiagramError,
    bar_chart_svg,
    cell_size,
    chain_svg,
    defs_svg,
    drawn_cells,
    esc,
    fanout_svg,
    fmt_dims,
    legend_svg,
    short,
    tap_figure_svgs,
)

__all__ = ["render_html"]

MAX_CARDS = 400  # DT001 cards with diagrams per file; further findings are listed in a table
MAX_BARS = 100  # bars in a file's chart; beyond, the largest are drawn and the rest summed

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--live:#1a7f37;--dead:#cf222e;--cause:#bc4c00;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1400px;margin:0 auto;padding:18px 24px 60px}
h1{font-size:24px;margin:0 0 2px}h2{font-size:19px;margin:0}h3{font-size:16px;margin:22px 0 8px}
a{color:var(--accent)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.sub{color:var(--muted);margin:0 0 14px;word-break:break-all}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.stat{border:1px solid var(--line);border-radius:6px;padding:6px 12px;background:var(--soft);min-width:110px}
.stat b{display:block;font-size:20px}.stat span{color:var(--muted);font-size:12px}
.legend{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:12px 0}
.legend summary{cursor:pointer;font-weight:600}
.lg{display:inline-flex;align-items:center;gap:5px;margin:6px 16px 0 0}
.legend p{margin:6px 0 0;color:var(--muted);max-width:1000px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid var(--line);padding:4px 9px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
th{background:var(--soft)}
th button{all:unset;cursor:pointer;font-weight:600}
th button:focus-visible{outline:2px solid var(--accent)}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
section.file{border-top:3px solid var(--line);margin-top:26px;padding-top:14px}
.file h2{word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;margin-left:6px;vertical-align:middle}
.badge.ok{background:#dafbe1;color:#116329}.badge.error{background:#ffebe9;color:#a40e26}.badge.warning{background:#fff8c5;color:#7d4e00}.badge.info{background:#ddf4ff;color:#0550ae}
.err{border:1px solid #ff8182;background:#ffebe9;border-radius:6px;padding:8px 12px}
ul.notes{color:var(--muted);margin:6px 0}
.scroll{max-height:330px;overflow:auto;border:1px solid var(--line);border-radius:6px;padding:6px;display:inline-block;max-width:100%}
.cards{display:flex;flex-direction:column;gap:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}
.card>header{display:flex;flex-wrap:wrap;align-items:baseline;gap:8px}
.card .code{font-weight:700}.card .node{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.card .where{color:var(--muted);font-size:12px}
.msg{margin:6px 0 8px;color:var(--muted);word-break:break-word}
.body{display:flex;flex-wrap:wrap;gap:22px;align-items:flex-start}
figure{margin:0;display:table}figcaption{display:table-caption;caption-side:bottom;color:var(--muted);font-size:12px;margin-top:3px}
figure.tap-diagram{min-width:220px}figure.branch-diagram{min-width:150px}
.tap-diagram .slices{display:flex;flex-wrap:wrap;gap:10px}
dl.nums{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:0;font-size:13px;max-width:400px}
dl.nums dt{color:var(--muted)}dl.nums dd{margin:0;word-break:break-word}
dd .dead{color:var(--dead);font-weight:700}dd .live{color:var(--live);font-weight:700}
.branches{display:flex;flex-wrap:wrap;gap:18px;align-items:center;margin:6px 0 10px}
.equiv{font-size:30px;color:var(--muted);padding:0 4px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
svg .real{fill:#b6e3ff}svg .pad{fill:url(#hatch)}
svg .grid{fill:none;stroke:#8c959f;stroke-width:.6}
svg .edge-real{fill:none;stroke:#0969da;stroke-width:1.6}svg .frame{fill:none;stroke:#6e7781;stroke-width:1}
svg .foot{fill:none;stroke:#6e7781;stroke-width:1.2;stroke-dasharray:3 2}
svg .brk{fill:none;stroke:#57606a;stroke-width:1.3}
svg .t-live{fill:var(--live);stroke:#fff;stroke-width:1}
svg .t-idle{fill:#fff;stroke:var(--live);stroke-width:2}
svg .t-dead{fill:none;stroke:var(--dead);stroke-width:2.6;stroke-linecap:round}
svg .hit{fill:transparent}
svg .sh{font-size:11px;fill:var(--fg)}svg .ax{font-size:9px;fill:var(--muted);text-anchor:middle}svg .ay{text-anchor:end}
svg .box rect{fill:#fff;stroke:#8c959f;stroke-width:1.2}
svg .box.cause rect{fill:#fff1e5;stroke:var(--cause);stroke-width:2}
svg .box.conv rect{fill:#ffebe9;stroke:var(--dead);stroke-width:2}
svg .box.gap rect{fill:var(--soft);stroke-dasharray:4 3}
svg .b1{font-size:11.5px;font-weight:700;fill:var(--fg)}svg .b2{font-size:10.5px;fill:var(--muted)}svg .b3{font-size:10.5px;fill:var(--fg);text-anchor:end}
svg .edge{stroke:#6e7781;stroke-width:1.4;fill:none;marker-end:url(#arrow)}
svg .bar{fill:var(--dead)}svg a:hover .bar{fill:#82071e}
svg .bl{font-size:11px;text-anchor:end;fill:var(--fg)}svg .bv{font-size:10.5px;fill:var(--muted)}
svg.defs{position:absolute;width:0;height:0;overflow:hidden}
@media print{.scroll{max-height:none}}
"""

_JS = """(function(){
function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.trim():v;}
document.querySelectorAll('table.sortable').forEach(function(t){
var ths=t.tHead.rows[0].cells;
Array.prototype.forEach.call(ths,function(th,i){
var b=th.querySelector('button');if(!b)return;
b.addEventListener('click',function(){
var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows),num=th.classList.contains('n');
var asc=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(ths,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);var c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);return asc?c:-c;});
rows.forEach(function(r){tb.appendChild(r);});
});});});
})();"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _csp() -> str:
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{_sha256(_CSS)}'; "
        f"script-src 'sha256-{_sha256(_JS)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _num(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


def _pct(part, whole) -> str:
    if not isinstance(part, int) or not isinstance(whole, int) or not whole:
        return ""
    return f" ({100 * part / whole:.1f}%)"


def _share(part, whole) -> str:
    return f"{100 * part / whole:.2f}%" if whole else ""


def _int(v) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _pads(p) -> str:
    if not isinstance(p, (list, tuple)):
        return "?"
    return "[" + ", ".join(str(x) for x in p) + "]"


def _where(f) -> str:
    return "" if f.graph == "main" else f.graph


# --------------------------------------------------------------------------- page


def render_html(report) -> str:
    files = list(report.files)
    findings = [f for fr in files for f in fr.findings]
    by_rule: dict = {}
    for f in findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    n_err = sum(1 for fr in files if fr.status == "error")
    dead = sum(_int(f.details.get("dead_weights")) for f in findings if f.waste)
    dead_bytes = sum(_int(f.details.get("dead_bytes")) for f in findings if f.waste)
    if len(files) == 1:
        title = f"onnxlint report: {files[0].path}"
        sub = files[0].path
    else:
        title = f"onnxlint report: {len(files)} files"
        sub = f"{len(files)} files"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_csp())}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        defs_svg(),
        "<main>",
        "<h1>onnxlint report</h1>",
        f'<p class="sub">{esc(sub)} &middot; onnxlint {esc(__version__)}</p>',
        '<div class="stats">',
        _stat(len(files), "files checked"),
        _stat(len(findings), "findings"),
    ]
    for rule in sorted(by_rule):
        out.append(_stat(by_rule[rule], rule))
    out.append(_stat(dead, "dead weights", extra=f"{dead_bytes:,} bytes" if dead_bytes else ""))
    if n_err:
        out.append(_stat(n_err, "could not be analyzed"))
    out.append("</div>")
    out.append(_legend())
    if len(files) > 1:
        out.append(_files_table(files))
    for i, fr in enumerate(files):
        out.append(_file_section(i, fr, single=len(files) == 1))
    out.append(f"</main><script>{_JS}</script></body></html>\n")
    return "\n".join(out)


def _stat(value, label, extra="") -> str:
    more = f"<span>{esc(extra)}</span>" if extra else ""
    return f'<div class="stat"><b>{esc(_num(value))}</b><span>{esc(label)}</span>{more and "<br>" + more}</div>'


def _legend() -> str:
    return (
        '<details class="legend" open><summary>How to read the tap diagrams</summary>'
        f"<div>{legend_svg()}</div>"
        "<p>Each DT001 diagram is the map a conv reads, drawn to scale in cells: the input (blue) "
        "surrounded by its zero padding (hatched), with the kernel's taps where they land at the "
        "centre output position (for a ConvTranspose: the output before cropping, where the centre "
        "input position writes; the cropped margins are hatched). A dead tap lands in padding at "
        "every output position; its weights can never touch real data. Huge maps are drawn as a "
        "window around the kernel (a zigzag marks cells left out); 1-D convs are one row; 3-D convs "
        "get one panel per depth tap of the kernel. Hover a tap or a box for details.</p></details>"
    )


def _files_table(files) -> str:
    head = (
        '<table class="sortable files"><thead><tr>'
        '<th><button type="button">file</button></th><th><button type="button">status</button></th>'
        '<th class="n"><button type="button">findings</button></th><th class="n"><button type="button">DT001</button></th>'
        '<th class="n"><button type="button">DT002</button></th><th class="n"><button type="button">dead weights</button></th>'
        '<th class="n"><button type="button">% of model</button></th>'
        "</tr></thead><tbody>"
    )
    rows = []
    for i, fr in enumerate(files):
        n1 = sum(1 for f in fr.findings if f.rule == "DT001")
        n2 = sum(1 for f in fr.findings if f.rule == "DT002")
        dw = sum(_int(f.details.get("dead_weights")) for f in fr.findings if f.waste)
        status = "ok" if fr.status == "ok" else f"error: {(fr.error or {}).get('kind', '?')}"
        weights = _int((getattr(fr, "stats", None) or {}).get("weights"))
        share = 100 * dw / weights if weights else None
        rows.append(
            f'<tr><td data-v="{esc(fr.path)}"><a href="#file-{i}">{esc(fr.path)}</a></td>'
            f'<td data-v="{esc(status)}"><span class="badge {"ok" if fr.status == "ok" else "error"}">{esc(status)}</span></td>'
            f'<td class="n" data-v="{len(fr.findings)}">{len(fr.findings):,}</td>'
            f'<td class="n" data-v="{n1}">{n1:,}</td><td class="n" data-v="{n2}">{n2:,}</td>'
            f'<td class="n" data-v="{dw}">{dw:,}</td>'
            f'<td class="n" data-v="{share if share is not None else -1:.6g}">{"" if share is None else f"{share:.2f}%"}</td></tr>'
        )
    return "<h3>Files</h3>" + head + "".join(rows) + "</tbody></table>"


# --------------------------------------------------------------------------- one file


def _file_section(i, fr, single) -> str:
    out = [f'<section class="file" id="file-{i}">']
    badge = "ok" if fr.status == "ok" else "error"
    out.append(f'<h2>{esc(fr.path)}<span class="badge {badge}">{esc(fr.status)}</span></h2>')
    if fr.status == "error":
        err = fr.error or {}
        out.append(
            f'<p class="err"><b>could not be analyzed</b> ({esc(err.get("kind", "?"))}): {esc(err.get("message", ""))}</p>'
        )
    dt001 = [f for f in fr.findings if f.waste]
    dt002 = [f for f in fr.findings if f.rule == "DT002"]
    others = [f for f in fr.findings if f.rule not in ("DT001", "DT002")]
    if fr.status == "ok":
        dead = sum(_int(f.details.get("dead_weights")) for f in dt001)
        total = sum(_int(f.details.get("total_weights")) for f in dt001)
        dead_bytes = sum(_int(f.details.get("dead_bytes")) for f in dt001)
        out.append('<div class="stats">')
        if not single:
            out.append(_stat(len(fr.findings), "findings"))
        out.append(_stat(len(dt001), "convs with dead taps (DT001)"))
        out.append(_stat(len(dt002), "collapsed branch groups (DT002)"))
        out.append(_stat(dead, "dead weights", extra=f"of {total:,} in those convs{_pct(dead, total)}" if total else ""))
        model_weights = _int((getattr(fr, "stats", None) or {}).get("weights"))
        if model_weights:
            out.append(_stat(model_weights, "weights in the model", extra=f"{_share(dead, model_weights)} dead"))
        if dead_bytes:
            out.append(_stat(dead_bytes, "dead bytes"))
        out.append("</div>")
        if not fr.findings:
            out.append("<p>No findings.</p>")
    if fr.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in fr.notes) + "</ul>")
    ids = {id(f): f"f{i}-{k}" for k, f in enumerate(fr.findings)}
    if dt001:
        out.append("<h3>Dead weights by layer</h3>")
        out.append(_bars(dt001, ids))
    by_node = {(f.graph, f.node): f for f in dt001}
    if dt002:
        out.append(f"<h3>Collapsed multi-scale branches (DT002): {len(dt002)}</h3>")
        out.append('<div class="cards">')
        out.extend(_dt002_panel(f, ids[id(f)], by_node) for f in dt002)
        out.append("</div>")
    if dt001:
        out.append(f"<h3>Convs with dead taps (DT001): {len(dt001)}</h3>")
        out.append('<div class="cards">')
        out.extend(_dt001_card(f, ids[id(f)]) for f in dt001[:MAX_CARDS])
        out.append("</div>")
        if len(dt001) > MAX_CARDS:
            out.append(f"<p>{len(dt001) - MAX_CARDS:,} more DT001 findings, without diagrams:</p>")
            out.append(_plain_table(dt001[MAX_CARDS:], ids))
    if others:
        out.append("<h3>Other findings</h3>")
        out.append(_plain_table(others, ids))
    out.append("</section>")
    return "\n".join(out)


def _plain_table(findings, ids) -> str:
    rows = "".join(
        f'<tr id="{ids[id(f)]}"><td>{esc(f.rule)}</td><td>{esc(f.severity)}</td><td class="mono">{esc(f.node)}</td>'
        f"<td>{esc(f.message)}</td></tr>"
        for f in findings
    )
    return "<table><thead><tr><th>rule</th><th>severity</th><th>node</th><th>message</th></tr></thead><tbody>" + rows + "</tbody></table>"


def _bars(dt001, ids) -> str:
    items = [
        (f.node, _int(f.details.get("dead_weights")), f"#{ids[id(f)]}",
         f"{f.node}: {_int(f.details.get('dead_weights')):,} of {_int(f.details.get('total_weights')):,} weights dead")
        for f in dt001
    ]
    note = ""
    if len(items) > MAX_BARS:
        ranked = sorted(range(len(items)), key=lambda k: -items[k][1])
        keep = sorted(ranked[:MAX_BARS])
        rest = [items[k] for k in ranked[MAX_BARS:]]
        items = [items[k] for k in keep]
        note = f'<p class="sub">the {MAX_BARS} layers with the most dead weights, in graph order; {len(rest):,} more layers hold {sum(v for _, v, _, _ in rest):,}</p>'
    return f'<div class="scroll">{bar_chart_svg(items, "dead weights by layer")}</div>{note}'


def _header(f, anchor_title) -> str:
    where = _where(f)
    return (
        f'<header><span class="code">{esc(f.rule)}</span><span class="badge {esc(f.severity)}">{esc(f.severity)}</span>'
        f'<span class="node">{esc(f.node)}</span>'
        + (f'<span class="where">in {esc(where)}</span>' if where else "")
        + f'<span class="where">{esc(anchor_title)}</span></header>'
        f'<p class="msg">{esc(f.message)}</p>'
    )


def _out_spatial(details):
    path = details.get("path_from_cause")
    if isinstance(path, list) and path and isinstance(path[-1], dict):
        shape = path[-1].get("shape")
        if isinstance(shape, list) and len(shape) > 2:
            return shape[2:]
    return None


def _taps_figure(details, cls, caption_extra="") -> str:
    try:
        svgs, notes = tap_figure_svgs(details, _out_spatial(details))
    except DiagramError as e:
        return f'<figure class="{cls} none"><figcaption>no diagram: {esc(e)}</figcaption></figure>'
    inner = svgs[0] if len(svgs) == 1 else '<div class="slices">' + "".join(svgs) + "</div>"
    cap = "; ".join(notes)
    if caption_extra:
        cap = caption_extra + ("; " + cap if cap else "")
    return f'<figure class="{cls}" data-rule="DT001">{inner}<figcaption>{esc(cap)}</figcaption></figure>'


def _dt001_card(f, anchor) -> str:
    d = f.details
    kernel = d.get("kernel_shape") or []
    per_axis = d.get("live_taps_per_axis")
    taps_total = prod(kernel) if kernel and all(isinstance(k, int) for k in kernel) else None
    taps_live = prod(len(a) for a in per_axis) if isinstance(per_axis, list) and per_axis else None
    rows = []
    dw, tw = d.get("dead_weights"), d.get("total_weights")
    rows.append(("dead weights", f'<span class="dead">{esc(_num(dw))}</span> of {esc(_num(tw))}{esc(_pct(dw, tw))}'))
    if taps_total is not None and taps_live is not None:
        rows.append(("dead taps", f'<span class="dead">{taps_total - taps_live:,}</span> of {taps_total:,} (live: <span class="live">{taps_live:,}</span>)'))
    kind = "ConvTranspose " if d.get("transpose") else ""
    rows.append(("kernel", esc(f"{kind}{fmt_dims(kernel)}, dilation {fmt_dims(d.get('dilations'))}, stride {fmt_dims(d.get('strides'))}")))
    pads = _pads(d.get("pads"))
    if d.get("pad_node"):
        pads += f" (includes Pad node {d.get('pad_node')})"
    rows.append(("pads", esc(pads)))
    if d.get("transpose"):
        rows.append(("input map", esc(f"{fmt_dims(d.get('input_spatial_shape'))} (output {fmt_dims(_out_spatial(d))})")))
    else:
        rows.append(("input map", esc(fmt_dims(d.get("input_spatial_shape")))))
    if _int(d.get("group")) > 1:
        rows.append(("group", esc(d.get("group"))))
    rows.append((
        "equivalent",
        esc(f"{fmt_dims(d.get('effective_kernel_shape'))} kernel, dilation {fmt_dims(d.get('effective_dilations'))}, "
            f"pads {_pads(d.get('effective_pads'))}"),
    ))
    cause = d.get("cause")
    if isinstance(cause, dict):
        rows.append(("made small by", esc(f"{cause.get('op_type')} {cause.get('node')}")))
    else:
        rows.append(("made small by", "the graph input's size"))
    if d.get("weight"):
        rows.append(("weight", f'<span class="mono">{esc(short(d.get("weight"), 60))}</span> ({esc(d.get("weight_source", "?"))})'))
    if d.get("dead_bytes"):
        rows.append(("dead bytes", esc(_num(d.get("dead_bytes")))))
    nums = '<dl class="nums">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"
    return (
        f'<article class="card dt001" id="{anchor}">'
        + _header(f, "")
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


# --------------------------------------------------------------------------- DT002


def _dt002_panel(f, anchor, dt001_by_node) -> str:
    d = f.details
    branches = [b for b in (d.get("branches") or []) if isinstance(b, dict)]
    transpose = f.op_type == "ConvTranspose"
    siblings = [dt001_by_node.get((f.graph, b.get("node"))) for b in branches]
    known = next((s for s in siblings if s is not None), None)
    spatial = known.details.get("input_spatial_shape") if known is not None else None
    out_sp = _out_spatial(known.details) if known is not None else None
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
            f"pads {_pads(b.get('pads'))}, {b.get('out_channels', '?')} out channels"
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
        f"pads {_pads(eff_pads)}, {d.get('merged_out_channels', '?')} out channels"
    )
    if clamped != list(eff_pads):
        eff_cap += " (negative pads crop the input; drawn without the crop)"
    cell = _common_cell([bd for bd, _ in figs] + [eff], out_sp) if spatial is not None else None
    body = '<div class="branches">' + "".join(_branch_figure(bd, out_sp, cap, spatial, cell) for bd, cap in figs)
    body += '<div class="equiv" aria-hidden="true">&equiv;</div>'
    body += _branch_figure(eff, out_sp, eff_cap, spatial, cell, effective=True) + "</div>"
    if spatial is None:
        body = (
            "<p>No diagrams: the map size is known from DT001 findings of the branches, and there are none "
            "(select DT001 too).</p>" + body
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
        ("effective kernel", esc(f"{fmt_dims(d.get('effective_kernel_shape'))}, dilation {fmt_dims(d.get('effective_dilations'))}, pads {_pads(eff_pads)}")),
        ("merged out channels", esc(d.get("merged_out_channels", "?"))),
    ]
    if d.get("concat"):
        nums.append(("feeds", esc(f"Concat {d.get('concat')}")))
    dl = '<dl class="nums">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in nums) + "</dl>"
    return (
        f'<section class="card dt002" id="{anchor}">'
        + _header(f, "")
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
