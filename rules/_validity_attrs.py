"""Shared helpers of the validity rules on attributes, types and tensor payloads
(MV020-MV049): findings that name a node or a tensor, the nodes of every graph with the
opset that applies to them, what analysis knows of a node's inputs, and every tensor of
the model with where it sits.  Imports of onnx/numpy happen inside functions."""
from __future__ import annotations

__all__ = [
    "node_finding",
    "tensor_finding",
    "nodes_with_schema",
    "input_info",
    "trusted",
    "in_function",
    "ints_attr",
    "located_tensors",
    "fmt_list",
]

MAX_LIST_IN_MESSAGE = 8
# Shape/type sources that analysis proved or the file states for a graph input or an
# initializer; "value_info" (a declaration of a computed value) and "unknown" are not
# trusted: a wrong declaration is SH001's business, not a reason to call a node invalid.
TRUSTED_SOURCES = _TRUSTED_SOURCES = frozenset({"inferred", "onnx", "input", "initializer"})


def text(s) -> str:
    """A name from protobuf as ``str`` (invalid UTF-8 arrives as bytes)."""
    from analyzer.io.load import text as _text

    return _text(s)


def fmt_list(values) -> str:
    values = list(values)
    if len(values) > MAX_LIST_IN_MESSAGE:
        return "[" + ", ".join(map(str, values[:MAX_LIST_IN_MESSAGE])) + f", ... ({len(values)} values)]"
    return "[" + ", ".join(map(str, values)) + "]"


def _where(graph: str) -> str:
    from analyzer.io.load import shown

    return "" if graph == "main" else f" in graph {shown(graph)}"


def node_finding(rule, op, message, details=None):
    """A finding about node ``op`` (an ``analyzer.graph.core.OpNode``); ``message`` is
    prefixed with the node and the graph it is in."""
    from analyzer.findings import Finding
    from analyzer.io.load import shown

    d = {"node": op.id, "op_type": op.op_type, "graph": op.graph}
    d.update(details or {})
    return Finding(
        rule=rule.CODE,
        name=rule.NAME,
        severity=rule.SEVERITY,
        node=op.id,
        node_index=op.index,
        graph=op.graph,
        op_type=op.op_type,
        message=f"{op.op_type} {shown(op.id)}{_where(op.graph)}: {message}",
        details=d,
    )


def tensor_finding(rule, loc, message, details=None):
    """A finding about a tensor; ``loc`` is a :class:`TensorLocation`."""
    from analyzer.findings import Finding
    from analyzer.io.load import shown

    d = {"tensor": loc.name, "where": loc.where, "graph": loc.graph}
    if loc.op is not None:
        d["node"] = loc.op.id
        d["attribute"] = loc.attribute
    d.update(details or {})
    if loc.op is not None:
        subject = f"{loc.what} of {loc.op.op_type} {shown(loc.op.id)} (attribute {shown(loc.attribute)})"
    else:
        subject = f"{loc.what} {shown(loc.name)}"
    return Finding(
        rule=rule.CODE,
        name=rule.NAME,
        severity=rule.SEVERITY,
        node=loc.op.id if loc.op is not None else loc.name,
        node_index=loc.op.index if loc.op is not None else -1,
        graph=loc.graph,
        op_type=loc.op.op_type if loc.op is not None else "",
        message=f"{subject}{_where(loc.graph)}: {message}",
        details=d,
    )


def in_function(op) -> bool:
    """Whether the node sits in a model-local function's body (or a subgraph of one):
    its inputs' types and shapes depend on the call."""
    return op.graph.startswith("function:")


def nodes_with_schema(model):
    """``(op, schema view or None, opset)`` for every node of every graph (main,
    If/Loop/Scan bodies at any depth, model-local functions), in ``graph.all_ops()``
    order.  Rules that can decide per kind of node read ``_validity.op_groups``."""
    from rules._validity import op_group_index

    index = op_group_index(model)
    for op in model.graph.all_ops():
        g = index[(op.graph, op.domain, op.op_type)]
        yield op, g.schema, g.opset


def trusted(info) -> bool:
    return info is not None and info.source in _TRUSTED_SOURCES


def input_info(model, op, index):
    """What analysis knows of the node's ``index``-th input (a TensorInfo), or None when
    the input is absent or nothing trustworthy is known."""
    if index >= len(op.inputs) or op.inputs[index] is None:
        return None
    try:
        info = model.info(op.inputs[index])
    except Exception:
        return None
    return info if trusted(info) else None


