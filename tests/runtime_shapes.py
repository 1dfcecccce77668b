"""The runtime as ground truth for shapes (issue 17, item 3): a harness that makes every
intermediate value of a model's main graph a graph output, runs the model in onnxruntime
at one or more concrete input sizes, and compares every runtime shape with what
onnxlint's shape engine gives for that value.

Definitions (used by ``bench/runtime_coverage.py`` and ``tests/test_runtime_shapes.py``):

* a value is a node output of the main graph (values inside If/Loop/Scan bodies are not
  exposed; they are counted as ``subgraph_values``); a value whose runtime result is not
  a tensor (a sequence, an optional, a map) is counted as ``not_tensor`` and skipped;
* a run is one set of inputs.  A model with a fully static input is run once, as the
  file declares it (ours: no ``--input-shape``).  A model with dynamic input dims is run at
  every binding of its symbols given (random inputs by default), and ours is bound to the
  same sizes (``input_shapes``, as ``onnxlint shapes --input-shape`` does); ours is also
  taken unbound, and every symbolic size of ours is evaluated at the binding
  (``symbolic_exact``: pairs where that gives the runtime shape exactly);
* ``runtime_static``: (value, run) pairs compared (every shape is static at run time);
  ``exact``: those where ours has every dim concrete and equal to the runtime's;
  runtime coverage = exact / runtime_static;
* ``data_dependent``: pairs not exact whose size the input *values* set: ours gives
  them exactly once the fed inputs are made constants (a Reshape target, an Expand shape
  or a OneHot depth fed as an input: kind ``input data``), or ours gives a fresh symbol
  for a data-dependent size (NonZero's, Unique's, NonMaxSuppression's count: kind
  ``data-dependent op``).  Coverage of the sizes the input sizes determine =
  exact / (runtime_static - data_dependent); a miss of kind ``not computed`` is a gap;
* a *disagreement*: ours gives a definite size (a number; or, unbound, a symbolic
  expression of the input sizes) that the runtime does not produce, or a rank it does
  not have.  Sizes labelled ``value_info`` (a claim of the file, not ours) are not ours:
  a declaration the runtime contradicts is listed apart (``wrong_declarations``);
* ``declared_only``: values labelled ``inferred`` or ``onnx`` with a dim that equals the
  file's declaration and that the same model without its declarations does not give
  (a declaration passed off as inference; must be 0).

Models onnxruntime cannot load or run are skipped, with the reason.
"""
from __future__ import annotations

import glob
import os
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
ONNX_DATA_SETS = ("simple", "pytorch-operator", "pytorch-converted", "light", "real")
# sizes every symbolic input dim takes, one run each (odd and even: floor/ceil show)
DEFAULT_SIZES = (8, 13)


@dataclass
class Disagreement:
    model: str
    value: str
    ours: tuple
    runtime: tuple
    binding: str = ""  # "" for a static-input model; else "sym=v,..." (and "unbound" when ours was)

    def __str__(self):
        at = f" at {self.binding}" if self.binding else ""
        return f"{self.model}: {self.value}: ours {_fmt(self.ours)}, runtime {_fmt(self.runtime)}{at}"


@dataclass
class ModelResult:
    name: str
    source: str
    dynamic: bool = False
    skipped: str | None = None  # reason class when onnxruntime could not run it
    detail: str = ""
    runs: int = 0
    runtime_static: int = 0
    exact: int = 0
    disagreements: list = field(default_factory=list)
    misses: list = field(default_factory=list)  # (value, ours, runtime, source label, kind) not exact
    symbolic_exact: int = 0  # dynamic models: pairs where ours *unbound*, evaluated at the binding, is exact
    data_dependent: int = 0  # misses whose size the input *values* set (exact once they are constants)
    wrong_declarations: list = field(default_factory=list)
    declared_only: list = field(default_factory=list)
    subgraph_values: int = 0
    not_tensor: int = 0
    seconds: float = 0.0


