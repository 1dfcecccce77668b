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
    "MAIN",
    "ONNX_DOMAINS",
    "OpGroup",
    "attributed_ops",
    "beyond_known",
    "finding",
    "function_of_path",
    "function_opsets",
    "graph_protos",
    "graphs_in_file_order",
    "has_missing_values",
    "in_walk_order",
    "input_reads",
    "is_runtime_domain",
    "known_max_version",
    "model_opsets",
    "normalize_domain",
    "op_group_index",
    "op_domains",
    "op_groups",
    "op_types",
    "opsets_for_path",
    "opsets_of",
    "schema_at",
    "shown",
    "value_finding",
    "value_infos",
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


def beyond_known(domain: str, version: int) -> bool:
    """Whether ``version`` is newer than the newest opset onnx knows for ONNX domain
    ``domain``.  For the default domain and ai.onnx.ml the registry's version map answers
    when ``version`` is within it (the newest known is at least that): the whole schema
    history (tens of ms, on every check) is read only for a version beyond it."""
    if domain in ("", "ai.onnx.ml") and _MAX is None:
        from analyzer.io import proto

        try:
            if version <= proto.opset_version(domain):
                return False
        except Exception:  # noqa: BLE001 - the full table below decides
            pass
    newest = known_max_version(domain)
    return newest is not None and version > newest


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
    opset the node binds to (a function body: the function's own imports) is known, in
    ``graph.all_ops()`` order.  Rules that can decide per kind of node read
    :func:`op_groups` instead."""
    index = op_group_index(model)
    for op in model.graph.all_ops():
        g = index[(op.graph, op.domain, op.op_type)]
        if g.onnx_schema is not None:
            yield op, g.version, g.onnx_schema


# -- per-model indexes: what every validity rule would otherwise ask node by node ------


class OpGroup:
    """The nodes of one graph with one (domain, op_type), in file order, and what the
    validity rules ask of each such node, resolved once for the group: the opset and
    schema view the node binds to (``analyzer.analyses.schema``: ``opset``, ``schema``),
    for an ONNX domain the opset the graph imports and onnx's schema at it
    (``version``, ``onnx_schema``, as :func:`ops_with_schema` gives them)."""

    __slots__ = ("domain", "graph", "n_in", "n_out", "odd", "onnx_schema", "op_type", "ops", "opset", "schema", "version")

    def __init__(self, model, first):
        from analyzer.analyses.schema import node_opset, op_schema

        graph, domain, op_type = first.graph, first.domain, first.op_type
        self.graph, self.domain, self.op_type = graph, domain, op_type
        self.ops: list = []
        # the arity of the group's first node (inputs, outputs as written), and the nodes
        # (in file order) of another arity or with an omitted input or output: every other
        # node of the group has n_in inputs and n_out outputs, none of them empty (what the
        # rules on arity and on inputs ask of each node, noted by the graph builder: SubGraph.kinds)
        self.n_in, self.n_out = len(first.inputs), len(first.outputs)
        self.odd: list = []
        self.opset = node_opset(model, first)  # one answer per (graph, domain)
        self.schema = op_schema(domain, op_type, self.opset)
        self.version = self.onnx_schema = None
        if domain in ONNX_DOMAINS:
            self.version = version = opsets_for_path(model, graph).get(domain)
            if version is not None and version >= 1:
                self.onnx_schema = schema_at(op_type, domain, version)



def memoized(model, key: str, build):
    """``build()``, made once per model and kept in ``model.graph.memo[key]`` (the
    per-model indexes the validity rules share)."""
    memo = model.graph.memo
    got = memo.get(key)
    if got is None:
        got = memo[key] = build()
    return got

def op_groups(model) -> list:
    """The :class:`OpGroup` of every (graph, domain, op_type) of the model (main graph,
    If/Loop/Scan bodies at any depth, model-local functions), in the order their first
    node comes in ``graph.all_ops()``.  Made once per model: a rule that can decide for a
    whole group (an op type it does not check, an operator onnx does not know) never
    visits the group's nodes."""
    return memoized(model, "validity:op_groups", lambda: _make_groups(model))


def _make_groups(model) -> list:
    graph = model.graph
    out = []
    for sub in graph.subgraphs.values():  # graph by graph, as graph.all_ops() goes
        if sub is None:
            continue
        # the graph builder notes each kind with its arity while it reads the nodes
        # (SubGraph.kinds): no pass over the ops here
        for _domain, _op_type, ops, _n_in, _n_out, odd in sub.kinds:
            g = OpGroup(model, ops[0])
            g.ops[:] = ops
            g.odd[:] = odd
            out.append(g)
    return out


def input_counts(group) -> set:
    """The input counts of the nodes of ``group`` (an :class:`OpGroup`), from its notes
    (no pass over its nodes)."""
    return {group.n_in, *[len(op.inputs) for op in group.odd]}


def count_without_inputs(group) -> int:
    """How many nodes of ``group`` read no input (none written, or every one omitted), from
    its notes: with the first node's input count of 0, every node of that arity omitting
    nothing, and those among the odd ones."""
    odd = group.odd
    bare = sum(1 for op in odd if all(v is None for v in op.inputs))
    return bare + (len(group.ops) - len(odd) if group.n_in == 0 else 0)


def op_types(model) -> frozenset:
    """The op types of every graph (main, bodies, functions), read off :func:`op_groups`
    (no pass over the nodes of its own)."""
    return memoized(model, "validity:op_types", lambda: frozenset([g.op_type for g in op_groups(model)]))


def op_domains(model) -> frozenset:
    """The domains of the nodes of every graph ("" for the default one), read off
    :func:`op_groups`."""
    return memoized(model, "validity:op_domains", lambda: frozenset([g.domain for g in op_groups(model)]))


def op_group_index(model) -> dict:
    """``{(graph, domain, op_type): OpGroup}``, for a rule that meets single nodes."""
    return memoized(model, "validity:op_group_index", lambda: {(g.graph, g.domain, g.op_type): g for g in op_groups(model)})


def graph_rank(model) -> dict:
    """``{graph path: position}`` in the order ``graph.all_ops()`` walks the graphs."""
    return memoized(model, "validity:graph_rank", lambda: {p: i for i, p in enumerate(model.graph.subgraphs)})


def in_walk_order(model, found: list) -> list:
    """Node findings gathered group by group, put in the order a walk over
    ``graph.all_ops()`` gives them (stable: one node's findings keep their order)."""
    if len(found) > 1:
        rank = graph_rank(model)
        found.sort(key=lambda f: (rank.get(f.graph, -1), f.node_index))
    return found


def ops_in_walk_order(model, groups) -> list:
    """The nodes of ``groups``, in the order of ``graph.all_ops()``."""
    groups = [g for g in groups if g.ops]
    if len(groups) == 1:
        return list(groups[0].ops)
    rank = graph_rank(model)
    out = [op for g in groups for op in g.ops]
    out.sort(key=lambda op: (rank.get(op.graph, -1), op.index))
    return out


def ops_of_groups_where(model, keep):
    """``(op, group)`` for every node of the groups with a schema that ``keep(schema)``
    accepts, in the order of ``graph.all_ops()`` (a rule decided per group: deprecated,
    experimental...)."""
    flagged = [g for g in op_groups(model) if g.onnx_schema is not None and keep(g.onnx_schema)]
    if not flagged:
        return
    by_group = {(g.graph, g.domain, g.op_type): g for g in flagged}
    for op in ops_in_walk_order(model, flagged):
        yield op, by_group[(op.graph, op.domain, op.op_type)]


def attributed_ops(model) -> list:
    """The nodes that have at least one attribute, in ``graph.all_ops()`` order (made
    once: four rules read attributes, and most nodes of a large graph have none)."""
    return memoized(model, "validity:attributed_ops", lambda: model.graph.attributed_ops())  # noted by the graph builder


class InputReads:
    """One walk over every node input, for the rules on where inputs come from:
    ``missing`` ``{value key: [first reader, readers]}`` of values nothing defines (in
    the order first read), ``late`` ``[(reader, value key, producer)]`` of reads of a
    value its own graph computes at or after the reader's index, and of reads of an
    enclosing graph's computed value (whether those are late depends on the node holding
    the body), in walk order."""

    __slots__ = ("late", "missing")

    def __init__(self, missing, late):
        self.missing = missing
        self.late = late


def input_reads(model) -> InputReads:
    return memoized(model, "validity:input_reads", lambda: _scan_inputs(model))


def _scan_inputs(model) -> InputReads:
    graph = model.graph
    nodes = graph.nx._node
    producer = graph.producer
    missing: dict = {}
    late: list = []
    for op in graph.all_ops():
        here = op.graph
        index = op.index
        for vkey in op.inputs:
            if vkey is None:
                continue
            prod = producer(vkey)
            if prod is None:
                attrs = nodes.get(vkey)
                if attrs is None or attrs.get("role") != "missing":
                    continue
                seen = missing.get(vkey)
                if seen is None:
                    missing[vkey] = [op, 1]
                else:
                    seen[1] += 1
            elif vkey[1] != here or prod.index >= index:
                late.append((op, vkey, prod))
    return InputReads(missing, late)


def value_infos(model) -> list:
    """The TensorInfo the shape engine stored on each node of the networkx graph, in its
    node order (None for an op node and for a value without one), read in one pass over
    the node dicts (no key hashed): outputs without a value share a few TensorInfo
    objects, so a rule can ask its question once per distinct info.  Made once per model.

    It is what ``model.info`` gives except for a value whose sizes only the file declares
    (source ``value_info``): ``model.info`` gives the proven info kept beside it, with the
    same dtype and value but the source of the proof (analyzer.shapes.fallback)."""
    from itertools import repeat

    nodes = model.graph.nx._node
    return memoized(model, "rules:value_infos", lambda: list(map(dict.get, nodes.values(), repeat("info"))))


def has_missing_values(model) -> bool:
    """Whether some value of the model is one nothing defines (role "missing": read by a
    node or named as a graph output); one pass over the value nodes, no walk of the inputs.
    The graph builder notes every such value (``Graph.notes``): a graph without a note has
    none, and the pass is skipped (most graphs)."""
    from operator import methodcaller

    if not model.graph.notes:
        return False
    return "missing" in map(methodcaller("get", "role"), model.graph.nx._node.values())


def graphs_in_file_order(model) -> bool:
    """Whether every graph's nodes are in topological order as written, captured values
    included (the graph's topological order, which the shape engine has made, is the
    file order: ``analyzer.graph.core.Graph.topological_order`` returns the file order
    exactly when every producer, of an input or of a value a body captures, comes first)."""
    from operator import is_

    graph = model.graph
    for path, sub in graph.subgraphs.items():
        n = len(sub.op_keys) if sub is not None else 0
        if not n:
            continue
        try:
            order = graph.topological_order(path)
        except Exception:
            return False  # a cycle: let the walk over the inputs tell
        # the graph's nodes as graph.all_ops() walks them (graph by graph, in file order)
        walked = graph.graph_ops(path)
        if order is walked:
            continue  # the builder's list itself: the graph builder saw every node wired in file order
        if len(order) != n or not all(map(is_, order, walked)):
            return False
    return True
