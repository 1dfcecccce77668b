"""End to end on the full DRLN x2 (20 blocks, 64 channels, ~34 M parameters).

The model is exported three times (dynamo, legacy, dynamo with dynamic batch/H/W) at
input 1x3x16x16.  Every DRLN attention layer pools to a 1x1 map and then runs four 3x3
convs on it (three 64->4 branches with dilation 3/5/7, the 12->64 fuse conv with pad 1):
8 of their 9 taps only ever read zero padding.

What is checked, per export:

* the analyzer (API and CLI) reports exactly those 80 convs (DT001) and the 20 branch
  triples (DT002), with the dead-weight counts of the architecture;
* onnxruntime confirms each flagged conv (``tests/oracle.py``, one session with the
  flagged weights fed as inputs): its dead taps overwritten by ``1e3 * N(0, 1)`` leave
  every output bit-for-bit identical -- the model output and the conv's own output,
  tolerance ``RTOL = 1e-5`` of ``max(1, max |output|)`` -- and ``+-1e3 * N(0, 1)`` added at
  its live tap changes the model output by more than that tolerance;
* no unflagged conv has a dead tap: every conv is run alone in onnxruntime on its real
  input activation (captured from a full run), once per tap with that tap overwritten;
  the taps that leave its output unchanged must be exactly the reported ``dead_taps``;
* the dynamic export gives the same details as the static one, and the oracles hold at
  two different (batch, H, W);
* dynamo and legacy give the same findings up to node names.

Timings of each part are printed at the end of the session (and with ``--durations``).
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import analyzer
from tests import oracle as O

REPO = pathlib.Path(__file__).resolve().parent.parent

KINDS = ("dynamo", "legacy", "dynamic")
N_BLOCKS = 20
HEIGHT = WIDTH = 16
#: (batch, H, W) bindings the dynamic export is run at.
DYNAMIC_DIMS = ({"batch": 1, "height": 16, "width": 16}, {"batch": 2, "height": 12, "width": 20})
STATIC_DIMS = ({},)
POOL_OP = {"dynamo": "ReduceMean", "dynamic": "ReduceMean", "legacy": "GlobalAveragePool"}

DEAD_SCALE = 1e3  # dead taps are overwritten by DEAD_SCALE * N(0, 1)
LIVE_SCALE = 1e3  # +- LIVE_SCALE * N(0, 1) is added at one live tap
RTOL = 1e-5  # "identical": max abs diff <= RTOL * max(1, max |output|)

BRANCH_DEAD, BRANCH_TOTAL = 2048, 2304  # 4 x 64 x 3 x 3, 8 of 9 taps dead
FUSE_DEAD, FUSE_TOTAL = 6144, 6912  # 64 x 12 x 3 x 3
TOTAL_DEAD = N_BLOCKS * (3 * BRANCH_DEAD + FUSE_DEAD)  # 245760
ALL_TAPS = [[i, j] for i in range(3) for j in range(3)]
DEAD_TAPS = [t for t in ALL_TAPS if t != [1, 1]]

TIMES: dict[str, float] = {}
STATS: dict[str, str] = {}


@contextlib.contextmanager
def timed(part: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        TIMES[part] = TIMES.get(part, 0.0) + time.perf_counter() - t0


def _dims_for(kind: str):
    return DYNAMIC_DIMS if kind == "dynamic" else STATIC_DIMS


def _dims_label(dims: dict) -> str:
    return "x".join(str(dims[k]) for k in ("batch", "height", "width")) if dims else "static"


# --------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def report_timings(request):
    """Print the timing table and the oracle numbers when the session ends."""
    yield
    lines = ["", "test_drln_full timings (s):"]
    lines += [f"  {secs:8.2f}  {part}" for part, secs in TIMES.items()]
    if STATS:
        lines.append("test_drln_full oracle numbers:")
        lines += [f"  {key}: {value}" for key, value in STATS.items()]
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    disabled = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
    with disabled:
        for line in lines:
            tr.write_line(line) if tr is not None else print(line)


@pytest.fixture(autouse=True)
def _time_each_test(request, report_timings):
    with timed(f"test {request.node.name}"):
        yield


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """``exports(kind)`` -> path of the full DRLN x2 exported that way (exported once, lazily)."""
    root = tmp_path_factory.mktemp("drln_full")
    cache: dict[str, pathlib.Path] = {}

    def get(kind: str) -> pathlib.Path:
        if kind not in cache:
            out = root / f"drln_x2_{kind}.onnx"
            cmd = [
                sys.executable, "-m", "sample_models.export", "--model", "drln", "--scale", "2",
                "--exporter", "legacy" if kind == "legacy" else "dynamo",
                "--blocks", str(N_BLOCKS), "--channels", "64",
                "--height", str(HEIGHT), "--width", str(WIDTH), "--out", str(out),
            ]  # fmt: skip
            if kind == "dynamic":
                cmd.append("--dynamic")
            with timed(f"export {kind}"):
                proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, f"export {kind} failed:\n{proc.stdout}\n{proc.stderr}"
            assert out.exists()
            cache[kind] = out
        return cache[kind]

    yield get
    # ~140 MB per export; pytest keeps the last basetemps, so do not leave 3 x 140 MB behind
    # (set DRLN_FULL_KEEP_EXPORTS=1 to keep them for inspection).
    if not os.environ.get("DRLN_FULL_KEEP_EXPORTS"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def lints(exports):
    """``lints(kind)`` -> the analyzer's Report for that export (linted once)."""
    cache = {}

    def get(kind: str):
        if kind not in cache:
            path = exports(kind)
            with timed(f"analyzer.lint {kind}"):
                report = analyzer.lint(str(path))
            assert len(report.files) == 1
            cache[kind] = report
        return cache[kind]

    return get


