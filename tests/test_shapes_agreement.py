"""Our shape engine against onnx.shape_inference.infer_shapes(data_prop=True), model by model.

The corpus is every model the project can build or find in installed packages:

* ``sample_models/*.onnx`` (the committed samples);
* the model graphs bundled in the onnx wheel
  (``onnx/backend/test/data/{light,real,simple,pytorch-converted,pytorch-operator}``);
* the models of onnx's operator test cases (``onnx.backend.test.case.node``, built in
  memory: one or a few nodes of every standard op, ai.onnx.ml and training ops included);
* the models bundled with onnxruntime (``onnxruntime/datasets``), when it is installed;
* a reduced DRLN (1 block, 16 channels) exported by both torch exporters, once with a
  static input and once with dynamic batch, H and W, and small transformer (GPT-style)
  and speech (conv + GRU) models exported with dynamic batch and sequence (when torch is
  installed).

What is compared is inference, not what the file declares: our engine runs with onnx's
inference (its fallback for ops we have no shape function for) switched off and without
the file's ``value_info`` (a value whose shape came from either counts as unknown), and
onnx runs on a copy of the model without ``value_info`` and without output shapes.
Per model:

1. wherever onnx infers a concrete dim, ours is the same number (a different number,
   a symbol, an unknown dim or another rank is a disagreement);
2. wherever the file declares a concrete dim and ours is known, they are equal;
3. our coverage (values whose shape is fully known, a symbol counting as known) is at
   least onnx's.  A dim onnx only names ``unk__N`` (a placeholder it makes up for an
   unknown dim) counts as unknown.

Values of the main graph and of If/Loop/Scan bodies are compared.  Run with ``-s`` to
see the coverage table (``-k coverage_table -s`` for the table alone).
"""
from __future__ import annotations

import collections
import contextlib
import glob
import os
import re
import warnings
from dataclasses import dataclass, field

import onnx
import pytest
from onnx import AttributeProto

from analyzer.graph.build import MAIN, build_graph
from analyzer.io.load import from_proto, load
from analyzer.shapes import SHAPE_FUNCTIONS, infer_shapes
from analyzer.shapes import engine as shape_engine
from analyzer.shapes.dims import conv_out, dim_mul, symbol
from analyzer.shapes.engine import _type_to_shape
from tests.runtime_shapes import strip_declarations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
ZOO_SETS = ("light", "real", "simple", "pytorch-converted", "pytorch-operator")

#: The reduced DRLN: every op kind of the full model, in seconds instead of minutes.
DRLN_CONFIG = {"n_blocks": 1, "channels": 16, "reduction": 4, "height": 16, "width": 16}
DRLN_VARIANTS = (("dynamo", False), ("dynamo", True), ("legacy", False), ("legacy", True))

_ONNX_PLACEHOLDER = re.compile(r"^unk__\d+$")


# --------------------------------------------------------------------------------------
# the corpus


def bundled_files():
    files = sorted(glob.glob(os.path.join(ROOT, "sample_models", "*.onnx")))
    for s in ZOO_SETS:
        files += sorted(glob.glob(os.path.join(ONNX_DATA, s, "**", "*.onnx"), recursive=True))
    try:
        import onnxruntime

        files += sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "datasets", "*.onnx")))
    except ImportError:
        pass
    return files


