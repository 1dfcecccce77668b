"""A cached view of onnx's operator schemas (``onnx.defs``), resolved for a model's opsets.

``op_schema(domain, op_type, opset)`` gives an :class:`OpSchemaView` (plain Python data:
attribute names, types and whether required; formal inputs/outputs with their type strings
and options; type constraints) or None when onnx has no schema for the op at that opset
(custom domains, unknown ops, an opset older than the op).  onnx is imported on first use.
The views are cached per (domain, op_type, opset), so walking a million nodes asks onnx a
few hundred times.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OpSchemaView", "FormalParam", "op_schema", "node_opset", "ATTR_TYPE_NAMES"]

# onnx.AttributeProto.AttributeType values -> names
ATTR_TYPE_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 5: "GRAPH", 6: "FLOATS", 7: "INTS",
    8: "STRINGS", 9: "TENSORS", 10: "GRAPHS", 11: "SPARSE_TENSOR", 12: "SPARSE_TENSORS", 13: "TYPE_PROTO",
    14: "TYPE_PROTOS",
}  # fmt: skip


@dataclass(frozen=True)
class FormalParam:
    name: str
    type_str: str
    option: str  # "single" | "optional" | "variadic"
    homogeneous: bool


@dataclass(frozen=True)
class OpSchemaView:
    domain: str
    op_type: str
    since_version: int
    deprecated: bool
    attributes: dict  # name -> (AttributeProto type code, required)
    inputs: tuple  # FormalParam
    outputs: tuple
    min_input: int
    max_input: int
    min_output: int
    max_output: int
    type_constraints: dict  # type variable -> frozenset of allowed type strings ("tensor(float)")
    has_function: bool


_CACHE: dict = {}
_OPTION = {0: "single", 1: "optional", 2: "variadic"}


def op_schema(domain: str, op_type: str, opset: int | None) -> OpSchemaView | None:
    """The schema onnx applies to ``op_type`` of ``domain`` in a model importing
    ``opset`` for that domain, or None."""
    if opset is None or not isinstance(op_type, str) or not isinstance(domain, str):
        return None
    domain = "" if domain == "ai.onnx" else domain
    key = (domain, op_type, int(opset))
    if key in _CACHE:
        return _CACHE[key]
    view = _build(domain, op_type, int(opset))
    if len(_CACHE) < 65536:  # op types come from files: keep the cache bounded
        _CACHE[key] = view
    return view


def _build(domain, op_type, opset):
    try:
        from analyzer.io.proto import get_schema, has_schema

        if opset < 1 or not has_schema(op_type, domain):
            return None
        s = get_schema(op_type, opset, domain)
    except Exception:
        return None
    try:
        attrs = {name: (int(a.type), bool(a.required)) for name, a in s.attributes.items()}

        def params(ps):
            return tuple(FormalParam(p.name, p.type_str, _OPTION.get(int(p.option), "single"), bool(p.is_homogeneous)) for p in ps)

        return OpSchemaView(
            domain=domain,
            op_type=op_type,
            since_version=int(s.since_version),
            deprecated=bool(s.deprecated),
            attributes=attrs,
            inputs=params(s.inputs),
            outputs=params(s.outputs),
            min_input=int(s.min_input),
            max_input=int(s.max_input),
            min_output=int(s.min_output),
            max_output=int(s.max_output),
            type_constraints={c.type_param_str: frozenset(c.allowed_type_strs) for c in s.type_constraints},
            has_function=bool(s.has_function or s.has_context_dependent_function),
        )
    except Exception:
        return None


def node_opset(model, op) -> int | None:
    """The opset version the model (or, for a node inside a model-local function, that
    function) imports for the node's domain; None when none is declared."""
    from analyzer.io.load import text

    domain = op.domain
    graph = model.graph
    path = op.graph
    # one answer per (graph, domain): rules ask it for every node of the model
    memo = graph.memo.setdefault("node_opset", {}) if path.__class__ is str else {}
    key = (path, domain)
    if key in memo:
        return memo[key]
    imports = None
    if path.startswith("function:"):
        sub = graph.subgraphs.get(path)
        while sub is not None and sub.function is None and sub.parent is not None:
            sub = graph.subgraphs.get(sub.parent)
        if sub is not None and sub.function is not None:
            imports = sub.function.opset_import
    found = _find_import(imports, domain, text) if imports else None
    if found is None:
        found = _find_import(model.model.opset_import, domain, text)
    memo[key] = found
    return found


def _find_import(imports, domain, text):
    found = None
    for imp in imports:
        d = text(imp.domain)
        if d == "ai.onnx":
            d = ""
        if d == domain:
            found = int(imp.version)
    return found