def _dt001(report):
    return [f for f in report.files[0].findings if f.rule == "DT001"]


def _dt002(report):
    return [f for f in report.files[0].findings if f.rule == "DT002"]


# --------------------------------------------------------------------------------------
# the oracle itself, on a tiny model whose answer is known by construction


def _tiny_model(path: pathlib.Path) -> pathlib.Path:
    """Two 3x3 pad-1 convs sharing one weight (the second through Identity, as the legacy
    exporter writes duplicated weights): conv 0 on a 1x1 map (only the centre tap reads
    data), conv 1 on a 4x4 map (every tap does).  Weights large enough to go external."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 16, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "B")
    nodes = [
        helper.make_node("Conv", ["X1", "W", "B"], ["Y1"], name="small", pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["W"], ["W2"], name="dup"),
        helper.make_node("Conv", ["X2", "W2"], ["C2"], name="big", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["C2"], ["Y2"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("X1", TensorProto.FLOAT, [1, 16, 1, 1]),
         helper.make_tensor_value_info("X2", TensorProto.FLOAT, ["n", 16, 4, 4])],
        [helper.make_tensor_value_info("Y1", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("Y2", TensorProto.FLOAT, None)],
        [w, b],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return O.save_model(model, path, external_data=True)


def test_oracle_self_check(tmp_path):
    path = _tiny_model(tmp_path / "tiny.onnx")
    assert (tmp_path / "tiny.onnx.data").exists()
    dims = {"n": 2}
    centre = (1, 1)
    others = [(i, j) for i in range(3) for j in range(3) if (i, j) != centre]

    verdicts = O.dead_taps_by_execution(path, dims=dims, workdir=tmp_path)
    assert sorted(verdicts[0].dead_taps) == others and verdicts[0].live_taps == [centre]
    assert verdicts[2].dead_taps == [] and len(verdicts[2].live_taps) == 9

    with O.WeightFeedSession(path, ["small", 2], workdir=tmp_path) as ws:
        feeds = ws.random_inputs(dims)
        base = ws.run(feeds)
        original = O.run_model(path, feeds)  # weights as constants: ORT may prepack, tiny float noise
        assert O.Comparison(O.max_abs_diffs(base[:2], original), O.output_scale(original)).identical(RTOL)
        assert ws.check_dead("small", others, feeds, base).identical(RTOL)
        dead_here = ws.check_dead("small", [centre], feeds, base)
        assert dead_here.diffs[0] > 1 and dead_here.diffs[1] == 0.0  # the shared weight of "big" untouched
        assert any(c.model_changed(RTOL) for c in ws.check_live("small", centre, feeds, base))
        assert not ws.check_dead("big", [(0, 0)], feeds, base).identical(RTOL)

    feeds = O.random_inputs(O.make_session(path), dims, seed=3)
    base = O.run_model(path, feeds)
    assert O.compare_perturbed(path, "small", others, feeds=feeds, baseline=base, workdir=tmp_path).identical(RTOL)
    moved = O.compare_perturbed(path, 0, [centre], feeds=feeds, baseline=base, workdir=tmp_path)
    assert moved.diffs[0] > 1 and moved.diffs[1] == 0.0
    assert O.compare_perturbed(path, "big", [(2, 2)], feeds=feeds, baseline=base, workdir=tmp_path).model_changed(RTOL)


# --------------------------------------------------------------------------------------
# the analyzer's answer


@pytest.mark.parametrize("kind", KINDS)
def test_lint_finds_every_attention_conv(kind, lints):
    report = lints(kind)
    result = report.files[0]
    assert result.status == "ok", result.error
    dt1, dt2 = _dt001(report), _dt002(report)
    assert len(dt1) == 4 * N_BLOCKS, [f.node for f in dt1]
    assert len(dt2) == N_BLOCKS, [f.node for f in dt2]

    for f in dt1:
        d = f.details
        assert f.op_type == "Conv"
        assert d["kernel_shape"] == [3, 3]
        assert d["input_spatial_shape"] == [1, 1]
        assert d["live_taps"] == [[1, 1]]
        assert sorted(d["dead_taps"]) == DEAD_TAPS
        assert d["dead_taps_truncated"] is False
        assert d["effective_kernel_shape"] == [1, 1]
        assert d["effective_pads"] == [0, 0, 0, 0]
        assert (d["dead_weights"], d["total_weights"]) in {(BRANCH_DEAD, BRANCH_TOTAL), (FUSE_DEAD, FUSE_TOTAL)}
        # AdaptiveAvgPool2d(1): dynamo writes ReduceMean over H, W; legacy GlobalAveragePool.
        assert d["cause"] is not None and d["cause"]["op_type"] == POOL_OP[kind]
        assert d["weight_source"] == "initializer"
    assert collections.Counter(f.details["dead_weights"] for f in dt1) == {BRANCH_DEAD: 3 * N_BLOCKS, FUSE_DEAD: N_BLOCKS}
    assert sum(f.details["dead_weights"] for f in dt1) == TOTAL_DEAD == 245760
    assert report.waste("weights") == TOTAL_DEAD

    # One attention layer = one pooling op: 3 branches (dilation 3, 5, 7) + the fuse conv.
    layers = collections.defaultdict(list)
    for f in dt1:
        layers[f.details["cause"]["node"]].append(f)
    assert len(layers) == N_BLOCKS
    branch_nodes = {}
    for cause, members in layers.items():
        branches = sorted((f for f in members if f.details["dead_weights"] == BRANCH_DEAD), key=lambda f: f.details["dilations"])
        fuses = [f for f in members if f.details["dead_weights"] == FUSE_DEAD]
        assert [f.details["dilations"] for f in branches] == [[3, 3], [5, 5], [7, 7]], cause
        assert [f.details["pads"] for f in branches] == [[3] * 4, [5] * 4, [7] * 4], cause
        assert len(fuses) == 1 and fuses[0].details["dilations"] == [1, 1] and fuses[0].details["pads"] == [1] * 4
        branch_nodes[frozenset(f.node for f in branches)] = cause

    # DT002: each names exactly the 3 flagged branches of one attention layer.
    seen = set()
    for f in dt2:
        d = f.details
        assert len(d["branches"]) == 3, d["branches"]
        nodes = frozenset(b["node"] for b in d["branches"])
        assert nodes in branch_nodes, nodes
        seen.add(nodes)
        assert sorted(b["dilations"] for b in d["branches"]) == [[3, 3], [5, 5], [7, 7]]
        assert all(b["kernel_shape"] == [3, 3] and b["out_channels"] == 4 for b in d["branches"])
        assert d["effective_kernel_shape"] == [1, 1]
        assert d["merged_out_channels"] == 12
        assert d["concat"] is not None
    assert len(seen) == N_BLOCKS


@pytest.mark.parametrize("kind", KINDS)
def test_cli(kind, exports, lints):
    path = exports(kind)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with timed(f"cli text {kind}"):
        proc = subprocess.run([sys.executable, "-m", "analyzer", "check", str(path)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-4000:]
    assert proc.stdout.strip()

    with timed(f"cli json {kind}"):
        proc = subprocess.run([sys.executable, "-m", "analyzer", "check", str(path), "--format", "json"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    (file_doc,) = doc["files"]
    assert file_doc["status"] == "ok"
    api = [json.loads(json.dumps(f.to_dict())) for f in lints(kind).files[0].findings]
    assert file_doc["findings"] == api


# --------------------------------------------------------------------------------------
# onnxruntime confirms each flagged conv


@pytest.mark.parametrize("kind", KINDS)
def test_flagged_convs_confirmed_by_onnxruntime(kind, exports, lints, tmp_path):
    path = exports(kind)
    dt1 = _dt001(lints(kind))
    assert dt1
    model = O.load_model(path)
    for f in dt1:  # the finding points at the node and weight it names
        index, node = O.find_conv(model, f.node)
        assert index == f.node_index and node.input[1] == f.details["weight"]
    with timed(f"oracle setup {kind}"):
        ws = O.WeightFeedSession(path, [f.node_index for f in dt1], workdir=tmp_path, model=model)
    del model
    try:
        for s, dims in enumerate(_dims_for(kind)):
            label = f"{kind} {_dims_label(dims)}"
            feeds = ws.random_inputs(dims, seed=s)
            base = ws.run(feeds)
            with timed(f"oracle baseline {label}"):
                original = O.run_model(path, feeds)  # the unmodified file, its own session
            sanity = O.Comparison(O.max_abs_diffs(base[: ws.n_model_outputs], original), O.output_scale(original))
            assert sanity.identical(RTOL), sanity
            again = O.max_abs_diffs(ws.run(feeds), base)
            STATS[f"{label}: weight-fed vs original file, max abs diff"] = f"{max(sanity.diffs):.3g}; rerun: {max(again):.3g}"

            with timed(f"oracle dead taps {label}"):
                # All flagged convs' dead taps at once ...
                joint = {}
                for k, f in enumerate(dt1):
                    joint.update(ws.perturbed(f.node_index, f.details["dead_taps"], scale=DEAD_SCALE, seed=10_000 + k))
                cmp = ws.compare(feeds, joint, base)
                assert cmp.identical(RTOL), max(cmp.rel)
                # ... and conv by conv.
                worst = 0.0
                for k, f in enumerate(dt1):
                    cmp = ws.check_dead(f.node_index, f.details["dead_taps"], feeds, base, scale=DEAD_SCALE, seed=k)
                    assert cmp.identical(RTOL), (f.node, [(n, r) for n, r in zip(cmp.names, cmp.rel) if r > RTOL][:5])
                    worst = max(worst, max(cmp.rel))
            STATS[f"{label}: dead taps set to {DEAD_SCALE:g}*N(0,1), max rel diff over all outputs"] = f"{worst:.3g}"

            with timed(f"oracle live tap {label}"):
                weakest = float("inf")
                for k, f in enumerate(dt1):
                    tap = f.details["live_taps"][0]
                    trials = ws.check_live(f.node_index, tap, feeds, base, scale=LIVE_SCALE, seed=k)
                    pos = ws.conv_output_position(f.node_index)
                    assert any(t.changed_at(pos, RTOL) for t in trials), (f.node, tap, [t.rel[pos] for t in trials])
                    assert any(t.model_changed(RTOL) for t in trials), (f.node, tap, [t.model_rel for t in trials])
                    weakest = min(weakest, max(max(t.model_rel) for t in trials))
            STATS[f"{label}: live tap +-{LIVE_SCALE:g}*N(0,1), min over convs of model-output rel change"] = f"{weakest:.3g}"
    finally:
        ws.close()


@pytest.mark.parametrize("kind", KINDS)
def test_file_based_oracle_spot_check(kind, exports, lints, tmp_path):
    """The literal oracle: a modified copy on disk (external data), its own session."""
    path = exports(kind)
    dt1 = _dt001(lints(kind))
    dims = _dims_for(kind)[-1]
    sess = O.make_session(path)
    feeds = O.random_inputs(sess, dims, seed=7)
    base = sess.run(None, feeds)
    del sess
    for k, f in enumerate([dt1[0], dt1[-1]]):
        with timed(f"file oracle {kind}"):
            dead = O.compare_perturbed(path, f.node, f.details["dead_taps"], feeds=feeds, baseline=base,
                                       scale=DEAD_SCALE, seed=k, workdir=tmp_path)
            live = [O.compare_perturbed(path, f.node, f.details["live_taps"][:1], feeds=feeds, baseline=base,
                                        mode="add", scale=s, seed=k, workdir=tmp_path) for s in (LIVE_SCALE, -LIVE_SCALE)]
        assert dead.identical(RTOL), (f.node, dead)
        assert any(c.model_changed(RTOL) for c in live), (f.node, live)
    assert not list(tmp_path.iterdir())  # the copies were cleaned up


# --------------------------------------------------------------------------------------
# no unflagged conv has a dead tap


@pytest.mark.parametrize("kind", KINDS)
def test_no_unflagged_conv_has_dead_tap(kind, exports, lints, tmp_path):
    path = exports(kind)
    flagged = {f.node_index: f for f in _dt001(lints(kind))}
    model = O.load_model(path)
    convs = O.conv_nodes(model)
    assert len(convs) == 245  # 20 x (6 res + 1 fuse + 4 attention) + 20 reducers + head, upsample, tail, 2 mean shifts
    for s, dims in enumerate(_dims_for(kind)):
        label = f"{kind} {_dims_label(dims)}"
        with timed(f"exec dead taps {label}"):
            acts = O.conv_input_activations(path, dims=dims, seed=100 + s, model=model, workdir=tmp_path)
            verdicts = O.dead_taps_by_execution(path, model=model, activations=acts, scale=DEAD_SCALE, rtol=RTOL, seed=s)
        assert set(verdicts) == {i for i, _ in convs}
        unflagged_dead = {v.name: v.dead_taps for i, v in verdicts.items() if i not in flagged and v.has_dead_tap}
        assert not unflagged_dead, unflagged_dead
        for i, f in flagged.items():
            got = sorted(list(t) for t in verdicts[i].dead_taps)
            assert got == sorted(f.details["dead_taps"]), (f.node, got)
        live = [v.diffs[t] / v.out_scale for v in verdicts.values() for t in v.live_taps]
        dead = [v.diffs[t] / v.out_scale for v in verdicts.values() for t in v.dead_taps]
        n_big = sum(1 for v in verdicts.values() if len(v.kernel_shape) and np.prod(v.kernel_shape) > 1)
        STATS[f"{label}: per-tap single-conv oracle"] = (
            f"{len(verdicts)} convs ({n_big} with >1 tap), {len(live)} live taps (min rel change {min(live):.3g}), "
            f"{len(dead)} dead taps (max rel change {max(dead) if dead else 0:.3g})"
        )


# --------------------------------------------------------------------------------------
# dynamic shapes and exporter independence


def test_dynamic_details_match_static(lints, exports):
    static, dynamic = lints("dynamo").files[0], lints("dynamic").files[0]
    assert dynamic.status == "ok", dynamic.error

    def key(f):
        return (f.rule, f.node, f.node_index, f.op_type)

    assert [key(f) for f in dynamic.findings] == [key(f) for f in static.findings]

    def geometry(d):
        # path_from_cause carries each op's output shape: symbolic upstream of the
        # pooling in the dynamic export, so compare its ops, and everything else whole
        d = dict(d)
        if "path_from_cause" in d:
            d["path_from_cause"] = [(p["node"], p["op_type"]) for p in d["path_from_cause"]]
        return d

    for a, b in zip(static.findings, dynamic.findings):
        assert geometry(a.details) == geometry(b.details), (a.node, a.details, b.details)
    # Binding batch/H/W changes nothing: the map is 1x1 after pooling whatever they are.
    for dims in DYNAMIC_DIMS:
        shape = [dims["batch"], 3, dims["height"], dims["width"]]
        with timed(f"analyzer.lint dynamic --input-shape {shape}"):
            bound = analyzer.lint(str(exports("dynamic")), input_shapes={"input": shape}).files[0]
        assert bound.status == "ok", bound.error
        assert [key(f) for f in bound.findings] == [key(f) for f in static.findings]
        for a, b in zip(static.findings, bound.findings):
            assert geometry(a.details) == geometry(b.details), (shape, a.node)


def _signature(f) -> tuple:
    d = f.details
    if f.rule == "DT001":
        return (f.rule, f.op_type, d["dead_weights"], tuple(d["kernel_shape"]), tuple(d["effective_kernel_shape"]),
                tuple(sorted(tuple(t) for t in d["dead_taps"])), tuple(d["dilations"]), tuple(d["pads"]),
                tuple(d["input_spatial_shape"]), d["total_weights"])
    if f.rule == "DT002":
        return (f.rule, f.op_type, tuple(d["effective_kernel_shape"]), d["merged_out_channels"],
                tuple(sorted((tuple(b["kernel_shape"]), tuple(b["dilations"]), tuple(b["pads"]), b["out_channels"])
                             for b in d["branches"])))
    return (f.rule, f.op_type)


def test_exporter_independence(lints):
    # the tap rules (other rules may see what one exporter adds, e.g. the legacy exporter's Identity)
    sigs = {kind: collections.Counter(_signature(f) for f in lints(kind).files[0].findings if f.rule.startswith("DT"))
            for kind in KINDS}
    assert sigs["dynamo"] == sigs["legacy"]
    assert sigs["dynamo"] == sigs["dynamic"]
    # Same convs, too: node names differ between the exporters, but both keep the PyTorch
    # parameter names for the weight initializers.
    weights = {kind: sorted(f.details["weight"] for f in _dt001(lints(kind))) for kind in ("dynamo", "legacy")}
    assert weights["dynamo"] == weights["legacy"]