@dataclass
class Case:
    """A model and how to feed it: ``feeds`` (recorded inputs, one dict per run) or, when
    None, random inputs at each binding of ``sizes``."""

    name: str
    source: str
    model: onnx.ModelProto
    feeds: list | None = None
    sizes: tuple = DEFAULT_SIZES


def _fmt(shape):
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# --------------------------------------------------------------------------------------
# model plumbing


def _graph_attrs(node):
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def _count_subgraph_values(graph) -> int:
    n = 0
    stack = [g for node in graph.node for g in _graph_attrs(node)]
    while stack:
        g = stack.pop()
        for node in g.node:
            n += sum(1 for o in node.output if o)
            stack.extend(_graph_attrs(node))
    return n


def computed_values(model) -> list:
    """Names of the main graph's node outputs, in node order (no inputs, no initializers)."""
    g = model.graph
    given = {i.name for i in g.input} | {t.name for t in g.initializer}
    seen, out = set(), []
    for node in g.node:
        for o in node.output:
            if o and o not in given and o not in seen:
                seen.add(o)
                out.append(o)
    return out


def with_all_outputs(model, names) -> onnx.ModelProto:
    """A copy whose graph outputs are the original ones and then every name of ``names``."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(onnx.ValueInfoProto(name=n))
    return m


def strip_declarations(model) -> onnx.ModelProto:
    """A copy without ``value_info`` and without the outputs' shapes, in every graph."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    stack = [m.graph]
    while stack:
        g = stack.pop()
        del g.value_info[:]
        for o in g.output:
            if o.type.HasField("tensor_type"):
                o.type.tensor_type.ClearField("shape")
        for node in g.node:
            stack.extend(_graph_attrs(node))
    return m


def feed_inputs(model):
    """The graph inputs that take a feed (an IR<4 initializer listed as an input does not)."""
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def declared_dims(vi):
    """The input's dims: int, a dim_param name (str), or None (unnamed); None if no shape."""
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def is_dynamic(model) -> bool:
    for vi in feed_inputs(model):
        dims = declared_dims(vi)
        if dims is None or any(not isinstance(d, int) for d in dims):
            return True
    return False


def random_feeds(model, size, rng):
    """({input: array}, {symbol: size}) with every symbolic or unnamed dim ``size``;
    None when an input is not a tensor or has no declared shape."""
    feeds, binding = {}, {}
    for vi in feed_inputs(model):
        dims = declared_dims(vi)
        if dims is None:
            return None, None
        shape = []
        for d in dims:
            if isinstance(d, str):
                binding[d] = size
            shape.append(d if isinstance(d, int) else size)
        np_type = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        if np_type.kind == "f":
            a = rng.standard_normal(shape).astype(np_type)
        elif np_type.kind in "iu":
            a = rng.integers(0, 2, size=shape).astype(np_type)
        elif np_type.kind == "b":
            a = rng.integers(0, 2, size=shape).astype(bool)
        else:
            return None, None
        feeds[vi.name] = a
    return feeds, binding


def binding_of(model, feeds) -> dict:
    """{symbol: size} that the fed arrays give the inputs' dim_params."""
    binding = {}
    for vi in feed_inputs(model):
        dims = declared_dims(vi)
        a = feeds.get(vi.name)
        if dims is None or not isinstance(a, np.ndarray) or a.ndim != len(dims):
            continue
        for d, n in zip(dims, a.shape):
            if isinstance(d, str):
                binding[d] = int(n)
    return binding


# --------------------------------------------------------------------------------------
# running


