"""An onnxruntime execution oracle for dead convolution taps.

Nothing here knows the tap geometry: every verdict comes from *running* a model in
onnxruntime (CPU) with some conv weights changed and comparing the outputs with an
unchanged run.  The analyzer is never imported.

Three tools, from the most literal to the cheapest:

* :func:`perturbed_copy` / :func:`compare_perturbed`: write a modified copy of the model
  (in a temporary directory, weights as external data when the model is big) in which
  one Conv's weight initializer has chosen taps overwritten, run the original and the
  copy on the same seeded random inputs, and return the max abs difference of every
  output.  One session per modified model: exact, but each call costs a model save
  and a session creation.
* :class:`WeightFeedSession`: the same model in which chosen conv weight initializers
  are turned into graph inputs, so that one onnxruntime session runs any number of
  weight perturbations (the baseline is run through the same session, with the
  original weights fed).  This is how a whole model's flagged convs are confirmed
  affordably.
* :func:`conv_input_activations` and :func:`dead_taps_by_execution`: run the model
  once with every Conv's input added as an extra graph output, then run each Conv
  *alone* (a one-node ONNX model, weight as an input) on that real activation, once
  per kernel tap with the weights at that tap (all in/out channels) overwritten by
  large random values.  A tap whose overwrite leaves the conv's output unchanged is
  dead.  This answers "which taps of which conv are dead" for every conv of a model
  at the cost of one full run plus a few small ones.

Convention for taps: a tap is a kernel index tuple (``(kh, kw)`` for a 2-D conv);
"the weights at a tap" are ``W[:, :, kh, kw]`` (every output and input channel).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
import tempfile
from typing import Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "BIG_MODEL_BYTES",
    "ConvTaps",
    "WeightFeedSession",
    "compare_perturbed",
    "conv_input_activations",
    "conv_nodes",
    "dead_taps_by_execution",
    "find_conv",
    "constant_array",
    "initializer_array",
    "load_model",
    "make_session",
    "max_abs_diffs",
    "output_scale",
    "perturb_taps",
    "perturbed_copy",
    "random_inputs",
    "run_model",
    "save_model",
]

#: Models whose serialized size exceeds this are saved with their weights as external data.
BIG_MODEL_BYTES = 64 * 1024 * 1024

_ELEM_TO_NP = {
    TensorProto.FLOAT: np.float32,
    TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT16: np.float16,
    TensorProto.INT64: np.int64,
    TensorProto.INT32: np.int32,
    TensorProto.INT8: np.int8,
    TensorProto.UINT8: np.uint8,
    TensorProto.BOOL: np.bool_,
}


# --------------------------------------------------------------------------------------
# loading, saving, running


def load_model(path) -> onnx.ModelProto:
    """Load a model *with* its external data (``model.onnx.data`` beside it is read)."""
    return onnx.load(str(path), load_external_data=True)


def save_model(model: onnx.ModelProto, path, external_data: bool | None = None) -> pathlib.Path:
    """Save ``model`` to ``path``; big models (or ``external_data=True``) get ``PATH.data``."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_name(path.name + ".data")
    if data.exists():
        data.unlink()  # onnx appends to an existing external-data file
    if external_data is None:
        external_data = model.ByteSize() > BIG_MODEL_BYTES
    if external_data:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data.name,
            size_threshold=1024,
        )
    else:
        onnx.save_model(model, str(path))
    return path


