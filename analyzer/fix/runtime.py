"""Proof by execution in onnxruntime: sessions, ``fix --verify`` (:func:`compare_models`),
``fix --bench`` (:func:`bench`), and the :class:`Harness` that the rules' execution checks
(``onnxlint verify``) run through.

onnxruntime (the optional extra ``verify``) is imported only inside the functions below.
Inputs are those of :mod:`analyzer.fix.feeds`; outputs are compared as in
:mod:`analyzer.fix.compare`.

**Benchmark.**  Both models in onnxruntime (CPU, the same default ``SessionOptions``), one
input, ``BENCH_WARMUP`` warm-up runs each, then ``BENCH_RUNS`` timed runs each, alternating
original and fixed; medians and their ratio are reported.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from analyzer.fix.compare import TOLERANCES, compare_outputs, loosest, model_precision
from analyzer.fix.feeds import VerifyError, input_dims, make_feeds, proto_inputs

__all__ = [
    "BENCH_RUNS", "BENCH_WARMUP", "ORT_MISSING", "SCALE", "Harness", "VerifyError", "bench", "compare_models",
    "import_ort", "run_session", "session",
]  # fmt: skip

ORT_MISSING = "onnxruntime is not installed: pip install 'onnxlint[verify]'"
SCALE = 1e3  # the magnitude of the perturbations that execution checks add to weights
BENCH_RUNS, BENCH_WARMUP = 20, 3
MAX_PROTO = (1 << 31) - 1 - (1 << 20)


def import_ort():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def run_session(sess, names, feeds):
    try:
        return sess.run(names, feeds)
    except Exception as e:  # onnxruntime raises several exception types
        raise VerifyError(f"onnxruntime failed to run the model: {str(e).strip().splitlines()[0]}") from None


def session(src, ort=None, threads=None):
    """A CPU session of ``src`` (a path or serialized bytes)."""
    ort = ort or import_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise VerifyError(f"onnxruntime cannot load the model: {str(e).strip().splitlines()[0]}") from None


_TMP_DIRS: list = []


def serialize(model):
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


# -- fix --verify / --bench -----------------------------------------------------------


def compare_models(original, fixed, input_shapes=None, runs: int = 2) -> dict:
    """Run both models on the same seeded inputs; compare every output by name."""
    s0, s1 = session(str(original)), session(str(fixed))
    names = [o.name for o in s0.get_outputs()]
    if sorted(names) != sorted(o.name for o in s1.get_outputs()):
        raise VerifyError("the fixed model's outputs are not the original's")
    precision = model_precision(onnx.load(str(original), load_external_data=False))
    inputs = s0.get_inputs()
    dims = input_dims(inputs, input_shapes)
    worst: dict = {}
    for run in range(runs):
        feeds = make_feeds(inputs, dims, run)
        own = {i.name for i in s1.get_inputs()}  # a fix may remove an input nothing reads
        res = compare_outputs(names, run_session(s0, names, feeds),
                              run_session(s1, names, {k: v for k, v in feeds.items() if k in own}), precision)
        for r in res:
            w = worst.get(r["name"])
            if w is None or r["max_abs"] > w["max_abs"] or not r["ok"]:
                worst[r["name"]] = dict(r, ok=r["ok"] and (w is None or w["ok"]))
    rtol, atol = TOLERANCES[precision]
    return {"ok": all(w["ok"] for w in worst.values()), "runs": runs, "precision": precision, "rtol": rtol,
            "atol": atol, "inputs": dims, "outputs": [worst[n] for n in names]}  # fmt: skip


def bench(original, fixed, input_shapes=None, runs=None, warmup: int = BENCH_WARMUP, threads=None) -> dict:
    runs = runs or BENCH_RUNS
    s0, s1 = session(str(original), threads=threads), session(str(fixed), threads=threads)
    inputs = s0.get_inputs()
    feeds = make_feeds(inputs, input_dims(inputs, input_shapes), 0)
    for _ in range(warmup):
        run_session(s0, None, feeds)
        run_session(s1, None, feeds)
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


# -- the rules' execution checks ------------------------------------------------------


class Harness:
    """One model file, ready to run for the rules' ``verify_findings`` hooks.

    ``feeds`` are the seeded inputs (run 0) of the concrete ``dims``; ``model()`` is a
    ModelProto (with its weights) that the caller may modify; ``session(model)`` loads one
    in onnxruntime; ``run(sess, names, feeds)`` runs it (each call counts in ``runs``);
    ``probe(model, outputs)`` computes intermediate values on the model as it is (not
    counted); ``tolerance(model)`` is the precision to compare that model's outputs at (the
    report's precision is the loosest one asked for); ``compare(names, ref, got, precision)``
    compares outputs; ``scale`` is the magnitude that perturbations use.

    ``condition_holds`` is False when ``onnxlint verify`` runs a conditional finding (one
    with ``details.condition``) at a size just past its condition, where its claim is
    expected to fail: the hook then words a failed claim as that expected outcome, not as a
    bug (the status stays ``refuted``; the command reads it).  ``model_proto``: the model
    already loaded (an :meth:`at` harness shares it, read-only, and copies it for
    :meth:`model`)."""

    scale = SCALE
    condition_holds = True

    def __init__(self, path, input_shapes=None, model_proto=None):
        self.path = str(path)
        self._ort = import_ort()
        self._shared = model_proto
        self._model = onnx.load(self.path, load_external_data=True) if model_proto is None else None
        model_proto = model_proto if model_proto is not None else self._model
        self.inputs = proto_inputs(model_proto)
        self.dims = input_dims(self.inputs, input_shapes)
        self.feeds = make_feeds(self.inputs, self.dims, 0)
        self.runs = 0
        self._base_precision = model_precision(model_proto)
        self._precisions: list = []

    def model(self) -> onnx.ModelProto:
        model, self._model = self._model, None  # the first caller gets the one already loaded
        if model is not None:
            return model
        if self._shared is not None:
            copy = onnx.ModelProto()
            copy.CopyFrom(self._shared)
            return copy
        return onnx.load(self.path, load_external_data=True)

    def at(self, input_shapes, condition_holds=True) -> "Harness":
        """A harness of the same file at other input sizes (``input_shapes``: every input's
        dims), loading the model once for all of them; :meth:`absorb` its counts after."""
        if self._shared is None:  # the unused loaded model becomes the shared one (model() then copies it)
            self._shared, self._model = self._model or onnx.load(self.path, load_external_data=True), None
        h = Harness(self.path, input_shapes, model_proto=self._shared)
        h.condition_holds = condition_holds
        return h

    def absorb(self, other: "Harness") -> None:
        """Count ``other``'s runs and precisions as this harness's (the report's totals)."""
        self.runs += other.runs
        self._precisions.extend(other._precisions)
        other.runs, other._precisions = 0, []

    def session(self, model):
        return session(serialize(model), self._ort)

    def run(self, sess, names, feeds):
        self.runs += 1
        return run_session(sess, names, feeds)

    def probe(self, model, outputs: dict) -> dict:
        """``{name: value}`` of the tensors ``outputs`` (name -> elem type) on the feeds."""
        g = model.graph
        n_model = len(g.output)
        have = {o.name for o in g.output}
        for name, elem_type in outputs.items():
            if name not in have:
                g.output.append(helper.make_tensor_value_info(name, elem_type, None))
        probe = self.session(model)
        values = dict(zip([o.name for o in probe.get_outputs()], run_session(probe, None, self.feeds)))
        del probe, g.output[n_model:]
        return {n: values[n] for n in outputs}

    def tolerance(self, model) -> str:
        precision = model_precision(model)
        self._precisions.append(precision)
        return precision

    @property
    def precision(self) -> str:
        return loosest(self._precisions) if self._precisions else self._base_precision

    @staticmethod
    def compare(names, ref, got, precision) -> list:
        return compare_outputs(names, ref, got, precision)