def _ort_reason(e) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    m = re.match(r"\[ONNXRuntimeError\] : \d+ : (\w+) : (.*)", msg)
    if not m:
        if re.search(r"Numpy_type \d+ can't be converted|Unable to handle object of type", msg):
            return "input type onnxruntime's Python API cannot take (float8, int4...)"
        if re.search(r"No corresponding Numpy type", msg):
            return "output type onnxruntime's Python API cannot return (float8, int4, bfloat16...)"
        return type(e).__name__
    code, rest = m.groups()
    for pat, label in (
        (r"Could not find an implementation|Failed to find kernel", "no kernel for an op/type"),
        (r"Exception during initialization: .*/rnn/", "RNN kernel refuses layout=1"),
        (r"Non-zero status code returned while running", "kernel failed on the test's inputs"),
        (r"locale", "locale not installed (StringNormalizer)"),
        (r"is not a registered function/op|Unrecognized attribute|No opset import for domain|opset \d+ is under development|Opset \d+ .*not supported|ir_version", "op, opset or IR version not supported"),
        (r"Type Error|type .* is invalid|Type \(.*\) of output arg", "type error"),
        (r"ShapeInferenceError|Shape mismatch|shape inference", "onnxruntime's shape inference refused it"),
    ):
        if re.search(pat, rest):
            return f"{code}: {label}"
    return code


def run_onnxruntime(model, names, feeds):
    """{name: runtime shape or None for a non-tensor} for the exposed ``names``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 4
    ort.set_default_logger_severity(4)
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(with_all_outputs(model, names).SerializeToString(), so, providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    fed = {i.name: feeds[i.name] for i in sess.get_inputs() if i.name in feeds}
    results = sess.run(None, fed)
    got = {}
    for n, r in zip(out_names, results):
        got[n] = tuple(int(d) for d in r.shape) if isinstance(r, np.ndarray) else None
    return got


def _ours(model, input_shapes=None):
    """{name: (shape, label)} for the main graph, as ``onnxlint shapes`` reports it."""
    from analyzer.model import analyze
    from analyzer.report.shapes import SOURCES

    am = analyze(model, input_shapes=input_shapes)
    return {name: (v.shape, SOURCES.get(v.source, "inferred")) for name, v in am.values("main").items()}, am


def with_constant_inputs(model, feeds, limit=4096) -> onnx.ModelProto:
    """A copy whose small fed inputs (at most ``limit`` elements) are initializers."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    kept = []
    for vi in list(m.graph.input):
        a = feeds.get(vi.name)
        if isinstance(a, np.ndarray) and a.size <= limit and vi.name not in {t.name for t in m.graph.initializer}:
            try:
                m.graph.initializer.append(numpy_helper.from_array(a, vi.name))
                continue
            except Exception:  # noqa: BLE001  (a dtype numpy_helper cannot write)
                pass
        kept.append(vi)
    del m.graph.input[:]
    m.graph.input.extend(kept)
    return m


def _ours_with_constant_inputs(model, feeds):
    try:
        return _ours(with_constant_inputs(model, feeds))[0]
    except Exception:  # noqa: BLE001
        return None


def _data_dependent(shape) -> bool:
    """Whether every dim of ours that is not a number is a fresh symbol the engine made for
    a data-dependent size (``unique_count(y)``, ``nonzero_count(idx)``...)."""
    from analyzer.shapes.dims import free_symbols

    if shape is None:
        return False
    rest = [d for d in shape if not isinstance(d, int)]
    return bool(rest) and all(isinstance(d, str) and free_symbols(d) and all("(" in f for f in free_symbols(d)) for d in rest)


def _declared(model) -> dict:
    out = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            out.setdefault(vi.name, tuple(d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim))
    return out


def declared_only(model, name="") -> list:
    """Values labelled inferred/onnx with a dim equal to the file's declaration that the
    model without its declarations does not give: [(value, with, without, declared)]."""
    declared = _declared(model)
    if not declared:
        return []
    with_decl, _ = _ours(model)
    without, _ = _ours(strip_declarations(model))
    found = []
    for v, (shape, label) in with_decl.items():
        d = declared.get(v)
        if d is None or shape is None or label not in ("inferred", "onnx"):
            continue
        other = without.get(v, (None, None))[0]
        for i, x in enumerate(shape):
            if x is None or i >= len(d) or d[i] is None or x != d[i] or len(d) != len(shape):
                continue
            if other is None or len(other) != len(shape) or other[i] != x:
                found.append((v, shape, other, d))
                break
    return found