def node_cases() -> dict:
    """name -> ModelProto of onnx's operator test cases (built by the installed onnx)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from onnx.backend.test.case.node import collect_testcases

            cases = collect_testcases(None)
    except Exception:  # an onnx without its test cases
        return {}
    return {c.name: c.model for c in cases if c.model is not None}


def case_op(name, model):
    """The op an operator test case is about: its one op, else the op its name starts
    with (``test_reduce_l2_..._expanded`` -> ``ReduceL2 (expanded)``)."""
    ops = {n.op_type for n in model.graph.node} - {"Constant"}
    if len(ops) == 1:
        return ops.pop()
    compact = name[len("test_"):].replace("_", "").lower()
    known = sorted({s.name for s in onnx.defs.get_all_schemas()}, key=len, reverse=True)
    op = next((o for o in known if compact.startswith(o.lower())), None)
    if op is None:
        return "other (" + name[len("test_"):].split("_")[0] + ")"
    return op + (" (expanded)" if name.endswith("_expanded") else "")


def file_label(path):
    if path.startswith(ONNX_DATA):
        return "onnx/" + os.path.relpath(os.path.dirname(path) if path.endswith("model.onnx") else path, ONNX_DATA)
    if os.sep + "onnxruntime" + os.sep in path:
        return "ort/" + os.path.basename(path)
    if path.startswith(ROOT):
        return os.path.relpath(path, ROOT)
    return path


def drln_label(exporter, dynamic):
    return f"drln-{exporter}-{'dynamic' if dynamic else 'static'}"


#: Small exports of the other model families (dynamic batch and sequence): a GPT-style
#: decoder written the way HF models are (view/transpose heads, causal mask, position
#: embedding of arange(seq)) and a conv + bidirectional GRU speech encoder.  torch 2.13's
#: dynamo exporter cannot export the GRU, so that one is legacy only.
TORCH_EXPORTS = (("gpt", "legacy"), ("gpt", "dynamo"), ("gru", "legacy"))


def _torch_models():
    import torch

    class Block(torch.nn.Module):
        def __init__(self, d=32, h=4):
            super().__init__()
            self.h, self.d = h, d
            self.qkv = torch.nn.Linear(d, 3 * d)
            self.proj = torch.nn.Linear(d, d)
            self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(self.d, dim=-1)
            q, k, v = (t.view(b, s, self.h, -1).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / (q.shape[-1] ** 0.5)
            causal = torch.ones(s, s, dtype=torch.bool).tril()
            att = att.masked_fill(~causal, float("-inf")).softmax(-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, s, -1))
            return x + self.mlp(self.ln2(x))

    class GPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.pos = torch.nn.Embedding(100, 32), torch.nn.Embedding(64, 32)
            self.blocks = torch.nn.Sequential(Block(), Block())
            self.head = torch.nn.Linear(32, 100)

        def forward(self, ids):
            pos = torch.arange(ids.shape[1]).unsqueeze(0)
            return self.head(self.blocks(self.emb(ids) + self.pos(pos)))

    class SpeechGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(40, 32, 3, stride=2, padding=1)
            self.gru = torch.nn.GRU(32, 48, batch_first=True, bidirectional=True)
            self.out = torch.nn.Linear(96, 20)

        def forward(self, feats):
            y, _ = self.gru(torch.relu(self.conv(feats)).transpose(1, 2))
            return self.out(y).log_softmax(-1)

    torch.manual_seed(0)
    return {
        "gpt": (GPT().eval(), torch.randint(0, 100, (2, 7)), 1),  # (model, example input, sequence axis)
        "gru": (SpeechGRU().eval(), torch.rand(2, 40, 30), 2),
    }


def export_torch(out_dir, name, exporter):
    """One of TORCH_EXPORTS, with dynamic batch and sequence axes; its path."""
    import torch

    from sample_models.export import _quiet

    model, x, seq_axis = _torch_models()[name]
    path = os.path.join(out_dir, f"{name}-{exporter}-dynamic.onnx")
    with torch.no_grad(), _quiet():
        if exporter == "dynamo":
            dims = {0: torch.export.Dim("batch"), seq_axis: torch.export.Dim("seq", max=64)}
            program = torch.onnx.export(model, (x,), dynamo=True, input_names=["x"], output_names=["y"], dynamic_shapes=(dims,), verbose=False)
            onnx.save(program.model_proto, path)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch", seq_axis: "seq"}})  # fmt: skip
    return path


def export_drln(out_dir, exporter, dynamic):
    """The reduced DRLN exported by ``exporter`` (one self-contained file); its path."""
    from sample_models.export import export

    path = os.path.join(out_dir, drln_label(exporter, dynamic) + ".onnx")
    export("drln", path, exporter, scale=2, dynamic=dynamic, external_data=False, **DRLN_CONFIG)
    return path


# --------------------------------------------------------------------------------------
# the comparison


@contextlib.contextmanager
def own_inference_only():
    """Our engine with onnx's inference (its fallback for ops without a shape function of
    ours) and the file's declared shapes (filled in where propagation left a gap) switched
    off: every shape it gives is then its own."""
    saved = shape_engine._Engine.onnx_types, getattr(shape_engine, "_fill_from_value_info", None)
    shape_engine._Engine.onnx_types = lambda self: {}
    if saved[1] is not None:
        shape_engine._fill_from_value_info = lambda graph: None
    try:
        yield
    finally:
        shape_engine._Engine.onnx_types = saved[0]
        if saved[1] is not None:
            shape_engine._fill_from_value_info = saved[1]


def _graph_attrs(node):
    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            yield a.name, None, a.g
        elif a.type == AttributeProto.GRAPHS:
            for j, g in enumerate(a.graphs):
                yield a.name, j, g


def _walk(model_graph, graph):
    """(our graph path, GraphProto) for the main graph and every If/Loop/Scan body of
    ``model_graph`` (a version of the model ``graph`` was built from; nodes are matched by
    their outputs, so a tool that reorders them is fine)."""
    stack = [(MAIN, model_graph)]
    while stack:
        path, g = stack.pop()
        yield path, g
        for node in g.node:
            subs = list(_graph_attrs(node))
            if not subs:
                continue
            op = next((graph.producer(("value", path, o)) for o in node.output if o and ("value", path, o) in graph.nx), None)
            if op is None:
                continue
            for name, j, sub in subs:
                p = graph.subgraph_path(op.key, name, j)
                if p is not None:
                    stack.append((p, sub))


def _dim_params(model) -> set:
    out = set()
    graphs = [model.graph]
    while graphs:
        g = graphs.pop()
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            if vi.type.HasField("tensor_type"):
                out.update(d.dim_param for d in vi.type.tensor_type.shape.dim if d.dim_param)
        for node in g.node:
            graphs.extend(sub for _, _, sub in _graph_attrs(node))
    return out


def _shapes_of(graph_proto, model_params, placeholder=_ONNX_PLACEHOLDER) -> dict:
    """name -> shape of everything ``graph_proto`` types; a dim named like the tool's own
    placeholder for an unknown dim (``placeholder``, and not a name from the model) counts
    as unknown."""
    out = {}
    for vi in list(graph_proto.input) + list(graph_proto.value_info) + list(graph_proto.output):
        shape = _type_to_shape(vi)[0]
        if shape is not None:
            shape = tuple(None if isinstance(d, str) and placeholder.match(d) and d not in model_params else d for d in shape)
        out[vi.name] = shape
    for t in graph_proto.initializer:
        out[t.name] = tuple(int(d) for d in t.dims)
    return out


def reference_shapes(inferred: onnx.ModelProto, graph, model, placeholder=_ONNX_PLACEHOLDER) -> dict:
    """(graph path, tensor name) -> shape, as a tool's inferred copy of ``model`` gives them."""
    params = _dim_params(model)
    out = {}
    for gpath, g in _walk(inferred.graph, graph):
        for vname, shape in _shapes_of(g, params, placeholder).items():
            out[(gpath, vname)] = shape
    return out


