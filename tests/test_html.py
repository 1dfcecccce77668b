"""The HTML report (issue 9): tap diagrams, DT002 panels, graph views, charts,
escaping, self-containedness; and the page rendered in a real browser (headless
Chromium: screenshot, no console messages, the diagrams in the DOM).

The browser tests are skipped, with the reason, only when no Chromium is installed
(Debian: ``apt-get install chromium``; ``.ci/run`` installs it).
"""
from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.findings import FileResult, Finding, Report
from analyzer.report import render
from analyzer.report import html as html_report
from analyzer.report.html import render_html

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
NARROW = SAMPLES / "drln_narrow_dynamo.onnx"
EVIL_NODE = "<script>alert(1)</script>"
EVIL_FILE = '"><img src=x onerror=alert(1)>.onnx'
F = TensorProto.FLOAT


# --- models ---------------------------------------------------------------------------------


def _vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def _model(nodes, x_shape, inits):
    graph = helper.make_graph(nodes, "g", [_vi("x", x_shape)], [_vi("y", None)], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _w(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def conv_model(x_shape, w_shape, op="Conv", name="conv", pool=False, **attrs):
    """x [-> GlobalAveragePool] -> Conv/ConvTranspose(W) -> y."""
    nodes, src = [], "x"
    if pool:
        nodes.append(helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"))
        src = "p"
    nodes.append(helper.make_node(op, [src, "W"], ["y"], name=name, **attrs))
    return _model(nodes, x_shape, [_w("W", w_shape)])


def padded_model():
    """GlobalAveragePool -> zero Pad (2 each side) -> Conv 3x3 dilation 2: the Pad counts as padding."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Pad", ["p", "pads"], ["pp"], name="zero_pad", mode="constant"),
        helper.make_node("Conv", ["pp", "W"], ["y"], name="conv", dilations=[2, 2]),
    ]
    pads = numpy_helper.from_array(np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64), "pads")
    return _model(nodes, [1, 4, 6, 6], [_w("W", [2, 4, 3, 3]), pads])


def lint_one(model, **kw) -> Report:
    report = analyzer.lint(model, **kw)
    assert report.files[0].status == "ok", report.files[0].error
    return report


def card_of(html: str, node_text: str) -> str:
    """The markup of the first DT001 card whose node is ``node_text`` (escaped)."""
    for card in re.findall(r'<article class="card dt001".*?</article>', html, re.S):
        if f'<span class="node">{node_text}</span>' in card:
            return card
    raise AssertionError(f"no card for {node_text}")


def tap_titles(markup: str):
    dead = len(re.findall(r"<title>tap \([^)]*\): dead", markup))
    real = len(re.findall(r"<title>tap \([^)]*\): live: reads real input here", markup))
    idle = len(re.findall(r"<title>tap \([^)]*\): live: padding here", markup))
    return dead, real, idle


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def narrow_report():
    return lint_one(str(NARROW))


@pytest.fixture(scope="module")
def narrow_html(narrow_report):
    return render_html(narrow_report)


@pytest.fixture(scope="module")
def evil_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("evil")
    onnx.save(conv_model([1, 4, 5, 5], [2, 4, 3, 3], name=EVIL_NODE, pool=True, pads=[1, 1, 1, 1]), str(d / EVIL_FILE))
    return d


# --- the DRLN report ------------------------------------------------------------------------


def test_drln_report_has_one_diagram_per_dead_tap_conv_and_one_panel_per_attention_layer(narrow_report, narrow_html):
    findings = narrow_report.files[0].findings
    n1 = sum(f.rule == "DT001" for f in findings)
    n2 = sum(f.rule == "DT002" for f in findings)
    assert (n1, n2) == (80, 20)
    assert narrow_html.count('<figure class="tap-diagram" data-rule="DT001">') == 80
    assert narrow_html.count('<section class="card dt002"') == 20
    # each DT002 panel: three branches and the one conv they reduce to, all drawn
    panels = re.findall(r'<section class="card dt002".*?</section>', narrow_html, re.S)
    for p in panels:
        assert p.count('<figure class="branch-diagram">') == 3
        assert p.count('<figure class="branch-diagram effective">') == 1
        assert p.count('<svg class="taps"') == 4
        assert "ReduceMean" in p and "Concat" in p  # the graph view: cause -> branches -> concat
    assert len(narrow_html.encode()) < 5_000_000
    assert "Dead weights by layer" in narrow_html and narrow_html.count('<rect class="bar"') == 80


def test_drln_attention_diagram_shows_8_dead_taps_around_one_live_centre(narrow_html):
    card = card_of(narrow_html, "node_conv2d_9")
    assert tap_titles(card) == (8, 1, 0)
    # the numbers beside it
    assert '<span class="dead">64</span> of 72 (88.9%)' in card
    assert "1×1 kernel, dilation 1×1, pads [0, 0, 0, 0]" in card
    assert "[3, 3, 3, 3]" in card and "ReduceMean node_mean" in card
    # the neighbourhood: the op that shrank the map, then the conv, with shapes
    graph = re.search(r'<figure class="neighbourhood">.*?</figure>', card, re.S).group(0)
    assert graph.index("ReduceMean") < graph.index("node_conv2d_9")
    assert "1×4×1×1" in graph and "1×2×1×1" in graph
    # 7x7 canvas (pads 3 + map 1 + pads 3): the real cell in the middle, padding around
    assert card.count('<rect class="real"') == 1


def test_report_is_self_contained(narrow_html):
    h = narrow_html
    assert "<link" not in h.replace('<link rel="icon" href="data:,">', "")
    for attr in re.findall(r'(?:href|src)="([^"]*)"', h):
        assert attr.startswith("#") or attr.startswith("data:"), attr
    assert "@import" not in h
    assert re.findall(r"https?://[^\s\"']*", h.replace('xmlns="http://www.w3.org/2000/svg"', "")) == []
    assert h.count("<script") == 1 and h.count("<style") == 1


def test_csp_allows_exactly_the_page_own_style_and_script(narrow_html):
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', narrow_html).group(1)
    csp = csp.replace("&#x27;", "'")
    style = re.search(r"<style>(.*?)</style>", narrow_html, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", narrow_html, re.S).group(1)

    def h(text):
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert "default-src 'none'" in csp
    assert f"style-src 'sha256-{h(style)}'" in csp
    assert f"script-src 'sha256-{h(script)}'" in csp


def test_render_is_deterministic_and_dispatched(narrow_report, narrow_html):
    assert render_html(narrow_report) == narrow_html
    assert render(narrow_report, "html") == narrow_html


# --- diagrams of other geometries -------------------------------------------------------------


def test_live_taps_reading_padding_at_the_centre_are_hollow():
    # 9x9 kernel, pads 4, on 3x3: taps 2..6 live per axis; at the centre output position
    # taps 3..5 read the map, taps 2 and 6 read padding there (but the map elsewhere)
    h = render_html(lint_one(conv_model([1, 4, 3, 3], [2, 4, 9, 9], pads=[4, 4, 4, 4])))
    assert tap_titles(card_of(h, "conv")) == (81 - 25, 9, 25 - 9)


def test_1d_conv_is_one_row():
    h = render_html(lint_one(conv_model([1, 4, 3], [2, 4, 7], pads=[3, 3])))
    card = card_of(h, "conv")
    assert tap_titles(card) == (2, 3, 2)
    assert re.findall(r"<title>tap \((\d+)\)", card) == [str(j) for j in range(7)]
    svg = re.search(r'<svg class="taps"[^>]*height="(\d+)"', card)
    assert int(svg.group(1)) < 50  # one row of cells


def test_3d_conv_one_panel_per_depth_tap():
    h = render_html(lint_one(conv_model([1, 4, 2, 3, 3], [2, 4, 3, 3, 3], dilations=[2, 2, 2], pads=[2] * 6)))
    card = card_of(h, "conv")
    assert card.count('<svg class="taps"') == 3
    assert "tap 0 → depth -2: padding" in card and "tap 1 → depth 0: real input" in card
    assert "tap 2 → depth 2: padding" in card
    assert tap_titles(card) == (18, 1, 8)


def test_huge_map_is_drawn_as_a_window():
    # 3x3, dilation/pads 300 on 224x224: a 824-cell canvas, drawn around the taps
    h = render_html(lint_one(conv_model([1, 2, 224, 224], [2, 2, 3, 3], dilations=[300, 300], pads=[300] * 4)))
    card = card_of(h, "conv")
    width = int(re.search(r'<svg class="taps"[^>]*width="(\d+)"', card).group(1))
    assert width < 450
    assert 'class="brk"' in card and "the map continues" in card
    assert ">223</text>" in card and ">0</text>" in card  # the map's first and last index
    assert tap_titles(card) == (8, 1, 0)


def test_huge_kernel_shows_the_taps_that_matter():
    h = render_html(lint_one(conv_model([1, 4, 4], [2, 4, 41], pads=[20, 20])))
    card = card_of(h, "conv")
    dead, real, idle = tap_titles(card)
    assert real == 4 and idle == 3  # every live tap is drawn
    assert 0 < dead < 34 and 'class="brk"' in card


def test_conv_transpose_canvas_is_the_uncropped_output():
    h = render_html(lint_one(conv_model([1, 4, 8, 8], [4, 2, 3, 3], op="ConvTranspose", pool=True, pads=[1, 1, 1, 1])))
    card = card_of(h, "conv")
    assert tap_titles(card) == (8, 1, 0)
    assert "the canvas is the output before cropping" in card
    assert "ConvTranspose 3×3" in card


def test_folded_pad_node_in_numbers_and_graph():
    h = render_html(lint_one(padded_model()))
    card = card_of(h, "conv")
    assert tap_titles(card) == (8, 1, 0)
    assert "includes Pad node zero_pad" in card
    graph = re.search(r'<figure class="neighbourhood">.*?</figure>', card, re.S).group(0)
    assert graph.index("GlobalAveragePool") < graph.index("zero_pad") < graph.index(">conv<")


def test_dt002_branch_without_dead_taps_is_drawn_from_geometry():
    # ASPP: a 1x1 branch (no DT001 finding of its own) and a dilation-36 branch
    h = render_html(lint_one(str(SAMPLES / "aspp_dynamo.onnx")))
    (panel,) = re.findall(r'<section class="card dt002".*?</section>', h, re.S)
    assert panel.count('<svg class="taps"') == 3
    figs = re.findall(r'<figure class="branch-diagram">.*?</figure>', panel, re.S)
    assert tap_titles(figs[0]) == (0, 1, 0) and tap_titles(figs[1]) == (8, 1, 0)


def test_dt002_without_dt001_has_no_diagrams_but_renders():
    h = render_html(lint_one(str(SAMPLES / "drln_attention_dynamo.onnx"), select=["DT002"]))
    assert h.count('<section class="card dt002"') == 1
    assert "No diagrams" in h and '<svg class="taps"' not in h


def test_odd_details_do_not_break_the_page():
    f = Finding(rule="DT001", name="dead-conv-taps", severity="warning", node="n", node_index=0, graph="main/Loop#3.body",
                op_type="Conv", message="m", details={"kernel_shape": [3, "H"], "input_spatial_shape": None})
    g = Finding(rule="XX999", name="other", severity="info", node="<b>", node_index=1, graph="main", op_type="Foo", message="<i>", details={})
    h = render_html(Report(files=[FileResult(path="p.onnx", findings=[f, g])]))
    assert "no diagram" in h and "in main/Loop#3.body" in h
    assert '<span class="node">&lt;b&gt;</span>' not in h  # not a card: a row of the other findings
    assert '<td class="mono">&lt;b&gt;</td><td>&lt;i&gt;</td>' in h


def test_cards_are_capped_per_file(monkeypatch):
    monkeypatch.setattr(html_report, "MAX_CARDS", 2)
    h = render_html(lint_one(str(SAMPLES / "drln_attention_dynamo.onnx")))
    assert h.count('<figure class="tap-diagram"') == 2
    assert "2 more DT001 findings, without diagrams" in h


def _brute_force(n, k, s, d, pb, pe, transpose):
    """Per tap of one axis: (live anywhere, reads/writes real data at the centre position),
    straight from the ONNX formulas, independent of analyzer.geometry."""
    extent = (k - 1) * d + 1
    if transpose:
        out = s * (n - 1) + extent - pb - pe
        positions, centre = range(n), (n - 1) // 2
        hit = lambda i, j: 0 <= i * s - pb + j * d < out  # noqa: E731
    else:
        out = (n + pb + pe - extent) // s + 1
        positions, centre = range(out), (out - 1) // 2
        hit = lambda o, j: 0 <= o * s - pb + j * d < n  # noqa: E731
    if out < 1:
        return None
    return [(any(hit(p, j) for p in positions), hit(centre, j)) for j in range(k)]


def test_diagram_taps_match_brute_force_geometry():
    """Random convs (1-3 axes, strides, dilations, asymmetric pads, ConvTranspose):
    every drawn tap is classified as the ONNX formulas say, and every live tap is drawn."""
    import itertools
    import random

    from rules.dt001_dead_conv_taps.html_taps import tap_figure_svgs

    rng = random.Random(9)
    checked = windowed = 0
    while checked < 300:
        rank = rng.choice([1, 1, 2, 2, 2, 3])
        transpose = rng.random() < 0.25
        axes = []
        for _ in range(rank):
            n, k, s, d = rng.randint(1, 30), rng.randint(1, 9), rng.randint(1, 3), rng.randint(1, 12)
            pb, pe = rng.randint(0, 14), rng.randint(0, 14)
            bf = _brute_force(n, k, s, d, pb, pe, transpose)
            if bf is None:
                break
            axes.append((n, k, s, d, pb, pe, bf))
        if len(axes) < rank:
            continue
        details = {
            "kernel_shape": [a[1] for a in axes], "input_spatial_shape": [a[0] for a in axes],
            "strides": [a[2] for a in axes], "dilations": [a[3] for a in axes],
            "pads": [a[4] for a in axes] + [a[5] for a in axes], "transpose": transpose,
        }
        svgs, _ = tap_figure_svgs(details)
        drawn = {}
        for m in re.finditer(r"<title>tap \(([\d, ]+)\): ([^<]*)</title>", "".join(svgs)):
            drawn[tuple(int(x) for x in m.group(1).split(","))] = m.group(2)
        assert drawn and all(len(t) == rank for t in drawn)
        windowed += "the map continues" in "".join(svgs)
        for tap, what in drawn.items():
            states = [a[6][j] for a, j in zip(axes, tap)]
            if not all(live for live, _ in states):
                assert what.startswith("dead"), (details, tap, what)
            elif all(here for _, here in states):
                assert what == "live: reads real input here", (details, tap, what)
            else:
                assert what.startswith("live: padding here"), (details, tap, what)
        # every live tap of the drawn slices is on the drawing
        for tap in itertools.product(*[range(a[1]) for a in axes]):
            if rank == 3 and tap[0] not in {t[0] for t in drawn}:
                continue
            if all(a[6][j][0] for a, j in zip(axes, tap)):
                assert tap in drawn, (details, tap)
        checked += 1
    assert windowed > 30  # windows (left-out cells) were exercised too


# --- escaping ---------------------------------------------------------------------------------


def test_names_and_paths_are_escaped(evil_dir):
    ctrl = conv_model([1, 4, 5, 5], [2, 4, 3, 3], name="a\x1b[31m\nb", pool=True, pads=[1, 1, 1, 1])
    report = Report(files=analyzer.lint(str(evil_dir / EVIL_FILE)).files + lint_one(ctrl).files)
    h = render_html(report)
    assert "<script>alert" not in h and "<img" not in h and "onerror=alert(1)>" not in h
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.onnx" in h
    # in SVG text and titles too (the bar chart, the graph view)
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;: 64 of 72 weights dead</title>" in h
    assert re.search(r'<text class="b2"[^>]*>&lt;script&gt;alert\(1\)&lt;/script&gt;</text>', h)
    # control characters are shown, not passed on
    assert "\x1b" not in h and "a\\x1b[31m\\x0ab" in h
    assert h.count("<script") == 1


def test_error_files_and_the_sortable_files_table(tmp_path):
    bad = tmp_path / "<bad>.onnx"
    bad.write_bytes(b"not a model")
    files = analyzer.lint(str(bad)).files + lint_one(str(SAMPLES / "drln_attention_dynamo.onnx")).files
    files += lint_one(str(SAMPLES / "conv_stack_dynamo.onnx")).files
    h = render_html(Report(files=files))
    table = re.search(r'<table class="sortable files">.*?</table>', h, re.S).group(0)
    rows = re.findall(r"<tr><td", table)
    assert len(rows) == 3
    assert "&lt;bad&gt;.onnx" in table and "error: " in table
    assert "could not be analyzed" in h and 'href="#file-2"' in table


def test_cli_writes_the_html_report(tmp_path):
    out = tmp_path / "report.html"
    p = subprocess.run(
        [sys.executable, "-m", "analyzer", "check", str(SAMPLES / "drln_attention_legacy.onnx"), str(SAMPLES / "conv_stack_legacy.onnx"),
         "--format", "html", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 1, p.stderr  # findings
    h = out.read_text(encoding="utf-8")
    assert h.startswith("<!DOCTYPE html>") and h.count('<figure class="tap-diagram"') == 4
    assert h.count('<section class="card dt002"') == 1 and '<table class="sortable files">' in h


# --- in a real browser --------------------------------------------------------------------------


def _find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium); the browser checks need it"
)
CONSOLE = re.compile(r"CONSOLE[(:\]]|Uncaught")


def browse(page: pathlib.Path, *args, window="1280,2000"):
    """Open ``page`` in headless Chromium, offline; return (stdout, console lines, stderr).

    Every console message is logged to stderr as an ``INFO:CONSOLE`` line, whatever
    its level; the report itself never logs, so any such line is an error
    (an exception, a CSP violation, a failed load)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}",
            "--enable-logging=stderr", "--v=0", f"--window-size={window}", *args, page.resolve().as_uri(),
        ]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": profile})
    console = [line for line in p.stderr.splitlines() if CONSOLE.search(line)]
    return p.stdout, console, p.stderr


@needs_chromium
def test_console_check_sees_errors():
    """The harness itself: a page with a script error and a blocked load is caught."""
    with tempfile.TemporaryDirectory() as d:
        page = pathlib.Path(d) / "bad.html"
        page.write_text(
            "<!DOCTYPE html><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; script-src 'unsafe-inline'\">"
            "<img src='http://example.invalid/x.png'><script>undefinedFunction();</script>"
        )
        _, console, _ = browse(page, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console), console
    assert any("example.invalid" in line for line in console), console


@needs_chromium
def test_drln_report_in_chromium(tmp_path, narrow_html):
    page = tmp_path / "drln.html"
    page.write_text(narrow_html, encoding="utf-8")
    dom, console, err = browse(page, "--dump-dom")
    assert console == [], console
    assert dom.count('<figure class="tap-diagram" data-rule="DT001">') == 80
    assert dom.count('<section class="card dt002"') == 20
    assert len(re.findall(r'<svg class="taps"', dom)) == 80 + 20 * 4
    shot = tmp_path / "drln.png"
    _, console, err = browse(page, f"--screenshot={shot}", window="1280,1800")
    assert console == [], console
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1800)
    assert len(data) > 50_000  # a blank page compresses to a few kB