def compare_one(shape, rt, env=None):
    """'exact', 'disagree' or 'partial' (ours unknown or symbolic somewhere).  With
    ``env``, symbolic dims of ours are evaluated at that binding first."""
    if shape is None:
        return "partial"
    if len(shape) != len(rt):
        return "disagree"
    exact = True
    for o, r in zip(shape, rt):
        if isinstance(o, str) and env is not None:
            from analyzer.shapes.dims import evaluate, free_symbols

            # only an expression of the bound input sizes is a definite size
            if free_symbols(o) and free_symbols(o) <= set(env):
                o = evaluate(o, env)
        if isinstance(o, int):
            if o != r:
                return "disagree"
        else:
            exact = False
    return "exact" if exact else "partial"


def run_case(case: Case, check_declarations=True, rng_seed=0) -> ModelResult:
    start = time.monotonic()
    model = case.model
    res = ModelResult(case.name, case.source)
    if not model.graph.node and model.doc_string.startswith("export failed"):
        res.skipped, res.detail = "export failed", model.doc_string
        return res
    res.dynamic = is_dynamic(model)
    res.subgraph_values = _count_subgraph_values(model.graph)
    names = computed_values(model)
    declared = _declared(model)
    rng = np.random.default_rng(rng_seed)
    runs = []  # (feeds, binding)
    if case.feeds is not None:
        runs = [(f, binding_of(model, f)) for f in case.feeds]
    elif res.dynamic:
        for size in case.sizes:
            feeds, binding = random_feeds(model, size, rng)
            if feeds is None:
                res.skipped = "input without a tensor shape and no recorded data"
                return res
            runs.append((feeds, binding))
    else:
        feeds, binding = random_feeds(model, 0, rng)
        if feeds is None:
            res.skipped = "input without a tensor shape and no recorded data"
            return res
        runs = [(feeds, binding)]
    try:
        unbound, _ = _ours(model) if res.dynamic else (None, None)
    except Exception as e:  # noqa: BLE001  (ours refuses the file: not a shape comparison)
        res.skipped = f"onnxlint refuses it ({type(e).__name__})"
        res.detail = str(e).splitlines()[0][:200] if str(e) else ""
        return res
    for feeds, binding in runs:
        try:
            rt = run_onnxruntime(model, names, feeds)
        except Exception as e:  # noqa: BLE001
            res.skipped = _ort_reason(e)
            res.detail = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            return res
        bound_shapes = None
        if res.dynamic:
            input_shapes = {}
            for vi in feed_inputs(model):
                a = feeds.get(vi.name)
                if isinstance(a, np.ndarray) and declared_dims(vi) is not None and len(declared_dims(vi)) == a.ndim:
                    input_shapes[vi.name] = [int(n) for n in a.shape]
            bound_shapes, _ = _ours(model, input_shapes)
            ours = bound_shapes
        else:
            ours, _ = _ours(model)
        at = ",".join(f"{k}={v}" for k, v in sorted(binding.items())) if res.dynamic else ""
        res.runs += 1
        run_misses = []
        for v in names:
            if v not in rt:
                continue
            r = rt[v]
            if r is None:
                res.not_tensor += 1
                continue
            d = declared.get(v)
            if d is not None and compare_one(d, r) == "disagree":
                res.wrong_declarations.append(Disagreement(case.name, v, d, r, at))
            shape, label = ours.get(v, (None, "unknown"))
            if label == "value_info":
                shape = None  # a claim of the file, not ours
            res.runtime_static += 1
            verdict = compare_one(shape, r)
            if verdict == "exact":
                res.exact += 1
            elif verdict == "disagree":
                res.disagreements.append(Disagreement(case.name, v, shape, r, at))
            else:
                run_misses.append((v, shape, r, label))
            if unbound is not None:
                ushape, ulabel = unbound.get(v, (None, "unknown"))
                uverdict = compare_one(ushape, r, env=binding) if ulabel != "value_info" else "partial"
                if uverdict == "disagree":
                    res.disagreements.append(Disagreement(case.name, v, ushape, r, (at + " (unbound)").strip()))
                res.symbolic_exact += uverdict == "exact"
        if run_misses:
            with_values = _ours_with_constant_inputs(model, feeds)
            for v, shape, r, label in run_misses:
                if with_values is not None and compare_one(with_values.get(v, (None,))[0], r) == "exact":
                    kind = "input data"
                elif _data_dependent(shape):
                    kind = "data-dependent op"
                else:
                    kind = "not computed"
                res.data_dependent += kind != "not computed"
                res.misses.append((v, shape, r, label, kind))
    if check_declarations:
        res.declared_only = declared_only(model, case.name)
    res.seconds = time.monotonic() - start
    return res