def compared_values(graph) -> list:
    """Value keys compared: the main graph's and every If/Loop/Scan body's."""
    compared = {p for p, sub in graph.subgraphs.items() if sub.function is None}
    return [
        key for key, attrs in graph.nx.nodes(data=True)
        if attrs.get("kind") == "value" and key[1] in compared and attrs.get("role") != "missing"
    ]  # fmt: skip


def our_view(shapes, key):
    """Our shape of ``key``, None unless our engine inferred it itself."""
    info = shapes.info(key)
    return None if info.source in ("value_info", "onnx") else info.shape


def _known(shape) -> bool:
    return shape is not None and all(d is not None for d in shape)


@dataclass
class Comparison:
    name: str
    values: int = 0
    ours: int = 0  # values whose shape our engine knows fully (by itself)
    onnx: int = 0  # ... that onnx's inference knows fully
    disagreements: list = field(default_factory=list)  # (graph, tensor, ours, onnx's)
    conflicts: list = field(default_factory=list)  # (graph, tensor, ours, the file's)
    onnx_error: str | None = None
    missing_ops: set = field(default_factory=set)  # op types without a shape function of ours
    notes: list = field(default_factory=list)


def our_shapes(model, path=None):
    """(graph, Shapes) of our engine alone (no onnx fallback)."""
    loaded = load(path) if path else from_proto(model)
    graph = build_graph(loaded.model)
    with own_inference_only():
        shapes = infer_shapes(graph, loaded)
    return graph, shapes