def make_session(path_or_bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU onnxruntime session (default graph optimizations)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    src = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def _ort_type_to_np(t: str):
    table = {
        "tensor(float)": np.float32,
        "tensor(double)": np.float64,
        "tensor(float16)": np.float16,
        "tensor(int64)": np.int64,
        "tensor(int32)": np.int32,
        "tensor(int8)": np.int8,
        "tensor(uint8)": np.uint8,
        "tensor(bool)": np.bool_,
    }
    if t not in table:
        raise NotImplementedError(f"input type {t} not supported by the oracle")
    return table[t]


def random_inputs(session: ort.InferenceSession, dims: dict | None = None, seed: int = 0,
                  skip: Iterable[str] = ()) -> dict:
    """Seeded random inputs of the session's declared input shapes.

    ``dims`` binds symbolic dimensions by name (``{"batch": 1, "height": 16}``); a
    dimension with neither a value nor a bound name is an error.  Float inputs are
    uniform in [0, 1) (an image-like range), integer inputs in [0, 4).
    """
    dims = dict(dims or {})
    skip = set(skip)
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in session.get_inputs():
        if inp.name in skip:
            continue
        shape = []
        for d in inp.shape:
            if isinstance(d, int) and d >= 0:
                shape.append(d)
            elif isinstance(d, str) and d in dims:
                shape.append(int(dims[d]))
            else:
                raise ValueError(f"input {inp.name!r}: dimension {d!r} is not bound (pass dims={{{d!r}: N}})")
        dtype = _ort_type_to_np(inp.type)
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.random(shape, dtype=np.float64).astype(dtype)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.random(shape) < 0.5
        else:
            feeds[inp.name] = rng.integers(0, 4, size=shape).astype(dtype)
    return feeds


def run_model(path_or_session, feeds: dict) -> list[np.ndarray]:
    sess = path_or_session if isinstance(path_or_session, ort.InferenceSession) else make_session(path_or_session)
    return sess.run(None, feeds)


def max_abs_diffs(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> list[float]:
    """Max abs difference of every output (``inf`` if a shape differs or a value is not finite)."""
    out = []
    for x, y in zip(a, b, strict=True):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            out.append(float("inf"))
            continue
        d = np.abs(x - y)
        out.append(float(d.max()) if d.size else 0.0)
        if not np.all(np.isfinite(x) == np.isfinite(y)):
            out[-1] = float("inf")
    return out


def output_scale(outputs: Sequence[np.ndarray]) -> list[float]:
    """Per output: ``max(1, max |value|)``, the scale relative tolerances are taken against."""
    return [max(1.0, float(np.abs(np.asarray(o, dtype=np.float64)).max()) if np.size(o) else 1.0) for o in outputs]


# --------------------------------------------------------------------------------------
# conv nodes and their weights


def _node_id(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"{node.op_type}#{index}"


def conv_nodes(model: onnx.ModelProto, op_types: Sequence[str] = ("Conv",)) -> list[tuple[int, onnx.NodeProto]]:
    """``(index, node)`` of the main graph's convs (index = position in ``graph.node``)."""
    return [(i, n) for i, n in enumerate(model.graph.node) if n.op_type in op_types and n.domain in ("", "ai.onnx")]


def find_conv(model: onnx.ModelProto, node) -> tuple[int, onnx.NodeProto]:
    """A Conv of the main graph by index (int) or by name / synthesized ``Conv#<index>`` id."""
    nodes = model.graph.node
    if isinstance(node, (int, np.integer)):
        i = int(node)
        if not 0 <= i < len(nodes):
            raise KeyError(f"no node #{i}")
        return i, nodes[i]
    for i, n in enumerate(nodes):
        if n.name == node or (not n.name and _node_id(n, i) == node):
            return i, n
    raise KeyError(f"no node named {node!r}")


def _initializer_proto(model: onnx.ModelProto, name: str) -> onnx.TensorProto | None:
    for init in model.graph.initializer:
        if init.name == name:
            return init
    return None


def constant_array(model: onnx.ModelProto, name: str) -> np.ndarray:
    """The value of tensor ``name`` if it is constant: an initializer, a ``Constant`` node's
    output, or an ``Identity`` chain ending in one (the legacy exporter writes a weight
    equal to another one as ``Identity(other)``)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    seen = set()
    while name not in seen:
        seen.add(name)
        init = _initializer_proto(model, name)
        if init is not None:
            return numpy_helper.to_array(init)
        node = producers.get(name)
        if node is None:
            break
        if node.op_type == "Identity" and node.domain in ("", "ai.onnx"):
            name = node.input[0]
            continue
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for a in node.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
        break
    raise KeyError(f"{name!r} is not a constant (computed weights are not supported by this oracle)")


#: Kept for callers that know their weight is an initializer.
initializer_array = constant_array


def _set_conv_weight(model: onnx.ModelProto, index: int, value: np.ndarray) -> str:
    """Make conv ``index`` use ``value`` as its weight; returns the weight tensor's name.

    The weight initializer is overwritten in place when this conv is its only reader;
    otherwise (shared, or reached through Identity / Constant) the conv is rewired to a
    new initializer so that no other node sees the change.
    """
    node = model.graph.node[index]
    name = node.input[1]
    readers = sum(1 for n in model.graph.node for i in n.input if i == name)
    readers += sum(1 for o in model.graph.output if o.name == name)
    proto = _initializer_proto(model, name)
    if proto is not None and readers == 1:
        proto.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))  # drops any external-data ref
        return name
    new_name = f"{name}__oracle_{index}"
    model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), new_name))
    node.input[1] = new_name
    return new_name


def _as_tap_list(taps, kernel_shape) -> list[tuple[int, ...]]:
    out = []
    for t in taps:
        t = tuple(int(k) for k in t)
        if len(t) != len(kernel_shape) or any(not 0 <= k < n for k, n in zip(t, kernel_shape)):
            raise ValueError(f"tap {t} outside kernel {tuple(kernel_shape)}")
        out.append(t)
    return out


def perturb_taps(weight: np.ndarray, taps, *, mode: str = "set", scale: float = 1e3,
                 rng: np.random.Generator | int = 0) -> np.ndarray:
    """A copy of ``weight`` whose values at ``taps`` (every out/in channel) are changed.

    ``mode="set"``: overwritten by ``scale * N(0, 1)``; ``mode="add"``: ``scale * N(0, 1)``
    added.  The original is not modified.
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    w = np.array(weight, copy=True)
    kernel = w.shape[2:]
    for t in _as_tap_list(taps, kernel):
        noise = (scale * rng.standard_normal(w.shape[:2])).astype(w.dtype)
        idx = (slice(None), slice(None), *t)
        w[idx] = noise if mode == "set" else w[idx] + noise
    return w


# --------------------------------------------------------------------------------------
# 1. a modified copy on disk


def perturbed_copy(model_path, node, taps, out_dir, *, mode: str = "set", scale: float = 1e3, seed: int = 0,
                   model: onnx.ModelProto | None = None) -> pathlib.Path:
    """Write a copy of the model in ``out_dir`` whose conv ``node`` has ``taps`` perturbed.

    ``model``, if given, is the already loaded model (it is copied, not modified).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString()) if model is not None else load_model(model_path)
    index, conv = find_conv(model, node)
    if conv.op_type != "Conv":
        raise ValueError(f"node {node!r} is a {conv.op_type}, not a Conv")
    w = constant_array(model, conv.input[1])
    _set_conv_weight(model, index, perturb_taps(w, taps, mode=mode, scale=scale, rng=seed))
    out = pathlib.Path(out_dir) / (pathlib.Path(model_path).stem + "_perturbed.onnx")
    return save_model(model, out)


@dataclasses.dataclass
class Comparison:
    """Max abs differences, modified vs original, of every output."""

    diffs: list[float]
    scales: list[float]  # per output: max(1, max |original|)
    names: list[str] | None = None
    n_model_outputs: int | None = None  # the first outputs are the model's own; the rest were exposed

    @property
    def rel(self) -> list[float]:
        return [d / s for d, s in zip(self.diffs, self.scales)]

    @property
    def model_rel(self) -> list[float]:
        return self.rel[: self.n_model_outputs] if self.n_model_outputs is not None else self.rel

    def identical(self, rtol: float = 1e-5) -> bool:
        """Every output (exposed ones included) within ``rtol`` of its scale."""
        return all(r <= rtol for r in self.rel)

    def model_changed(self, rtol: float = 1e-5) -> bool:
        """Some *model* output moved by more than ``rtol`` of its scale."""
        return any(r > rtol for r in self.model_rel)

    def changed_at(self, position: int, rtol: float = 1e-5) -> bool:
        return self.rel[position] > rtol


def compare_perturbed(model_path, node, taps, *, dims: dict | None = None, seed: int = 0, mode: str = "set",
                      scale: float = 1e3, workdir=None, feeds: dict | None = None,
                      baseline: list[np.ndarray] | None = None) -> Comparison:
    """Run the original model and a copy with ``taps`` of conv ``node`` perturbed; compare outputs.

    The copy is written to ``workdir`` (a fresh temporary directory if omitted, removed after).
    ``feeds`` / ``baseline`` let several calls share the inputs and the original outputs.
    """
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        mod_path = perturbed_copy(model_path, node, taps, tmp, mode=mode, scale=scale, seed=seed)
        mod_sess = make_session(mod_path)
        if feeds is None:
            feeds = random_inputs(mod_sess, dims, seed)
        if baseline is None:
            baseline = run_model(model_path, feeds)
        modified = mod_sess.run(None, feeds)
        del mod_sess
    return Comparison(max_abs_diffs(modified, baseline), output_scale(baseline))


# --------------------------------------------------------------------------------------
# 2. many weight perturbations through one session


class WeightFeedSession:
    """The model with chosen convs' weight initializers turned into graph inputs, in one session.

    ``nodes`` are Conv nodes (indices or names).  Their weights become graph inputs, so one
    ORT session runs any number of weight perturbations; ``run(feeds, overrides)`` feeds
    the original value of every such weight except those in ``overrides`` (``{fed name:
    array}``, see :meth:`weight_of` / :meth:`perturbed`).  Each conv gets its own weight
    input ``__oracle_w_<index>``, so a weight shared with another node is changed for
    this conv only.  With ``expose_conv_outputs`` each of these convs' outputs is also added as a
    graph output (after the model's own outputs), so that a check can see the conv's own
    effect even where the rest of the network masks it (a ReLU that zeroes a branch).
    The converted model is saved in ``workdir`` (weights as external data when big) and
    removed by :meth:`close`.
    """

    def __init__(self, model_path, nodes: Iterable, workdir=None, model: onnx.ModelProto | None = None,
                 expose_conv_outputs: bool = True):
        model = onnx.ModelProto.FromString(model.SerializeToString()) if model is not None else load_model(model_path)
        graph = model.graph
        self.n_model_outputs = len(graph.output)
        self.model_output_names = [o.name for o in graph.output]
        self.convs: dict[int, tuple[str, str, str]] = {}  # index -> (node id, fed weight name, output name)
        self.weights: dict[str, np.ndarray] = {}
        old_names = set()
        for n in nodes:
            index, node = find_conv(model, n)
            if node.op_type != "Conv":
                raise ValueError(f"node {n!r} is a {node.op_type}, not a Conv")
            if index in self.convs:
                continue
            # Each conv gets its own weight input, so a weight shared by several convs (or
            # reached through Identity) is perturbed for this conv only.
            arr = constant_array(model, node.input[1])
            fed = f"__oracle_w_{index}"
            old_names.add(node.input[1])
            node.input[1] = fed
            self.weights[fed] = arr
            graph.input.append(helper.make_tensor_value_info(fed, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
            self.convs[index] = (_node_id(node, index), fed, node.output[0])
        still_read = {i for nd in graph.node for i in nd.input} | {o.name for o in graph.output}
        kept = [init for init in graph.initializer if init.name not in old_names or init.name in still_read]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        if expose_conv_outputs:
            present = set(self.model_output_names)
            for index in sorted(self.convs):
                _, wname, out = self.convs[index]
                if out not in present:
                    graph.output.append(helper.make_tensor_value_info(out, self._elem(wname), None))
                    present.add(out)
        self.output_names = [o.name for o in graph.output]
        self._tmp = tempfile.TemporaryDirectory(dir=workdir)
        self.path = save_model(model, pathlib.Path(self._tmp.name) / "weight_feed.onnx")
        del model
        self.session = make_session(self.path)

    def _elem(self, wname: str) -> int:
        return helper.np_dtype_to_tensor_dtype(self.weights[wname].dtype)

    def random_inputs(self, dims: dict | None = None, seed: int = 0) -> dict:
        return random_inputs(self.session, dims, seed, skip=self.weights)

    def run(self, feeds: dict, overrides: dict | None = None) -> list[np.ndarray]:
        overrides = overrides or {}
        unknown = set(overrides) - set(self.weights)
        if unknown:
            raise KeyError(f"not fed weights: {sorted(unknown)[:5]}")
        all_feeds = dict(feeds)
        for name, value in self.weights.items():
            all_feeds[name] = overrides.get(name, value)
        return self.session.run(None, all_feeds)

    def weight_of(self, node) -> str:
        return self.convs[self._index(node)][1]

    def _index(self, node) -> int:
        if isinstance(node, (int, np.integer)) and int(node) in self.convs:
            return int(node)
        for index, (nid, _, _) in self.convs.items():
            if nid == node:
                return index
        raise KeyError(f"conv {node!r} is not fed by this session")

    def compare(self, feeds: dict, overrides: dict, baseline: list[np.ndarray] | None = None) -> "Comparison":
        """Run with ``overrides`` and compare every output (model outputs first) with ``baseline``."""
        if baseline is None:
            baseline = self.run(feeds)
        return Comparison(max_abs_diffs(self.run(feeds, overrides), baseline), output_scale(baseline),
                          self.output_names, self.n_model_outputs)

    def perturbed(self, node, taps, *, mode: str = "set", scale: float = 1e3, seed: int = 0) -> dict:
        """``{weight: perturbed copy}`` for conv ``node``, ready for :meth:`run` / :meth:`compare`."""
        wname = self.weight_of(node)
        return {wname: perturb_taps(self.weights[wname], taps, mode=mode, scale=scale, rng=seed)}

    def check_dead(self, node, taps, feeds, baseline, *, scale: float = 1e3, seed: int = 0) -> "Comparison":
        """Overwrite ``taps`` of conv ``node`` with ``scale * N(0, 1)``; compare every output."""
        return self.compare(feeds, self.perturbed(node, taps, mode="set", scale=scale, seed=seed), baseline)

    def check_live(self, node, tap, feeds, baseline, *, scale: float = 1e3, seed: int = 0) -> list["Comparison"]:
        """Add ``+d`` and then ``-d`` (``d = scale * N(0, 1)``) to the weights at ``tap``.

        Both signs, because a ReLU after the conv can swallow one of them (a branch whose
        outputs are all negative stays negative if ``d`` pushes it further down): a live
        tap changes the output with at least one sign.
        """
        return [self.compare(feeds, self.perturbed(node, [tap], mode="add", scale=s, seed=seed), baseline)
                for s in (scale, -scale)]

    def conv_output_position(self, node) -> int:
        return self.output_names.index(self.convs[self._index(node)][2])

    def close(self) -> None:
        self.session = None
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# 3. each conv alone on its real input activation


def conv_input_activations(model_path, feeds: dict | None = None, *, dims: dict | None = None, seed: int = 0,
                           model: onnx.ModelProto | None = None, workdir=None
                           ) -> tuple[dict[int, np.ndarray], list[np.ndarray], dict]:
    """Run the model once with every main-graph Conv's data input added as a graph output.

    Returns ``({conv node index: input activation}, model outputs, feeds)``.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString()) if model is not None else load_model(model_path)
    graph = model.graph
    n_outputs = len(graph.output)
    convs = conv_nodes(model)
    existing = {o.name for o in graph.output}
    graph_inputs = {i.name for i in graph.input}
    wanted: dict[str, list[int]] = {}
    for i, node in convs:
        wanted.setdefault(node.input[0], []).append(i)
    extra = []
    for name in wanted:
        if name in existing or name in graph_inputs:
            continue
        weight = model.graph.node[wanted[name][0]].input[1]  # Conv: X and W share one type
        elem = helper.np_dtype_to_tensor_dtype(constant_array(model, weight).dtype)
        graph.output.append(helper.make_tensor_value_info(name, elem, None))
        extra.append(name)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = save_model(model, pathlib.Path(tmp) / "with_conv_inputs.onnx")
        del model
        sess = make_session(path)
        if feeds is None:
            feeds = random_inputs(sess, dims, seed)
        names = [o.name for o in sess.get_outputs()]
        values = dict(zip(names, sess.run(None, feeds)))
        del sess
    values.update({k: v for k, v in feeds.items()})
    acts = {i: values[name] for name, idxs in wanted.items() for i in idxs}
    return acts, [values[n] for n in names[:n_outputs]], feeds


@dataclasses.dataclass
class ConvTaps:
    """Execution verdict for one conv: which taps changed its output when overwritten."""

    index: int
    name: str
    weight: str
    kernel_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    dead_taps: list[tuple[int, ...]]
    live_taps: list[tuple[int, ...]]
    diffs: dict  # tap -> max abs difference of the conv output
    out_scale: float  # max(1, max |conv output|)

    @property
    def has_dead_tap(self) -> bool:
        return bool(self.dead_taps)


def _single_conv_model(node: onnx.NodeProto, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                       opset: int, ir_version: int) -> onnx.ModelProto:
    elem = helper.np_dtype_to_tensor_dtype(w.dtype)
    inputs = [helper.make_tensor_value_info("X", elem, list(x.shape)),
              helper.make_tensor_value_info("W", elem, list(w.shape))]
    inits = []
    node_inputs = ["X", "W"]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "B"))
        node_inputs.append("B")
    conv = helper.make_node("Conv", node_inputs, ["Y"])
    conv.attribute.extend(node.attribute)
    graph = helper.make_graph([conv], "single_conv", inputs, [helper.make_tensor_value_info("Y", elem, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version
    return m


def dead_tap_set(model_path, model: onnx.ModelProto, dims: dict, node: str) -> set:
    """The dead taps of the one conv ``node`` by execution at ``dims``, as a set of tap
    tuples (see :func:`dead_taps_by_execution`)."""
    (ct,) = dead_taps_by_execution(model_path, model=model, dims=dims, nodes=[node]).values()
    return {tuple(t) for t in ct.dead_taps}


def dead_taps_by_execution(model_path, *, dims: dict | None = None, seed: int = 0, scale: float = 1e3,
                           rtol: float = 1e-5, nodes: Iterable | None = None, min_taps: int = 1,
                           model: onnx.ModelProto | None = None, workdir=None,
                           activations: tuple | None = None) -> dict[int, ConvTaps]:
    """Per Conv (by node index): its dead taps, found by execution.

    The model runs once (seeded random inputs; ``dims`` binds dynamic dims) with every
    conv input exposed; then each conv (all of them, or those in ``nodes``: indices or
    names; convs with fewer than ``min_taps`` taps are skipped) runs alone in ORT on its
    real input: once with its weights, once per tap with ``W[:, :, *tap]`` overwritten by
    ``scale * N(0, 1)``.  A tap is dead iff the conv output's max abs change is
    ``<= rtol * max(1, max |output|)``.
    """
    model = load_model(model_path) if model is None else model
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    if activations is None:
        activations = conv_input_activations(model_path, dims=dims, seed=seed, model=model, workdir=workdir)
    acts = activations[0]
    wanted = None
    if nodes is not None:
        wanted = {find_conv(model, n)[0] for n in nodes}
    rng = np.random.default_rng(seed + 1)
    results: dict[int, ConvTaps] = {}
    for index, node in conv_nodes(model):
        if wanted is not None and index not in wanted:
            continue
        w = constant_array(model, node.input[1])
        kernel = tuple(w.shape[2:])
        n_taps = int(np.prod(kernel))
        if n_taps < min_taps:
            continue
        b = constant_array(model, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        x = acts[index]
        single = _single_conv_model(node, x, w, b, opset, model.ir_version)
        sess = make_session(single.SerializeToString())
        y0 = sess.run(None, {"X": x, "W": w})[0]
        out_scale = output_scale([y0])[0]
        dead, live, diffs = [], [], {}
        for tap in itertools.product(*(range(k) for k in kernel)):
            w2 = perturb_taps(w, [tap], mode="set", scale=scale, rng=rng)
            y = sess.run(None, {"X": x, "W": w2})[0]
            d = max_abs_diffs([y], [y0])[0]
            diffs[tap] = d
            (dead if d <= rtol * out_scale else live).append(tap)
        results[index] = ConvTaps(index, _node_id(node, index), node.input[1], kernel, tuple(x.shape),
                                  dead, live, diffs, out_scale)
    return results
