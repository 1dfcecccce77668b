"""Helpers shared by the model-validity rules (MV...): walking every graph, opset
lookups against onnx's operator registry, and building findings.

Every validity rule looks at the model as loaded (``model.model``, the ModelProto;
large payloads are cut out, which none of these checks reads) and at the graph the
builder made of it (``model.graph``: every If/Loop/Scan body, nested, and every
model-local function, each with its path).  Nothing here allocates more than a
constant per node, tensor or name of the model.

Imports of onnx happen inside functions: importing a rule module stays cheap.
"""
from __future__ import annotations

__all__ = [
    "ONNX_DOMAINS", "MAIN", "finding", "value_finding", "graph_protos", "opsets_of", "model_opsets",
    "function_opsets", "opsets_for_path", "function_of_path", "known_max_version", "schema_at",
    "normalize_domain", "is_runtime_domain", "shown",
]

MAIN = "main"

# The domains whose operators onnx itself defines (onnx.defs); "ai.onnx" is the
# default domain written out ("" and "ai.onnx" are the same domain, IR.md "Operator
# Sets").  ai.onnx.training has no operator in onnx's registry (onnxruntime training
# owns it): it is treated like a runtime's domain.
ONNX_DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview")

# Domains a runtime defines: onnxruntime's contrib and layout-transform ops
# (com.microsoft, com.microsoft.nchwc, com.microsoft.dml, com.ms.internal.nhwc, ...),
# onnxruntime-extensions (ai.onnx.contrib), onnxruntime training (ai.onnx.training).
_RUNTIME_PREFIXES = ("com.microsoft", "com.ms.", "ai.onnx.contrib", "ai.onnx.training", "org.pytorch.")


def shown(s) -> str:
    from analyzer.io.load import shown as _shown

    return _shown(s)


def normalize_domain(domain) -> str:
    from analyzer.io.load import text

    d = domain if isinstance(domain, str) else text(domain)
    return "" if d == "ai.onnx" else d


def is_runtime_domain(domain: str) -> bool:
    return domain.startswith(_RUNTIME_PREFIXES)


def finding(rule, *, graph=MAIN, message, op=None, node=None, op_type="", details=None, severity=None):
    """A Finding of ``rule`` (the rule module): at ``op`` (an OpNode) when given, else
    at ``node`` (a tensor, graph or function name; node_index -1)."""
    from analyzer.findings import Finding

    if op is not None:
        return Finding(
            rule=rule.CODE, name=rule.NAME, severity=severity or rule.SEVERITY, node=op.id, node_index=op.index,
            graph=op.graph, op_type=op.op_type, message=message, details=details or {},
        )
    return Finding(
        rule=rule.CODE, name=rule.NAME, severity=severity or rule.SEVERITY, node=node if node is not None else "",
        node_index=-1, graph=graph, op_type=op_type, message=message, details=details or {},
    )


def value_finding(rule, graph, tensor, message, details=None, severity=None):
    d = {"tensor": tensor, "graph": graph}
    d.update(details or {})
    return finding(rule, graph=graph, node=tensor, message=message, details=d, severity=severity)


def where(path) -> str:
    return "" if path == MAIN else f" in graph {shown(path)}"


def graph_protos(model):
    """``(path, GraphProto)`` of the main graph and every If/Loop/Scan body (nested,
    also inside function bodies), in the graph builder's order."""
    for path, sub in model.graph.subgraphs.items():
        if sub is not None and sub.proto is not None:
            yield path, sub.proto


def function_of_path(model, path):
    """The FunctionProto whose body holds graph ``path`` (itself or nested), or None."""
    subs = model.graph.subgraphs
    p = path
    while p is not None:
        sub = subs.get(p)
        if sub is None:
            return None
        if sub.function is not None:
            return sub.function
        p = sub.parent
    return None


def opsets_of(imports) -> dict:
    """``{domain: version}`` of an opset_import list ("ai.onnx" read as ""; the first
    import of a domain wins)."""
    out: dict = {}
    for o in imports:
        out.setdefault(normalize_domain(o.domain), int(o.version))
    return out


def model_opsets(model) -> dict:
    memo = model.graph.memo
    if "validity:model_opsets" not in memo:
        memo["validity:model_opsets"] = opsets_of(model.model.opset_import)
    return memo["validity:model_opsets"]


def function_opsets(model, fn) -> dict:
    memo = model.graph.memo.setdefault("validity:function_opsets", {})
    if id(fn) not in memo:
        memo[id(fn)] = opsets_of(fn.opset_import)
    return memo[id(fn)]


