"""Proof by execution in onnxruntime: ``onnxlint verify`` and ``fix --verify / --bench``.

onnxruntime (the optional extra ``verify``) is imported only inside the functions below.

**Inputs.**  Seeded random inputs of the declared shapes.  A dim with a value keeps it; a
dim bound by ``--input-shape NAME=D0,D1,...`` takes that value (a symbol bound there is
bound for every input); any other symbol whose name says batch (``batch``, ``batch_size``,
``N``, ``B``, ``bs``; any name containing "batch"), and an unnamed first dim, is 1; every
other dim is 16.  Float inputs are uniform in [0, 1) (run 1) and standard normal (run 2);
integer inputs uniform in [0, 4); booleans fair coins.

**Comparison.**  For each output, ``max_abs = max |a - b|`` and ``max_rel = max_abs /
max |a|`` (a = original).  An output matches when ``max_abs <= atol + rtol * max |a|``
(and NaN / inf sit at the same places), with the tolerance of the loosest float type in
the model (any input, output, initializer or Cast target):

=========  =======  =======
precision   rtol     atol
=========  =======  =======
float64     1e-7     1e-9
float32     1e-5     1e-6
float16     1e-2     1e-3
bfloat16    5e-2     1e-2
=========  =======  =======

Integer and boolean outputs must be equal.

**Findings.**  ``verify`` confirms each DT001 finding on the model itself: the conv's weight
becomes a graph input (so one session runs every variant) and its output an extra graph
output.  *Dead*: all flagged dead taps of all flagged convs at once set to ``1e3 * N(0, 1)``
(integer weights: random values over the dtype's range); every model output and every
flagged conv's own output must match the unmodified run (each conv's input is then
unchanged, so each conv's claim holds on its own; if the joint run fails, each finding is
run alone to say which).  *Live*: ``+1e3 * N(0, 1)`` added at one live tap (the middle one),
then ``-1e3 * N(0, 1)`` if the first left everything unchanged (a ReLU can hide one sign);
the conv's output or a model output must change.  Verdicts: ``confirmed``; ``refuted`` (a
dead tap changed an output: a bug in onnxlint); ``inconclusive`` (the live tap changed
nothing on these inputs); ``skipped`` (not in the main graph).

**Benchmark.**  Both models in onnxruntime (CPU, the same default ``SessionOptions``), one
input, ``BENCH_WARMUP`` warm-up runs each, then ``BENCH_RUNS`` timed runs each, alternating
original and fixed; medians and their ratio are reported.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "ORT_MISSING", "TOLERANCES", "VerifyError", "import_ort", "make_feeds", "model_precision",
    "compare_outputs", "compare_models", "bench", "verify_findings", "run",
]  # fmt: skip

ORT_MISSING = "onnxruntime is not installed: pip install 'onnxlint[verify]'"
TOLERANCES = {"float64": (1e-7, 1e-9), "float32": (1e-5, 1e-6), "float16": (1e-2, 1e-3), "bfloat16": (5e-2, 1e-2)}
BATCH_NAMES = {"n", "b", "bs", "batch", "batch_size"}
DEFAULT_BATCH, DEFAULT_DIM = 1, 16
SCALE = 1e3
BENCH_RUNS, BENCH_WARMUP = 20, 3
MAX_PROTO = (1 << 31) - 1 - (1 << 20)

_NP = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_,
}  # fmt: skip


class VerifyError(Exception):
    pass


def import_ort():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def _run(sess, names, feeds):
    try:
        return sess.run(names, feeds)
    except Exception as e:  # onnxruntime raises several exception types
        raise VerifyError(f"onnxruntime failed to run the model: {str(e).strip().splitlines()[0]}") from None


def _session(src, ort=None, threads=None):
    ort = ort or import_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise VerifyError(f"onnxruntime cannot load the model: {str(e).strip().splitlines()[0]}") from None


# -- inputs -----------------------------------------------------------------------


def _is_batch(name: str) -> bool:
    return name.lower() in BATCH_NAMES or "batch" in name.lower()


def input_dims(inputs, input_shapes=None) -> dict:
    """``{input name: concrete shape}`` for ``inputs`` (onnxruntime NodeArgs), by the rule above."""
    input_shapes = dict(input_shapes or {})
    symbols = {}
    by_name = {i.name: i for i in inputs}
    for name, dims in input_shapes.items():
        if name not in by_name:
            raise VerifyError(f"--input-shape {name}: the model has no input {name!r}")
        declared = by_name[name].shape
        if len(declared) != len(dims):
            raise VerifyError(f"--input-shape {name}: {len(dims)} dims, the input has {len(declared)}")
        for d, v in zip(declared, dims):
            if isinstance(d, str):
                symbols[d] = v
    out = {}
    for inp in inputs:
        if inp.name in input_shapes:
            out[inp.name] = list(input_shapes[inp.name])
            continue
        shape = []
        for axis, d in enumerate(inp.shape):
            if isinstance(d, int) and d >= 0:
                shape.append(d)
            elif isinstance(d, str) and d in symbols:
                shape.append(symbols[d])
            elif (isinstance(d, str) and _is_batch(d)) or (not isinstance(d, str) and axis == 0):
                shape.append(DEFAULT_BATCH)
            else:
                shape.append(DEFAULT_DIM)
        out[inp.name] = shape
    return out


def make_feeds(inputs, dims: dict, run: int = 0, skip=()) -> dict:
    """Seeded random values: run 0 uniform [0, 1), run 1 standard normal (floats)."""
    rng = np.random.default_rng(1234 + run)
    feeds = {}
    for inp in inputs:
        if inp.name in skip:
            continue
        dtype = _NP.get(inp.type)
        if dtype is None:
            raise VerifyError(f"input {inp.name!r} has type {inp.type}, which verification does not generate")
        shape = dims[inp.name]
        if np.issubdtype(dtype, np.floating):
            v = rng.random(shape) if run % 2 == 0 else rng.standard_normal(shape)
        elif dtype == np.bool_:
            v = rng.random(shape) < 0.5
        else:
            v = rng.integers(0, 4, size=shape)
        feeds[inp.name] = np.asarray(v).astype(dtype)
    return feeds


# -- comparison -----------------------------------------------------------------------


def model_precision(model: onnx.ModelProto) -> str:
    """The loosest float type among inputs, outputs, value_info, initializers and Cast targets."""
    g = model.graph
    types = {vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.output) + list(g.value_info)}
    types |= {t.data_type for t in g.initializer}
    types |= {a.i for n in g.node if n.op_type == "Cast" for a in n.attribute if a.name == "to"}
    for t, name in ((TensorProto.BFLOAT16, "bfloat16"), (TensorProto.FLOAT16, "float16"), (TensorProto.FLOAT, "float32")):
        if t in types:
            return name
    return "float64" if TensorProto.DOUBLE in types else "float32"


def _diff(a, b, rtol, atol) -> dict:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False, "why": f"shape {list(b.shape)} != {list(a.shape)}"}
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":  # integers, booleans: equal or not
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        max_abs = float(d.max()) if d.size else 0.0
        scale = float(np.abs(a.astype(np.float64)).max()) if d.size else 0.0
        return {"max_abs": max_abs, "max_rel": max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf")),
                "ok": bool(np.array_equal(a, b))}  # fmt: skip
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    fa, fb = np.isfinite(a64), np.isfinite(b64)
    if not np.array_equal(fa, fb) or not np.array_equal(a64[~fa], b64[~fb], equal_nan=True):
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False, "why": "NaN/inf at different places"}
    d = np.abs(a64[fa] - b64[fb])
    max_abs = float(d.max()) if d.size else 0.0
    scale = float(np.abs(a64[fa]).max()) if d.size else 0.0
    return {"max_abs": max_abs, "max_rel": max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf")),
            "ok": max_abs <= atol + rtol * scale}  # fmt: skip


def compare_outputs(names, ref, got, precision) -> list:
    rtol, atol = TOLERANCES[precision]
    return [dict(name=n, **_diff(a, b, rtol, atol)) for n, a, b in zip(names, ref, got)]


def compare_models(original, fixed, input_shapes=None, runs: int = 2) -> dict:
    """Run both models on the same seeded inputs; compare every output by name."""
    s0, s1 = _session(str(original)), _session(str(fixed))
    names = [o.name for o in s0.get_outputs()]
    if sorted(names) != sorted(o.name for o in s1.get_outputs()):
        raise VerifyError("the fixed model's outputs are not the original's")
    precision = model_precision(onnx.load(str(original), load_external_data=False))
    inputs = s0.get_inputs()
    dims = input_dims(inputs, input_shapes)
    worst: dict = {}
    for run in range(runs):
        feeds = make_feeds(inputs, dims, run)
        res = compare_outputs(names, _run(s0, names, feeds), _run(s1, names, feeds), precision)
        for r in res:
            w = worst.get(r["name"])
            if w is None or r["max_abs"] > w["max_abs"] or not r["ok"]:
                worst[r["name"]] = dict(r, ok=r["ok"] and (w is None or w["ok"]))
    rtol, atol = TOLERANCES[precision]
    return {"ok": all(w["ok"] for w in worst.values()), "runs": runs, "precision": precision, "rtol": rtol,
            "atol": atol, "inputs": dims, "outputs": [worst[n] for n in names]}  # fmt: skip


def bench(original, fixed, input_shapes=None, runs=None, warmup: int = BENCH_WARMUP, threads=None) -> dict:
    runs = runs or BENCH_RUNS
    s0, s1 = _session(str(original), threads=threads), _session(str(fixed), threads=threads)
    inputs = s0.get_inputs()
    feeds = make_feeds(inputs, input_dims(inputs, input_shapes), 0)
    for _ in range(warmup):
        _run(s0, None, feeds)
        _run(s1, None, feeds)
    times = ([], [])
    for i in range(runs):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for k in order:
            t = time.perf_counter()
            (s0, s1)[k].run(None, feeds)
            times[k].append(time.perf_counter() - t)
    m0, m1 = (float(np.median(t)) * 1e3 for t in times)
    paired = np.array(times[0]) / np.maximum(np.array(times[1]), 1e-12)  # adjacent runs: robust to load drift
    return {"runs": runs, "warmup": warmup, "threads": threads or "default", "inputs": {k: list(v.shape) for k, v in feeds.items()},
            "original_ms": m0, "fixed_ms": m1, "ratio": m0 / m1 if m1 > 0 else None,
            "paired_ratio_median": float(np.median(paired)),
            "paired_ratio_iqr": [float(np.percentile(paired, 25)), float(np.percentile(paired, 75))]}  # fmt: skip


def render_comparison(v: dict) -> list:
    worst = max(v["outputs"], key=lambda o: o["max_abs"]) if v["outputs"] else None
    state = "outputs match" if v["ok"] else "OUTPUTS DIFFER"
    lines = [f"verify: {state} on {v['runs']} seeded random inputs ({v['precision']}: rtol {v['rtol']:g}, atol {v['atol']:g})"]
    for o in v["outputs"]:
        lines.append(f"  {o['name']}: max abs diff {o['max_abs']:.3g}, max rel diff {o['max_rel']:.3g}"
                     + ("" if o["ok"] else " FAILED"))
    return lines if worst is not None else lines[:1]


def render_bench(b: dict) -> list:
    lo, hi = b["paired_ratio_iqr"]
    return [f"bench: original {b['original_ms']:.2f} ms, fixed {b['fixed_ms']:.2f} ms (median of {b['runs']} runs "
            f"after {b['warmup']} warm-up), speed-up x{b['ratio']:.3f} (run by run: median x{b['paired_ratio_median']:.3f}, "
            f"middle half x{lo:.3f}..x{hi:.3f})"]


# -- DT001 findings by execution ------------------------------------------------------------


def _dead_mask(kernel, live_per_axis):
    live = np.ones((), dtype=bool)
    for k, lv in zip(kernel, live_per_axis):
        ind = np.zeros(k, dtype=bool)
        ind[list(lv)] = True
        live = np.multiply.outer(live, ind)
    return ~live


def _noise(rng, shape, dtype, scale):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return (scale * rng.standard_normal(shape)).astype(dtype)


def verify_findings(path, input_shapes=None) -> dict:
    """Confirm or refute every DT001 finding of ``path`` by execution (see the module doc)."""
    from analyzer.linter.registry import get_rule

    from analyzer.analyses.convs import CONV_OPS
    from analyzer.model import analyze

    am = analyze(path, input_shapes)
    findings = list(get_rule("DT001").check(am, {}))
    model = onnx.load(str(path), load_external_data=True)
    g = model.graph
    results, targets = [], []
    for f in findings:
        n_live = int(np.prod([len(a) for a in f.details["live_taps_per_axis"]]))
        r = {"node": f.node, "op_type": f.op_type, "status": "skipped",
             "dead_taps": int(np.prod(f.details["kernel_shape"])) - n_live, "dead_weights": f.details["dead_weights"]}
        results.append(r)
        if f.graph != "main":
            r["reason"] = f"inside {f.graph}"
            continue
        op = am.graph.ops[("op", "main", f.node_index)]
        w_pos = CONV_OPS[op.op_type][1]
        out_dtype = am.info(op.outputs[0]).dtype
        if out_dtype is None:
            r["reason"] = "output type unknown"
            continue
        targets.append({"result": r, "index": op.index, "w_pos": w_pos, "weight": op.inputs[w_pos][2],
                        "out": op.outputs[0][2], "out_dtype": out_dtype, "kernel": f.details["kernel_shape"],
                        "live": f.details["live_taps_per_axis"], "fed": f"__onnxlint_verify_w{len(targets)}"})  # fmt: skip
    ort = import_ort()
    inputs = _proto_inputs(model)
    dims = input_dims(inputs, input_shapes)
    feeds = make_feeds(inputs, dims, 0)
    n_model = len(g.output)
    # weight values: initializers directly, anything else from one run of the original model
    inits = {t.name: t for t in g.initializer}
    weights = {}
    computed = [t["weight"] for t in targets if t["weight"] not in inits and t["weight"] not in feeds]
    if computed:
        have = {o.name for o in g.output}
        for name in dict.fromkeys(computed):
            if name not in have:
                g.output.append(helper.make_tensor_value_info(name, am.info(("value", "main", name)).dtype or 0, None))
        probe = _session(_serialize(model), ort)
        outs = dict(zip([o.name for o in probe.get_outputs()], _run(probe, None, feeds)))
        weights.update({n: outs[n] for n in computed})
        del probe, g.output[n_model:]
    for t in targets:
        w = t["weight"]
        t["value"] = weights[w] if w in weights else feeds[w] if w in feeds else numpy_helper.to_array(inits[w])
        node = g.node[t["index"]]
        node.input[t["w_pos"]] = t["fed"]
        g.input.append(helper.make_tensor_value_info(t["fed"], helper.np_dtype_to_tensor_dtype(t["value"].dtype),
                                                     list(t["value"].shape)))  # fmt: skip
    outputs = [o.name for o in g.output]
    for t in targets:
        if t["out"] not in outputs:
            g.output.append(helper.make_tensor_value_info(t["out"], t["out_dtype"], None))
            outputs.append(t["out"])
        t["pos"] = outputs.index(t["out"])
    precision = model_precision(model)
    rtol, atol = TOLERANCES[precision]
    sess = _session(_serialize(model), ort) if targets else None
    del model
    base_w = {t["fed"]: t["value"] for t in targets}
    n_runs = 0

    def run(over):
        nonlocal n_runs
        n_runs += 1
        return _run(sess, outputs, {**feeds, **base_w, **over})

    rng = np.random.default_rng(7)
    base = run({}) if targets else None

    def dead_weights(t):
        w = np.array(t["value"], copy=True)
        mask = _dead_mask(w.shape[2:], t["live"])
        w[:, :, mask] = _noise(rng, w[:, :, mask].shape, w.dtype, SCALE)
        return w

    def compare(out):
        return compare_outputs(outputs, base, out, precision)

    joint, joint_ok = None, False
    if targets:
        joint = compare(run({t["fed"]: dead_weights(t) for t in targets}))
        joint_ok = all(c["ok"] for c in joint)
    for t in targets:
        r = t["result"]
        res = joint if joint_ok else compare(run({t["fed"]: dead_weights(t)}))
        dead_ok = all(c["ok"] for i, c in enumerate(res) if i < n_model or i == t["pos"])
        r["dead_max_abs"] = max((c["max_abs"] for i, c in enumerate(res) if i < n_model or i == t["pos"]), default=0.0)
        r["dead_perturbation"] = "all dead taps of all findings at once" if joint_ok else "this finding's dead taps"
        integer = np.issubdtype(t["value"].dtype, np.integer)
        r["dead_values"] = f"random {t['value'].dtype} values" if integer else f"{SCALE:g}*N(0,1)"
        if not dead_ok:
            r["status"] = "refuted"
            r["reason"] = "overwriting the dead taps changed an output: this is a bug in onnxlint, please report it"
            continue
        live_taps = [tuple(x) for x in _product(t["live"])]
        if not live_taps:
            r["status"], r["live"] = "confirmed", None
            continue
        tap = live_taps[len(live_taps) // 2]
        w = t["value"]
        r["live"] = {"tap": list(tap), "tries": []}
        for sign in (1, -1):
            w2 = np.array(w, copy=True)
            idx = (slice(None), slice(None), *tap)
            if np.issubdtype(w.dtype, np.integer):
                info = np.iinfo(w.dtype)
                w2[idx] = info.max if sign > 0 else info.min
            else:
                w2[idx] = w2[idx] + sign * _noise(rng, w2[idx].shape, w.dtype, SCALE)
            res = compare(run({t["fed"]: w2}))
            conv_change = res[t["pos"]]["max_abs"]
            model_change = max((c["max_abs"] for c in res[:n_model]), default=0.0)
            changed = not res[t["pos"]]["ok"] or not all(c["ok"] for c in res[:n_model])
            what = (f"set to {w2[idx].flat[0]}" if integer else f"{'+' if sign > 0 else '-'}{SCALE:g}*N(0,1)")
            r["live"]["tries"].append({"perturbation": what, "conv_output_max_abs": conv_change,
                                       "model_output_max_abs": model_change, "changed": changed})  # fmt: skip
            if changed:
                break
        if any(x["changed"] for x in r["live"]["tries"]):
            r["status"] = "confirmed"
        else:
            r["status"] = "inconclusive"
            r["reason"] = "changing the live tap changed no output on these inputs"
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("confirmed", "refuted", "inconclusive", "skipped")}
    return {"path": str(path), "findings": results, "counts": counts, "runs": n_runs, "inputs": dims,
            "precision": precision, "rtol": rtol, "atol": atol, "scale": SCALE,
            "ok": counts["confirmed"] == len(results)}  # fmt: skip


_TYPE_NAMES = {
    TensorProto.FLOAT: "tensor(float)", TensorProto.DOUBLE: "tensor(double)", TensorProto.FLOAT16: "tensor(float16)",
    TensorProto.BFLOAT16: "tensor(bfloat16)", TensorProto.INT64: "tensor(int64)", TensorProto.INT32: "tensor(int32)",
    TensorProto.INT16: "tensor(int16)", TensorProto.INT8: "tensor(int8)", TensorProto.UINT8: "tensor(uint8)",
    TensorProto.UINT16: "tensor(uint16)", TensorProto.UINT32: "tensor(uint32)", TensorProto.UINT64: "tensor(uint64)",
    TensorProto.BOOL: "tensor(bool)",
}  # fmt: skip


class _Input:
    """The declared graph input, shaped like onnxruntime's NodeArg (name, shape, type)."""

    def __init__(self, vi):
        self.name = vi.name
        tt = vi.type.tensor_type
        self.type = _TYPE_NAMES.get(tt.elem_type, f"elem_type {tt.elem_type}")
        self.shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def _proto_inputs(model):
    inits = {t.name for t in model.graph.initializer}
    return [_Input(vi) for vi in model.graph.input if vi.name not in inits]


