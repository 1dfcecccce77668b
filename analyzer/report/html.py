"""HTML output: one self-contained page (inline CSS, SVG and a few lines of JS).

Nothing is loaded from anywhere: no fonts, scripts or images from the network,
and a Content-Security-Policy (``default-src 'none'``, the one script and the one
style block allowed by hash) makes sure of it, and stops any markup that a
model's names might smuggle in from running.  Every name from a model is escaped.

What a page shows:

* a summary (files, findings per rule, dead weights) and the legends the rules'
  sections need;
* for a multi-file run, a table of files, a column per rule with findings (click a
  header to sort);
* per file: its stats, what was not checked (a "Not checked" block: every coverage
  record, whether or not a rule reports it as a finding), its notes, a bar chart of dead weights by layer (each
  finding's generic ``waste``), then each rule's own section.

This page knows no rule.  A rule that wants more than a row in the findings table
defines ``html_section(findings, all_findings, page)`` (the contract:
:mod:`analyzer.render.section`); the page calls it through the rule registry for
every rule and every analyzed file, in rule order, and lists the findings of rules
without one in a generic table.

The output is deterministic (no timestamps): the same report gives the same bytes.
"""
from __future__ import annotations

import base64
import hashlib

from analyzer.common import VERSION as __version__
from analyzer.render.markup import as_int, esc, num, pct, share
from analyzer.render.section import HtmlSection
from analyzer.render.svg import bar_chart_svg, defs_svg

__all__ = ["render_html"]

MAX_CARDS = 400  # cards with diagrams per rule and file (``page.max_cards``); further findings go in a table
MAX_BARS = 100  # bars in a file's chart; beyond, the largest are drawn and the rest summed

# The page's own stylesheet; the rules' chunks (``HtmlSection.css``) go between the two parts.
_CSS_HEAD = """
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
.unchecked{border:1px solid #54aeff;background:#ddf4ff;border-radius:6px;padding:6px 12px;margin:8px 0}
.unchecked ul{margin:4px 0}
.scroll{max-height:330px;overflow:auto;border:1px solid var(--line);border-radius:6px;padding:6px;display:inline-block;max-width:100%}
.cards{display:flex;flex-direction:column;gap:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}
.card>header{display:flex;flex-wrap:wrap;align-items:baseline;gap:8px}
.card .code{font-weight:700}.card .node{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.card .where{color:var(--muted);font-size:12px}
.msg{margin:6px 0 8px;color:var(--muted);word-break:break-word}
.body{display:flex;flex-wrap:wrap;gap:22px;align-items:flex-start}
figure{margin:0;display:table}figcaption{display:table-caption;caption-side:bottom;color:var(--muted);font-size:12px;margin-top:3px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
"""

