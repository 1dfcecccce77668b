"""DT001's execution check (``onnxlint verify``): each finding confirmed or refuted on the
model itself, through the harness of :mod:`analyzer.fix.runtime` (passed in: this module
never imports onnxruntime).

The conv's weight becomes a graph input (so one session runs every variant) and its output
an extra graph output.  *Dead*: all flagged dead taps of all flagged convs at once set to
``1e3 * N(0, 1)`` (integer weights: random values over the dtype's range); every model output
and every flagged conv's own output must match the unmodified run (each conv's input is then
unchanged, so each conv's claim holds on its own; if the joint run fails, each finding is run
alone to say which).  *Live*: ``+1e3 * N(0, 1)`` added at one live tap (the middle one), then
``-1e3 * N(0, 1)`` if the first left everything unchanged (a ReLU can hide one sign); the
conv's output or a model output must change.  Verdicts: ``confirmed``; ``refuted`` (a dead tap
changed an output: a bug in onnxlint); ``inconclusive`` (the live tap changed nothing on these
inputs); ``skipped`` (not in the main graph).  A harness with ``condition_holds`` False runs a
conditional finding just past its condition: there a dead-taps run that changes an output is
what the condition predicts, and the reason says so (the status stays ``refuted``, which
``onnxlint verify`` expects there).
"""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from analyzer.analyses.convs import CONV_OPS

from . import CODE

__all__ = ["verify_findings"]


def verify_findings(findings, am, harness) -> list:
    """One result per finding (see the module doc), each with a one-line ``message``."""
    results, targets = _targets(findings, am)
    model = harness.model()
    _read_weights(model, targets, am, harness)
    outputs, n_model = _instrument(model, targets)
    precision = harness.tolerance(model)
    sess = harness.session(model) if targets else None
    del model
    if targets:
        _Trials(harness, sess, outputs, n_model, targets, precision).run()
    for r in results:
        r["message"] = _message(r)
    return results


def _targets(findings, am):
    """The results (all ``skipped`` for now) and, per main-graph finding, what to run."""
    results, targets = [], []
    for f in findings:
        n_live = int(np.prod([len(a) for a in f.details["live_taps_per_axis"]]))
        r = {"rule": CODE, "node": f.node, "op_type": f.op_type, "status": "skipped",
             "dead_taps": int(np.prod(f.details["kernel_shape"])) - n_live, "dead_weights": f.details["dead_weights"]}
        results.append(r)
        if f.graph != "main":
            r["reason"] = f"inside {f.graph}"
            continue
        op = am.graph.ops[("op", "main", f.node_index)]
        if op.domain == "com.microsoft.nchwc":
            r["reason"] = "com.microsoft.nchwc.Conv is not supported (its weight is stored in the blocked NCHWc order)"
            continue
        w_pos = CONV_OPS[op.op_type][1]
        out_dtype = am.info(op.outputs[0]).dtype
        if out_dtype is None:
            r["reason"] = "output type unknown"
            continue
        targets.append({"result": r, "index": op.index, "w_pos": w_pos, "weight": op.inputs[w_pos][2],
                        "out": op.outputs[0][2], "out_dtype": out_dtype, "kernel": f.details["kernel_shape"],
                        "live": f.details["live_taps_per_axis"], "fed": f"__onnxlint_verify_w{len(targets)}"})  # fmt: skip
    return results, targets


def _read_weights(model, targets, am, harness):
    """Each target's weight values: initializers directly, anything else from one run of the
    original model; then the weight becomes a graph input of the model."""
    g = model.graph
    feeds = harness.feeds
    inits = {t.name: t for t in g.initializer}
    computed = [t["weight"] for t in targets if t["weight"] not in inits and t["weight"] not in feeds]
    weights = {}
    if computed:
        weights = harness.probe(model, {n: am.info(("value", "main", n)).dtype or 0 for n in dict.fromkeys(computed)})
    for t in targets:
        w = t["weight"]
        t["value"] = weights[w] if w in weights else feeds[w] if w in feeds else numpy_helper.to_array(inits[w])
        node = g.node[t["index"]]
        node.input[t["w_pos"]] = t["fed"]
        g.input.append(helper.make_tensor_value_info(t["fed"], helper.np_dtype_to_tensor_dtype(t["value"].dtype),
                                                     list(t["value"].shape)))  # fmt: skip


def _instrument(model, targets):
    """Every flagged conv's output becomes a graph output: the output names, and how many
    of them are the model's own."""
    g = model.graph
    n_model = len(g.output)
    outputs = [o.name for o in g.output]
    for t in targets:
        if t["out"] not in outputs:
            g.output.append(helper.make_tensor_value_info(t["out"], t["out_dtype"], None))
            outputs.append(t["out"])
        t["pos"] = outputs.index(t["out"])
    return outputs, n_model