# --------------------------------------------------------------------------------------
# corpora


def _load_pb(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def sample_cases():
    for p in sorted(glob.glob(os.path.join(ROOT, "sample_models", "*.onnx"))):
        yield Case(os.path.basename(p), "committed samples", onnx.load(p))


def onnx_data_cases():
    """The onnx wheel's model graphs, with their recorded inputs where there are some."""
    for s in ONNX_DATA_SETS:
        for p in sorted(glob.glob(os.path.join(ONNX_DATA, s, "**", "*.onnx"), recursive=True)):
            model = onnx.load(p)
            ds = os.path.join(os.path.dirname(p), "test_data_set_0")
            feeds = None
            pbs = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda q: int(re.findall(r"\d+", os.path.basename(q))[0]))
            if pbs:
                ins = feed_inputs(model)
                try:
                    arrays = [_load_pb(q) for q in pbs]
                except Exception:  # noqa: BLE001  (not a tensor: sequence data)
                    arrays = None
                if arrays is not None and len(arrays) == len(ins):
                    feeds = [{vi.name: a for vi, a in zip(ins, arrays)}]
            name = os.path.relpath(os.path.dirname(p) if p.endswith("model.onnx") else p, ONNX_DATA)
            yield Case(name, "onnx wheel graphs", model, feeds)


def _as_feed(a):
    """A recorded input as onnxruntime takes it: numpy scalars as 0-d arrays, TensorProtos
    (types numpy has no dtype for: float8, int4...) decoded by onnx; sequences as lists."""
    if isinstance(a, np.generic):
        return np.asarray(a)
    if isinstance(a, TensorProto):
        try:
            return numpy_helper.to_array(a)
        except Exception:  # noqa: BLE001
            return a
    if isinstance(a, (list, tuple)):
        return [_as_feed(x) for x in a]
    return a