_CSS_TAIL = """svg .box rect{fill:#fff;stroke:#8c959f;stroke-width:1.2}
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


def _csp(css: str) -> str:
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{_sha256(css)}'; "
        f"script-src 'sha256-{_sha256(_JS)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _where(f) -> str:
    return "" if f.graph == "main" else f.graph


def _weights(f) -> int:
    return as_int(f.waste.get("weights"))


def _has_waste(f) -> bool:
    """A finding that wastes weights (a rule's explicit 0 draws no bar)."""
    w = f.waste.get("weights")
    return isinstance(w, int) and w > 0


def _unique(chunks):
    seen, out = set(), []
    for c in chunks:
        if c and c not in seen:
            seen.add(c)
            out.append(c)
    return out


# --------------------------------------------------------------------------- rule hooks


def _rule_order(codes):
    """Every rule's code in rule order (the registry's; each rule's hook runs for every
    file, findings or not, so every file shows the same tiles), then the codes in
    ``codes`` that the registry does not know, sorted."""
    from analyzer.linter.registry import rule_codes

    order = rule_codes()
    return order + sorted(c for c in codes if c not in order)


def _hook(code):
    """The rule's ``html_section``, or None (no such hook, or no such rule)."""
    from analyzer.linter.registry import get_rule

    try:
        rule = get_rule(code)
    except KeyError:
        return None
    return getattr(rule, "html_section", None)


class _Page:
    """What a rule's hook may use for one file (see :mod:`analyzer.render.section`)."""

    def __init__(self, index: int, fr, single: bool):
        self.index = index
        self.path = fr.path
        self.single = single
        self.max_cards = MAX_CARDS
        self._ids = {id(f): f"f{index}-{k}" for k, f in enumerate(fr.findings)}

    def anchor(self, f) -> str:
        return self._ids[id(f)]

    def card_header(self, f, note: str = "") -> str:
        where = _where(f)
        return (
            f'<header><span class="code">{esc(f.rule)}</span><span class="badge {esc(f.severity)}">{esc(f.severity)}</span>'
            f'<span class="node">{esc(f.node)}</span>'
            + (f'<span class="where">in {esc(where)}</span>' if where else "")
            + f'<span class="where">{esc(note)}</span></header>'
            f'<p class="msg">{esc(f.message)}</p>'
        )

    def table(self, findings) -> str:
        rows = "".join(
            f'<tr id="{self.anchor(f)}"><td>{esc(f.rule)}</td><td>{esc(f.severity)}</td><td class="mono">{esc(f.node)}</td>'
            f"<td>{esc(f.message)}</td></tr>"
            for f in findings
        )
        return "<table><thead><tr><th>rule</th><th>severity</th><th>node</th><th>message</th></tr></thead><tbody>" + rows + "</tbody></table>"


class _FileView:
    """One analyzed file: the rules' sections (in rule order) and the findings of rules without one."""

    def __init__(self, index: int, fr, codes, single: bool):
        self.fr = fr
        self.page = _Page(index, fr, single)
        self.sections = []  # (rule position, code, HtmlSection)
        self.plain = []  # findings for the generic table
        if fr.status != "ok":
            return
        by_rule: dict = {}
        for f in fr.findings:
            by_rule.setdefault(f.rule, []).append(f)
        for pos, code in enumerate(codes):
            mine = by_rule.get(code, [])
            hook = _hook(code)
            section = hook(mine, list(fr.findings), self.page) if hook is not None else None
            if isinstance(section, HtmlSection):
                self.sections.append((pos, code, section))
            else:
                self.plain.extend(mine)
        if self.plain:  # in the file's order
            keep = {id(f) for f in self.plain}
            self.plain = [f for f in fr.findings if id(f) in keep]

    def placed(self):
        """The sections in page order: by (order, rule order)."""
        return [s for _, _, s in sorted(self.sections, key=lambda t: (t[2].order, t[0]))]


# --------------------------------------------------------------------------- page


def render_html(report) -> str:
    files = list(report.files)
    findings = [f for fr in files for f in fr.findings]
    by_rule: dict = {}
    for f in findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    codes = _rule_order(by_rule)
    views = [_FileView(i, fr, codes, single=len(files) == 1) for i, fr in enumerate(files)]
    placed = [s for v in views for s in v.placed()]
    # the rules' stylesheet chunks and legends, each once, in section order
    css = _CSS_HEAD + "".join(_unique(c for s in sorted(placed, key=lambda s: s.order) for c in s.css)) + _CSS_TAIL
    legends = _unique(b for s in sorted(placed, key=lambda s: s.order) for b in s.legend)
    n_err = sum(1 for fr in files if fr.status == "error")
    dead = sum(_weights(f) for f in findings)
    dead_bytes = sum(as_int(f.waste.get("bytes")) for f in findings)
    if len(files) == 1:
        title = f"onnxlint report: {files[0].path}"
        sub = files[0].path
    else:
        title = f"onnxlint report: {len(files)} files"
        sub = f"{len(files)} files"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_csp(css))}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title>",
        f"<style>{css}</style></head><body>",
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
    n_unchecked = report.unchecked_count()
    if n_unchecked:
        out.append(_stat(n_unchecked, "not checked"))
    if n_err:
        out.append(_stat(n_err, "could not be analyzed"))
    out.append("</div>")
    out.extend(legends)
    if len(files) > 1:
        out.append(_files_table(files, sorted(by_rule)))
    for v in views:
        out.append(_file_section(v))
    out.append(f"</main><script>{_JS}</script></body></html>\n")
    return "\n".join(out)


def _stat(value, label, extra="") -> str:
    more = f"<span>{esc(extra)}</span>" if extra else ""
    return f'<div class="stat"><b>{esc(num(value))}</b><span>{esc(label)}</span>{more and "<br>" + more}</div>'


def _files_table(files, codes) -> str:
    cols = "".join(f'<th class="n"><button type="button">{esc(c)}</button></th>' for c in codes)
    head = (
        '<table class="sortable files"><thead><tr>'
        '<th><button type="button">file</button></th><th><button type="button">status</button></th>'
        f'<th class="n"><button type="button">findings</button></th>{cols}<th class="n"><button type="button">dead weights</button></th>'
        '<th class="n"><button type="button">% of model</button></th>'
        "</tr></thead><tbody>"
    )
    rows = []
    for i, fr in enumerate(files):
        counts = [sum(1 for f in fr.findings if f.rule == c) for c in codes]
        dw = sum(_weights(f) for f in fr.findings)
        status = "ok" if fr.status == "ok" else f"error: {(fr.error or {}).get('kind', '?')}"
        weights = as_int((getattr(fr, "stats", None) or {}).get("weights"))
        pc = 100 * dw / weights if weights else None
        rows.append(
            f'<tr><td data-v="{esc(fr.path)}"><a href="#file-{i}">{esc(fr.path)}</a></td>'
            f'<td data-v="{esc(status)}"><span class="badge {"ok" if fr.status == "ok" else "error"}">{esc(status)}</span></td>'
            f'<td class="n" data-v="{len(fr.findings)}">{len(fr.findings):,}</td>'
            + "".join(f'<td class="n" data-v="{n}">{n:,}</td>' for n in counts)
            + f'<td class="n" data-v="{dw}">{dw:,}</td>'
            f'<td class="n" data-v="{pc if pc is not None else -1:.6g}">{"" if pc is None else f"{pc:.2f}%"}</td></tr>'
        )
    return "<h3>Files</h3>" + head + "".join(rows) + "</tbody></table>"