class _Trials:
    """The runs of one session: the unmodified run, then the dead and live perturbations."""

    def __init__(self, harness, sess, outputs, n_model, targets, precision):
        self.harness, self.sess, self.outputs, self.n_model = harness, sess, outputs, n_model
        self.targets, self.precision = targets, precision
        self.base_w = {t["fed"]: t["value"] for t in targets}
        self.rng = np.random.default_rng(7)
        self.base = self._run({})

    def _run(self, over):
        return self.harness.run(self.sess, self.outputs, {**self.harness.feeds, **self.base_w, **over})

    def _compare(self, over):
        return self.harness.compare(self.outputs, self.base, self._run(over), self.precision)

    def _dead_weights(self, t):
        w = np.array(t["value"], copy=True)
        mask = _dead_mask(w.shape[2:], t["live"])
        w[:, :, mask] = _noise(self.rng, w[:, :, mask].shape, w.dtype, self.harness.scale)
        return w

    def run(self):
        joint = self._compare({t["fed"]: self._dead_weights(t) for t in self.targets})
        joint_ok = all(c["ok"] for c in joint)
        for t in self.targets:
            if self._dead(t, joint if joint_ok else self._compare({t["fed"]: self._dead_weights(t)}), joint_ok):
                self._live(t)

    def _dead(self, t, res, joint_ok) -> bool:
        """Record the dead-taps trial; False when it refutes the finding."""
        r = t["result"]
        mine = [c for i, c in enumerate(res) if i < self.n_model or i == t["pos"]]
        r["dead_max_abs"] = max((c["max_abs"] for c in mine), default=0.0)
        r["dead_perturbation"] = "all dead taps of all findings at once" if joint_ok else "this finding's dead taps"
        integer = np.issubdtype(t["value"].dtype, np.integer)
        r["dead_values"] = f"random {t['value'].dtype} values" if integer else f"{self.harness.scale:g}*N(0,1)"
        if not all(c["ok"] for c in mine):
            r["status"] = "refuted"
            if getattr(self.harness, "condition_holds", True):
                r["reason"] = "overwriting the dead taps changed an output: this is a bug in onnxlint, please report it"
            else:  # run past a conditional finding's condition: the taps must be live there
                r["reason"] = "overwriting the taps it says are dead changes an output: they are live at this size"
            return False
        return True

    def _live(self, t):
        """Perturb one live tap (+, then - if nothing changed): something must change."""
        r = t["result"]
        live_taps = [tuple(x) for x in _product(t["live"])]
        if not live_taps:
            r["status"], r["live"] = "confirmed", None
            return
        tap = live_taps[len(live_taps) // 2]
        w = t["value"]
        integer = np.issubdtype(w.dtype, np.integer)
        scale = self.harness.scale
        r["live"] = {"tap": list(tap), "tries": []}
        for sign in (1, -1):
            w2 = np.array(w, copy=True)
            idx = (slice(None), slice(None), *tap)
            if integer:
                info = np.iinfo(w.dtype)
                w2[idx] = info.max if sign > 0 else info.min
            else:
                w2[idx] = w2[idx] + sign * _noise(self.rng, w2[idx].shape, w.dtype, scale)
            res = self._compare({t["fed"]: w2})
            model_res = res[: self.n_model]
            changed = not res[t["pos"]]["ok"] or not all(c["ok"] for c in model_res)
            what = (f"set to {w2[idx].flat[0]}" if integer else f"{'+' if sign > 0 else '-'}{scale:g}*N(0,1)")
            r["live"]["tries"].append({"perturbation": what, "conv_output_max_abs": res[t["pos"]]["max_abs"],
                                       "model_output_max_abs": max((c["max_abs"] for c in model_res), default=0.0),
                                       "changed": changed})  # fmt: skip
            if changed:
                break
        if any(x["changed"] for x in r["live"]["tries"]):
            r["status"] = "confirmed"
        else:
            r["status"] = "inconclusive"
            r["reason"] = "changing the live tap changed no output on these inputs"


def _message(r) -> str:
    """The text after ``NODE: DT001 STATUS: `` in the report."""
    if r["status"] in ("skipped", "refuted"):
        return r.get("reason", "") + (f" (max abs diff {r['dead_max_abs']:.3g})" if "dead_max_abs" in r else "")
    text = f"dead taps set to {r['dead_values']}: outputs unchanged (max abs diff {r['dead_max_abs']:.3g})"
    if r.get("live"):
        last = r["live"]["tries"][-1]
        text += (f"; live tap {r['live']['tap']} {last['perturbation']}: conv output changed by "
                 f"{last['conv_output_max_abs']:.3g}, model output by {last['model_output_max_abs']:.3g}")
    return text


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


def _product(lists):
    out = [()]
    for lv in lists:
        out = [p + (j,) for p in out for j in lv]
    return out