def input_rank(model, op, index):
    info = input_info(model, op, index)
    return None if info is None or info.shape is None else len(info.shape)


def input_static_shape(model, op, index):
    info = input_info(model, op, index)
    if info is None or info.shape is None or not all(isinstance(d, int) for d in info.shape):
        return None
    return tuple(int(d) for d in info.shape)


def input_ints(model, op, index):
    """The constant integer value of an input (an initializer or folded constant), or None."""
    if index >= len(op.inputs) or op.inputs[index] is None:
        return None
    try:
        return model.ints(op.inputs[index])
    except Exception:
        return None


def ints_attr(op, name):
    """The INTS/INT attribute ``name`` as a list of ints, None when absent, or the string
    ``"bad"`` when it has another type (MV020 reports that)."""
    from analyzer.io.proto import AttributeProto

    for a in op.proto.attribute:
        if a.name != name:
            continue
        if a.ref_attr_name:
            return None
        if a.type == AttributeProto.INTS:
            return [int(x) for x in a.ints]
        if a.type == AttributeProto.INT:
            return [int(a.i)]
        return "bad"
    return None


class TensorLocation:
    """Where a TensorProto sits: an initializer of a graph, a tensor attribute of a node
    (a Constant's ``value``), a sparse initializer's values/indices, a function's
    attribute default."""

    __slots__ = ("tensor", "name", "graph", "what", "where", "op", "attribute", "lazy")

    def __init__(self, tensor, graph, what, where, op=None, attribute=None, lazy=None):
        from analyzer.io.load import text

        self.tensor = tensor
        self.name = text(tensor.name)
        self.graph = graph
        self.what = what
        self.where = where
        self.op = op
        self.attribute = attribute
        self.lazy = lazy  # analyzer.io.lazy.LazyPayload when the payload was left in the file


def located_tensors(model, sparse=False):
    """Every TensorProto of the analyzed graphs, as :class:`TensorLocation`: initializers
    of the main graph and every subgraph, tensor attributes of every node (functions
    included), function attribute defaults.  With ``sparse``, yields
    ``(SparseTensorProto, TensorLocation of its values)`` for sparse initializers and
    sparse attributes instead."""
    from analyzer.io.load import text

    g = model.graph
    lazy = getattr(model.loaded, "lazy", None) or {}
    for path, sub in g.subgraphs.items():
        if sub is None:
            continue
        proto = sub.proto
        if proto is not None:
            if sparse:
                for sp in proto.sparse_initializer:
                    yield sp, TensorLocation(sp.values, path, "sparse initializer", "sparse_initializer")
            else:
                for t in proto.initializer:
                    payload = lazy.get(text(t.name)) if path == "main" else None
                    yield TensorLocation(t, path, "initializer", "initializer", lazy=payload)
        fn = sub.function
        if fn is not None and sub.parent is None:
            for a in fn.attribute_proto:
                yield from _attr_tensors(a, path, None, sparse, "function attribute default")
    for op, a in _tensor_attributes(model):
        yield from _attr_tensors(a, op.graph, op, sparse, "tensor attribute")


def _tensor_attributes(model) -> list:
    """``[(op, AttributeProto)]`` of the attributes that hold (or say they hold) a tensor or
    sparse tensor, in walk order; made once per model (MV024 and MV025 ask three times)."""
    from analyzer.io.proto import AttributeProto
    from rules._validity import attributed_ops

    memo = model.graph.memo
    got = memo.get("validity:tensor_attributes")
    if got is None:
        kinds = (AttributeProto.TENSOR, AttributeProto.TENSORS, AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS)
        got = memo["validity:tensor_attributes"] = [
            (op, a) for op in attributed_ops(model) for a in op.proto.attribute
            if a.type in kinds or a.HasField("t") or a.HasField("sparse_tensor") or a.tensors or a.sparse_tensors
        ]
    return got


def _attr_tensors(a, path, op, sparse, what):
    from analyzer.io.load import text

    name = text(a.name)
    if sparse:
        sps = list(a.sparse_tensors)
        if a.HasField("sparse_tensor"):
            sps.insert(0, a.sparse_tensor)
        for sp in sps:
            yield sp, TensorLocation(sp.values, path, "sparse " + what, "attribute", op, name)
        return
    ts = list(a.tensors)
    if a.HasField("t"):
        ts.insert(0, a.t)
    for t in ts:
        yield TensorLocation(t, path, what, "attribute", op, name)