# --------------------------------------------------------------------------- one file


def _file_section(view: _FileView) -> str:
    fr, page = view.fr, view.page
    out = [f'<section class="file" id="file-{page.index}">']
    badge = "ok" if fr.status == "ok" else "error"
    out.append(f'<h2>{esc(fr.path)}<span class="badge {badge}">{esc(fr.status)}</span></h2>')
    if fr.status == "error":
        err = fr.error or {}
        out.append(
            f'<p class="err"><b>could not be analyzed</b> ({esc(err.get("kind", "?"))}): {esc(err.get("message", ""))}</p>'
        )
    wasteful = [f for f in fr.findings if _has_waste(f)]
    node_weights: dict = {}
    kinds = []
    for _, _, s in view.sections:
        node_weights.update(s.node_weights)
        if s.node_kind and any(id(f) in s.node_weights for f in wasteful):
            kinds.append(s.node_kind)
    if fr.status == "ok":
        dead = sum(_weights(f) for f in wasteful)
        total = sum(as_int(node_weights.get(id(f))) for f in wasteful)
        dead_bytes = sum(as_int(f.waste.get("bytes")) for f in wasteful)
        out.append('<div class="stats">')
        if not page.single:
            out.append(_stat(len(fr.findings), "findings"))
        for _, _, s in view.sections:
            out.extend(_stat(*tile) for tile in s.stats)
        kind = kinds[0] if len(set(kinds)) == 1 else "nodes"
        out.append(_stat(dead, "dead weights", extra=f"of {total:,} in those {kind}{pct(dead, total)}" if total else ""))
        model_weights = as_int((getattr(fr, "stats", None) or {}).get("weights"))
        if model_weights:
            out.append(_stat(model_weights, "weights in the model", extra=f"{share(dead, model_weights)} dead"))
        if dead_bytes:
            out.append(_stat(dead_bytes, "dead bytes"))
        out.append("</div>")
        if not fr.findings:
            out.append("<p>No findings.</p>")
    if fr.unchecked:
        out.append(_unchecked_block(fr.unchecked))
    if fr.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in fr.notes) + "</ul>")
    if wasteful:
        out.append("<h3>Dead weights by layer</h3>")
        out.append(_bars(wasteful, page, node_weights))
    for s in view.placed():
        if s.html:
            out.append(s.html)
    if view.plain:
        out.append("<h3>Other findings</h3>")
        out.append(page.table(view.plain))
    out.append("</section>")
    return "\n".join(out)


def _unchecked_block(records) -> str:
    from analyzer.report.text import coverage_text, count_unchecked

    items = []
    for u in records:
        d = u.to_dict() if hasattr(u, "to_dict") else dict(u)
        where = f'<span class="mono">{esc(d.get("node"))}</span>: ' if d.get("node") else ""
        items.append(f"<li>{where}{esc(d.get('message', ''))} <span class=\"where\">({esc(d.get('kind', ''))})</span></li>")
    return (
        f'<div class="unchecked"><b>Not checked</b> ({count_unchecked(records):,}): {esc(coverage_text(records))}'
        f"<ul>{''.join(items)}</ul></div>"
    )


def _bars(wasteful, page, node_weights) -> str:
    items = []
    for f in wasteful:
        dead, of = _weights(f), node_weights.get(id(f))
        title = f"{f.node}: {dead:,} of {as_int(of):,} weights dead" if of is not None else f"{f.node}: {dead:,} weights dead"
        items.append((f.node, dead, f"#{page.anchor(f)}", title))
    note = ""
    if len(items) > MAX_BARS:
        ranked = sorted(range(len(items)), key=lambda k: -items[k][1])
        keep = sorted(ranked[:MAX_BARS])
        rest = [items[k] for k in ranked[MAX_BARS:]]
        items = [items[k] for k in keep]
        note = f'<p class="sub">the {MAX_BARS} layers with the most dead weights, in graph order; {len(rest):,} more layers hold {sum(v for _, v, _, _ in rest):,}</p>'
    return f'<div class="scroll">{bar_chart_svg(items, "dead weights by layer")}</div>{note}'