def compare(name, model=None, path=None) -> Comparison:
    if model is None:
        model = onnx.load(path)
    result = Comparison(name)
    graph, shapes = our_shapes(model, path)
    result.notes = list(shapes.notes)
    for op in graph.all_ops():
        if (op.domain, op.op_type) not in SHAPE_FUNCTIONS and graph.function_path(op.domain, op.op_type, op.overload) is None:
            result.missing_ops.add(f"{op.domain + '.' if op.domain else ''}{op.op_type}")
    try:
        inferred = onnx.shape_inference.infer_shapes(strip_declarations(model), data_prop=True)
    except Exception as e:
        result.onnx_error = str(e).splitlines()[0] if str(e) else type(e).__name__
        inferred = None
    theirs = reference_shapes(inferred, graph, model) if inferred is not None else {}
    declared = {}
    for gpath, g in _walk(model.graph, graph):
        for vi in list(g.value_info) + list(g.output):
            declared[(gpath, vi.name)] = _type_to_shape(vi)[0]
    for key in compared_values(graph):
        result.values += 1
        ours = our_view(shapes, key)
        ref = theirs.get((key[1], key[2]))
        result.ours += _known(ours)
        result.onnx += _known(ref)
        if ref is not None and (any(isinstance(d, int) for d in ref) or ours is not None):
            if ours is None or len(ours) != len(ref) or any(isinstance(b, int) and a != b for a, b in zip(ours, ref)):
                result.disagreements.append((key[1], key[2], ours, ref))
        dec = declared.get((key[1], key[2]))
        if dec is not None and ours is not None:
            if len(ours) != len(dec) or any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(ours, dec)):
                result.conflicts.append((key[1], key[2], ours, dec))
    return result


# --------------------------------------------------------------------------------------
# the tests

FILES = bundled_files()
NODE_CASES = node_cases()
RESULTS: dict[str, Comparison] = {}