def opsets_for_path(model, path) -> dict:
    """The opset imports nodes of graph ``path`` bind against: the model's, or for a
    function body (and the subgraphs inside it) the function's own."""
    fn = function_of_path(model, path)
    return model_opsets(model) if fn is None else function_opsets(model, fn)


def known_max_version(domain: str) -> int | None:
    """The newest opset version the installed onnx knows for an ONNX domain, else None."""
    table = _max_versions()
    return table.get(domain)


def _max_versions() -> dict:
    global _MAX
    if _MAX is None:
        from analyzer.io import proto

        out: dict = {}
        for s in proto.schema_defs().get_all_schemas_with_history():
            d = normalize_domain(s.domain)
            out[d] = max(out.get(d, 0), int(s.since_version))
        out[""] = max(out.get("", 0), proto.opset_version(""))
        # the registry's newest ai.onnx.ml opset: the ai.onnx.ml column of the last row of
        # onnx.helper.VERSION_TABLE (tests/test_startup.py checks they agree)
        out["ai.onnx.ml"] = max(out.get("ai.onnx.ml", 0), proto.opset_version("ai.onnx.ml"))
        out = {d: v for d, v in out.items() if d in ONNX_DOMAINS}
        _MAX = out
    return _MAX


_MAX = None
_SCHEMAS: dict = {}


def schema_at(op_type: str, domain: str, version: int):
    """onnx's schema of ``op_type`` in ``domain`` as of opset ``version`` (the newest
    one with since_version <= version), or None.  Cached."""
    key = (op_type, domain, version)
    if key not in _SCHEMAS:
        from analyzer.io.proto import get_schema

        try:
            _SCHEMAS[key] = get_schema(op_type, version, domain)
        except Exception:
            _SCHEMAS[key] = None
        if len(_SCHEMAS) > 100_000:  # hostile models with endless op names: stay bounded
            _SCHEMAS.clear()
    return _SCHEMAS[key]


_HAS: dict = {}


def has_op(op_type: str, domain: str) -> bool:
    """Whether onnx knows ``op_type`` in ``domain`` at any version.  Cached."""
    key = (op_type, domain)
    got = _HAS.get(key)
    if got is None:
        from analyzer.io.proto import has_schema

        try:
            got = bool(has_schema(op_type, domain))
        except Exception:
            got = False
        if len(_HAS) > 100_000:  # hostile models with endless op names: stay bounded
            _HAS.clear()
        _HAS[key] = got
    return got


def local_functions(model) -> set:
    """``{(domain, name)}`` of the model-local functions (any overload)."""
    memo = model.graph.memo
    if "validity:local_functions" not in memo:
        from analyzer.io.load import text

        memo["validity:local_functions"] = {(text(f.domain), text(f.name)) for f in model.model.functions}
    return memo["validity:local_functions"]


def type_kind(tp) -> str | None:
    """Which TypeProto value field is set (tensor_type, sequence_type...), or None."""
    try:
        return tp.WhichOneof("value")
    except Exception:
        return None


def undefined_elem_type(tp, limit=64) -> bool:
    """Whether a TypeProto holds a tensor (or sparse tensor) type with elem_type
    UNDEFINED (0), at any nesting (sequence, optional, map values), up to ``limit``
    levels."""
    for _ in range(limit):
        kind = type_kind(tp)
        if kind in ("tensor_type", "sparse_tensor_type"):
            return getattr(tp, kind).elem_type == 0
        if kind == "sequence_type":
            tp = tp.sequence_type.elem_type
        elif kind == "optional_type":
            tp = tp.optional_type.elem_type
        elif kind == "map_type":
            tp = tp.map_type.value_type
        else:
            return False
    return False


def ops_with_schema(model):
    """``(op, opset version, schema)`` for every node of an ONNX domain whose schema at the
    opset the node binds to (a function body: the function's own imports) is known."""
    # (graph, domain, op_type) -> (version, schema) or None: one lookup per kind of node
    memo = model.graph.memo.setdefault("validity:ops_with_schema", {})
    for op in model.graph.all_ops():
        if op.domain not in ONNX_DOMAINS:
            continue
        key = (op.graph, op.domain, op.op_type)
        if key in memo:
            got = memo[key]
        else:
            version = opsets_for_path(model, op.graph).get(op.domain)
            schema = None if version is None or version < 1 else schema_at(op.op_type, op.domain, version)
            got = memo[key] = None if schema is None else (version, schema)
        if got is not None:
            yield op, got[0], got[1]