@needs_chromium
def test_escaped_names_stay_text_in_chromium(tmp_path, evil_dir):
    page = tmp_path / "evil.html"
    page.write_text(render_html(analyzer.lint(str(evil_dir / EVIL_FILE))), encoding="utf-8")
    dom, console, _ = browse(page, "--dump-dom")
    assert console == [], console
    assert "<img" not in dom and dom.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


@needs_chromium
def test_files_table_sorts_in_chromium(tmp_path):
    files = []
    for name in ("drln_narrow_dynamo.onnx", "conv_stack_dynamo.onnx", "aspp_dynamo.onnx", "drln_attention_dynamo.onnx"):
        files += lint_one(str(SAMPLES / name)).files
    h = render_html(Report(files=files))
    # a test copy: no CSP (so the probe may run), and a probe that clicks the headers
    h = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", h)
    probe = (
        "<script>(function(){var t=document.querySelector('table.files');"
        "function col(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[5].getAttribute('data-v');}).join(',');}"
        "var b=t.tHead.rows[0].cells[5].querySelector('button');var out=[];b.click();out.push(col());b.click();out.push(col());"
        "t.tHead.rows[0].cells[0].querySelector('button').click();"
        "out.push(Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[0].textContent;}).join(','));"
        "var p=document.createElement('pre');p.id='probe';p.textContent=out.join('|');document.body.appendChild(p);})();</script>"
    )
    page = tmp_path / "files.html"
    page.write_text(h.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom, console, _ = browse(page, "--dump-dom")
    assert console == [], console
    asc, desc, by_name = re.search(r'<pre id="probe">([^<]*)</pre>', dom).group(1).split("|")
    values = [int(v) for v in asc.split(",")]
    assert values == sorted(values) and values[-1] == 12288
    assert [int(v) for v in desc.split(",")] == sorted(values, reverse=True)
    names = by_name.split(",")
    assert names == sorted(names)