def _product(lists):
    out = [()]
    for lv in lists:
        out = [p + (j,) for p in out for j in lv]
    return out


_TMP_DIRS: list = []


def _serialize(model):
    """Bytes for onnxruntime, or (over protobuf's 2 GiB) a temporary file with external data,
    removed when the process exits."""
    if model.ByteSize() < MAX_PROTO:
        return model.SerializeToString()
    tmp = tempfile.TemporaryDirectory(prefix="onnxlint-verify-")
    _TMP_DIRS.append(tmp)
    p = Path(tmp.name) / f"model{len(_TMP_DIRS)}.onnx"
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # saving with external data rewrites the tensors it saves
    onnx.save_model(copy, str(p), save_as_external_data=True, location=p.name + ".data")
    return str(p)


def render_verify(v: dict, fmt: str = "text") -> str:
    from analyzer.report.text import escape

    if fmt == "json":
        from analyzer.common import VERSION as __version__

        return json.dumps({"tool": {"name": "onnxlint", "version": __version__}, **v}, indent=2) + "\n"
    lines = []
    where = escape(v["path"])
    for r in v["findings"]:
        head = f"{where}:{escape(r['node'])}: DT001 {r['status']}"
        if r["status"] in ("skipped", "refuted"):
            lines.append(f"{head}: {escape(r.get('reason', ''))}" + (f" (max abs diff {r['dead_max_abs']:.3g})" if "dead_max_abs" in r else ""))
            continue
        text = f"{head}: dead taps set to {r['dead_values']}: outputs unchanged (max abs diff {r['dead_max_abs']:.3g})"
        if r.get("live"):
            last = r["live"]["tries"][-1]
            text += (f"; live tap {r['live']['tap']} {last['perturbation']}: conv output changed by "
                     f"{last['conv_output_max_abs']:.3g}, model output by {last['model_output_max_abs']:.3g}")
        lines.append(text)
    c = v["counts"]
    shapes = ", ".join(f"{escape(k)}={'x'.join(map(str, s)) or 'scalar'}" for k, s in v["inputs"].items())
    lines.append(f"{where}: {len(v['findings'])} DT001 finding(s): {c['confirmed']} confirmed, {c['refuted']} refuted, "
                 f"{c['inconclusive']} inconclusive, {c['skipped']} skipped ({v['runs']} onnxruntime runs; inputs {shapes})")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from analyzer.common import parse_input_shapes
    from analyzer.graph.build import GraphError
    from analyzer.io.load import LoadError
    from analyzer.report.text import escape
    from analyzer.shapes import ShapeError

    input_shapes = parse_input_shapes(args.input_shape)
    if import_ort() is None:
        print(ORT_MISSING, file=sys.stderr)
        return 2
    try:
        v = verify_findings(args.model, input_shapes)
    except (LoadError, GraphError) as e:
        print(f"{escape(args.model)}: {e.kind}: {escape(e.message)}", file=sys.stderr)
        return 2
    except (ShapeError, VerifyError) as e:
        print(f"{escape(args.model)}: verify: {escape(str(e))}", file=sys.stderr)
        return 2
    sys.stdout.write(render_verify(v, args.format))
    return 0 if v["ok"] else 2