def _lazy_exports(tmp_path_factory, folder, export):
    """A getter that runs ``export(root, *key)`` once per key, lazily, in one temporary folder."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    root = str(tmp_path_factory.mktemp(folder))
    cache = {}

    def get(*key):
        if key not in cache:
            cache[key] = export(root, *key)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def drln_exports(tmp_path_factory):
    """(exporter, dynamic) -> path of the reduced DRLN exported that way (once, lazily)."""
    return _lazy_exports(tmp_path_factory, "drln_agreement", export_drln)


@pytest.fixture(scope="session")
def torch_exports(tmp_path_factory):
    """(name, exporter) -> path of that small export (once, lazily)."""
    return _lazy_exports(tmp_path_factory, "torch_agreement", export_torch)


def _check(result: Comparison):
    RESULTS[result.name] = result
    assert result.onnx_error is None, f"onnx's inference failed: {result.onnx_error}"
    assert result.disagreements == [], f"{len(result.disagreements)} disagreements with onnx, first: {result.disagreements[:3]}"
    assert result.conflicts == [], f"{len(result.conflicts)} conflicts with the declared shapes, first: {result.conflicts[:3]}"
    assert result.ours >= result.onnx, (
        f"coverage {result.ours}/{result.values} below onnx's {result.onnx}/{result.values} "
        f"(no shape function for {sorted(result.missing_ops)}; notes: {result.notes[:3]})"
    )


def test_corpus_is_there():
    # The onnx wheel ships these graphs and test cases; without them the agreement test loses its point.
    assert len(FILES) > 100
    assert len(NODE_CASES) > 1000


@pytest.mark.parametrize("path", FILES, ids=file_label)
def test_agrees_with_onnx(path):
    _check(compare(file_label(path), path=path))


@pytest.mark.parametrize("name", sorted(NODE_CASES))
def test_agrees_with_onnx_on_op_cases(name):
    _check(compare("node/" + name, model=NODE_CASES[name]))


@pytest.mark.parametrize("exporter,dynamic", DRLN_VARIANTS, ids=[drln_label(*v) for v in DRLN_VARIANTS])
def test_agrees_with_onnx_on_drln(drln_exports, exporter, dynamic):
    path = drln_exports(exporter, dynamic)
    result = compare(drln_label(exporter, dynamic), path=path)
    _check(result)
    if dynamic:
        # The dynamic export's output is 2H x 2W whatever H, W are: our engine must say so.
        graph, shapes = our_shapes(None, path)
        out = shapes.info(("value", MAIN, "output")).shape
        assert out == (symbol("batch"), 3, dim_mul(symbol("height"), 2), dim_mul(symbol("width"), 2))


@pytest.mark.parametrize("name,exporter", TORCH_EXPORTS, ids=[f"{n}-{e}" for n, e in TORCH_EXPORTS])
def test_agrees_with_onnx_on_transformer_and_speech_exports(torch_exports, name, exporter):
    path = torch_exports(name, exporter)
    _check(compare(f"{name}-{exporter}-dynamic", path=path))
    # the output keeps the batch and sequence symbols (the GRU's sequence through the stride-2 conv)
    graph, shapes = our_shapes(None, path)
    (out,) = [k for k in graph.subgraphs[MAIN].output_keys]
    batch, seq = symbol("batch"), symbol("seq")
    if name == "gpt":
        assert shapes.info(out).shape == (batch, seq, 100)
    else:
        assert shapes.info(out).shape == (batch, conv_out(seq, 3, 2, 1, 2), 20)


def test_coverage_table(drln_exports, torch_exports):
    """The table (with -s); every model of the corpus again, so it stands alone."""
    rows = []
    for path in FILES:
        rows.append(RESULTS.get(file_label(path)) or compare(file_label(path), path=path))
    for v in DRLN_VARIANTS:
        label = drln_label(*v)
        rows.append(RESULTS.get(label) or compare(label, path=drln_exports(*v)))
    for name, exporter in TORCH_EXPORTS:
        label = f"{name}-{exporter}-dynamic"
        rows.append(RESULTS.get(label) or compare(label, path=torch_exports(name, exporter)))
    by_op = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for name in sorted(NODE_CASES):
        r = RESULTS.get("node/" + name) or compare("node/" + name, model=NODE_CASES[name])
        acc = by_op[case_op(name, NODE_CASES[name])]
        for i, v in enumerate((1, r.values, r.ours, r.onnx, len(r.disagreements))):
            acc[i] += v
    lines = [f"\n{'model':<52} {'values':>7} {'ours':>6} {'onnx':>6} {'disagr':>6}"]
    total = [0, 0, 0, 0]
    for r in rows:
        lines.append(f"{r.name[:52]:<52} {r.values:>7} {r.ours:>6} {r.onnx:>6} {len(r.disagreements):>6}")
        for i, v in enumerate((r.values, r.ours, r.onnx, len(r.disagreements))):
            total[i] += v
    lines.append(f"\n{'onnx operator test cases, by op':<45} {'models':>6} {'values':>7} {'ours':>6} {'onnx':>6} {'disagr':>6}")
    for key in sorted(by_op):
        m, n, o, t, d = by_op[key]
        lines.append(f"{key[:45]:<45} {m:>6} {n:>7} {o:>6} {t:>6} {d:>6}")
        for i, v in enumerate((n, o, t, d)):
            total[i] += v
    lines.append(f"\n{'TOTAL':<52} {total[0]:>7} {total[1]:>6} {total[2]:>6} {total[3]:>6}")
    print("\n".join(lines))
    assert total[3] == 0
    assert total[1] >= total[2]