def node_test_cases(every=1):
    """onnx's operator test cases (built in memory by the installed onnx) with their
    recorded inputs; ``every``: keep one case in that many (sorted by name)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases

        cases = sorted((c for c in collect_testcases(None) if c.model is not None and c.data_sets), key=lambda c: c.name)
    for i, c in enumerate(cases):
        if i % every:
            continue
        inputs = [_as_feed(a) for a in c.data_sets[0][0]]
        ins = feed_inputs(c.model)
        if len(inputs) != len(ins):
            yield Case(c.name, "onnx operator test cases", c.model, [{}])  # arity mismatch: ORT says why
            continue
        feeds = {vi.name: a for vi, a in zip(ins, inputs)}
        yield Case(c.name, "onnx operator test cases", c.model, [feeds])


def ort_bundled_cases():
    try:
        import onnxruntime
    except ImportError:
        return
    for p in sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "**", "*.onnx"), recursive=True)):
        yield Case(os.path.basename(p), "onnxruntime's bundled models", onnx.load(p))


def waste_corpus_cases(names=None):
    """The waste corpus (issue 18): PyTorch blocks, both exporters (needs torch)."""
    from sample_models import waste_corpus

    for name, case in waste_corpus.CASES.items():
        if names is not None and name not in names:
            continue
        yield Case(name, "waste corpus", waste_corpus.build_case(case))


def tf_same_cases(sizes=(32, 24, 16, 8), slow_exports=False):
    """TF-"same" padding computed at run time (``sample_models/tf_same.py``): the small
    MobileNet-like network exported by both exporters, static at 32x32 and 16x16 (maps
    shrink to 2x2 and 1x1) and with dynamic batch, height and width (run at ``sizes``).
    An export that fails is a skipped case with the exporter's reason; the dynamo exporter
    with dynamic sizes is only tried with ``slow_exports`` (it did not finish in 17 min
    here; the committed ``sample_models/tf_same_*`` files are among the samples anyway)."""
    import torch

    from sample_models import export as ex
    from sample_models.tf_same import build_tf_same

    net, _ = build_tf_same()
    for exporter in ("legacy", "dynamo"):
        for label, hw, dynamic in (("32x32", 32, False), ("16x16", 16, False), ("dynamic", 32, True)):
            x = torch.randn(1, 3, hw, hw)
            name = f"tf_same_mobilenet_{exporter}_{label}"
            if dynamic and exporter == "dynamo" and not slow_exports:
                model = onnx.ModelProto()
                model.doc_string = "export failed: not attempted (torch 2.13's dynamo exporter ran 17 min without finishing here)"
                yield Case(name, "TF-'same' exports", model, sizes=sizes)
                continue
            try:
                model = ex._dynamo_proto(net, x, dynamic) if exporter == "dynamo" else ex._legacy_proto(net, x, dynamic, False)
            except Exception as e:  # noqa: BLE001
                model = onnx.ModelProto()
                model.doc_string = f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            yield Case(name, "TF-'same' exports", model, sizes=sizes)


def declaration_cases():
    """Our own small models with wrong or dynamic declarations (tests/test_declarations.py)."""
    from tests import test_declarations as td

    for name, build in td.BUILDERS.items():
        model, feeds = build()
        yield Case(name, "declaration cases", model, feeds)


def summarize(results) -> dict:
    """source -> totals (ModelResult fields summed) and the skip reasons counted."""
    out: dict = {}
    for r in results:
        s = out.setdefault(r.source, {"models": 0, "run": 0, "static_models": 0, "dynamic_models": 0, "runtime_static": 0, "exact": 0,
                                      "static_runtime_static": 0, "static_exact": 0, "disagreements": [], "wrong_declarations": [],
                                      "declared_only": [], "skipped": {}, "subgraph_values": 0, "not_tensor": 0, "misses": [],
                                      "data_dependent": 0, "static_data_dependent": 0, "dynamic_runtime_static": 0,
                                      "symbolic_exact": 0})  # fmt: skip
        s["models"] += 1
        if r.skipped:
            s["skipped"][r.skipped] = s["skipped"].get(r.skipped, 0) + 1
            continue
        s["run"] += 1
        s["dynamic_models" if r.dynamic else "static_models"] += 1
        s["runtime_static"] += r.runtime_static
        s["exact"] += r.exact
        s["data_dependent"] += r.data_dependent
        if r.dynamic:
            s["dynamic_runtime_static"] += r.runtime_static
            s["symbolic_exact"] += r.symbolic_exact
        if not r.dynamic:
            s["static_runtime_static"] += r.runtime_static
            s["static_exact"] += r.exact
            s["static_data_dependent"] += r.data_dependent
        s["disagreements"] += r.disagreements
        s["wrong_declarations"] += r.wrong_declarations
        s["declared_only"] += [(r.name,) + d for d in r.declared_only]
        s["subgraph_values"] += r.subgraph_values
        s["not_tensor"] += r.not_tensor
        s["misses"] += [(r.name,) + m for m in r.misses]
    return out


def coverage(exact, total) -> float:
    return 100.0 * exact / total if total else 100.0
