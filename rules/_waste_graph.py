"""Helpers shared by the graph-waste rules (WS001-WS006): liveness, readers, duplicate
tensors and common subexpressions, each computed once per model (``model.graph.memo``).

Who owns which waste (so that no weight is counted twice across the pack):

* an initializer no op reads at all (and no graph output is) is WS001's;
* an initializer whose every reader is a dead node (WS002) is that WS002 finding's;
* an initializer whose every reader is a duplicate node (WS006) is that WS006 finding's;
* any other duplicate initializer is WS005's;
* graphs inside a dead control-flow node are judged with that node (WS002), not on their own.

The unit of a WS002 / WS006 finding is a *component*: dead (or duplicate) nodes joined by
the tensors between them and by the initializers only they read, so that fixing one finding
alone removes exactly its nodes and the weights it reports.

Imports of onnx/numpy happen inside functions: importing a rule module stays cheap.
"""
from __future__ import annotations

__all__ = [
    "DEFAULT_READ_BUDGET",
    "MAIN",
    "RANDOM_OPS",
    "dead_components",
    "duplicate_components",
    "duplicate_initializers",
    "finding",
    "graph_proto",
    "init_size",
    "nested_ops",
    "op_types",
    "remove_in_graph",
    "shown",
    "tensor_finding",
    "under_dead",
    "unused_initializers",
]  # fmt: skip

MAIN = "main"
# Ops whose result is not a function of their inputs (never common subexpressions).
RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial"})
# WS005 reads at most this many payload bytes per model (option ``max-read-bytes``).
DEFAULT_READ_BUDGET = 256 << 20
_CSE_DOMAINS = ("", "ai.onnx.ml")


def shown(s) -> str:
    from analyzer.io.load import shown as _shown

    return _shown(s)


def finding(rule, *, op=None, graph=MAIN, node="", op_type="", message, details=None, waste=None, related=None):
    from analyzer.findings import Finding

    if op is not None:
        node, index, graph, op_type = op.id, op.index, op.graph, op.op_type
    else:
        index = -1
    return Finding(rule=rule.CODE, name=rule.NAME, severity=rule.SEVERITY, node=node, node_index=index, graph=graph,
                   op_type=op_type, message=message, details=details or {}, waste=waste or {}, related=related or [])  # fmt: skip


def tensor_finding(rule, graph, tensor, message, details, waste):
    d = {"tensor": tensor, "graph": graph}
    d.update(details)
    return finding(rule, graph=graph, node=tensor, message=message, details=d, waste=waste)


COUNT_CAP = 1 << 63  # element counts are capped: a hostile file can declare any dims


def valid_dims(tensor) -> bool:
    """Dims a runtime could allocate: none negative, the count below int64's limit."""
    n = 1
    for d in tensor.dims:
        if d < 0:
            return False
        n *= int(d)
        if n >= COUNT_CAP:
            return False
    return True


def init_size(tensor) -> tuple[int, int]:
    """(elements, bytes in the stored dtype) of an initializer, from its dims (as count_params)."""
    from analyzer.io.tensors import tensor_dtype_to_np_dtype

    n = 1
    for d in tensor.dims:  # absurd dims (negative, or a count past int64) are MV024's: capped here
        n = 0 if d < 0 else min(n * int(d), COUNT_CAP)
    try:
        item = tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        item = 0
    return n, n * item


# -- the graph --------------------------------------------------------------------------


def _memo(model, key, build):
    memo = model.graph.memo
    if key not in memo:
        memo[key] = build(model)
    return memo[key]


def op_types(model) -> frozenset:
    """The op types of every graph (main, bodies, functions): a rule whose op types are
    none of them has nothing to look at, and passes over no node.  Read off the validity
    rules' per-kind index of the nodes (``_validity.op_groups``), which every model gets."""
    from rules._validity import op_types as of_groups

    return of_groups(model)


def _paths(model) -> list:
    """Main graph and control-flow bodies (not functions: their bodies are not counted as weights)."""
    return [p for p, s in model.graph.subgraphs.items() if s is not None and s.function is None]


def graph_proto(model, path):
    return model.graph.subgraphs[path].proto


def _is_function_body(model, path) -> bool:
    subs = model.graph.subgraphs
    p = path
    while p is not None:
        s = subs.get(p)
        if s is None or s.function is not None:
            return True
        p = s.parent
    return False


def _ancestor_ops(model, path) -> list:
    """The control-flow ops that hold graph ``path`` (innermost first)."""
    out, subs = [], model.graph.subgraphs
    p = path
    while p is not None and subs[p].owner is not None:
        out.append(subs[p].owner)
        p = subs[p].parent
    return out


def nested_ops(model, op_key) -> list:
    """Every op inside the subgraphs of ``op_key`` (at any depth)."""
    return _memo(model, "waste:nested", _nested)(op_key)


def _nested(model):
    table: dict = {}
    for path, s in model.graph.subgraphs.items():
        if s is None or s.function is not None:
            continue
        for owner in _ancestor_ops(model, path):
            table.setdefault(owner, []).extend(s.op_keys)
    return lambda key: table.get(key, [])


def _readers(model, vkey) -> set:
    """Every op (any graph) that reads value ``vkey`` as an explicit input."""
    return {k for k, d in model.graph.nx._succ[vkey].items() if d.get("kind") == "input"}


def _graph_outputs(model) -> set:
    return _memo(model, "waste:outputs", lambda m: {k for s in m.graph.subgraphs.values() if s is not None for k in s.output_keys})


def _plain_initializers(model, path):
    """Value keys of the dense initializers of ``path`` that are constants (not also a graph input)."""
    nodes = model.graph.nx._node  # the node dicts themselves: a view per lookup costs more
    sub = model.graph.subgraphs[path]
    inputs = set(sub.input_keys)
    for key in sub.initializer_keys:
        attrs = nodes[key]
        if attrs.get("tensor") is not None and key not in inputs:
            yield key


# -- WS002: liveness --------------------------------------------------------------------


def dead_ops(model) -> dict:
    """``{path: set of dead op keys}`` (graphs under a dead op are left out)."""
    return _memo(model, "waste:dead", _dead)


def _dead(model) -> dict:
    from analyzer.graph.core import GraphError

    graph = model.graph
    out: dict = {}
    dead_all: set = set()
    sinks = _sink_paths(model)
    for path in _paths(model):
        if any(o in dead_all for o in _ancestor_ops(model, path)):
            continue
        if path not in sinks:
            try:
                graph.topological_order(path)
                continue  # no sink, no cycle: every op is live
            except GraphError:
                pass  # a cycle: a dead one has no sink, the walk decides (it follows no order)
        dead = _dead_in(graph, path)
        if dead:
            out[path] = dead
            dead_all |= dead
    return out


def _empty_keys(adj) -> list:
    """The keys of a networkx adjacency (``G._succ`` or ``G._pred``) without a neighbour,
    in one C-level pass: the graph builder gives each the shared ``NO_NEIGHBOUR``.  A graph
    filled through networkx instead (plain dicts, none shared) is looked at dict by dict."""
    from itertools import compress, repeat
    from operator import is_, not_

    from analyzer.graph.core import NO_NEIGHBOUR

    keys = list(compress(adj, map(is_, adj.values(), repeat(NO_NEIGHBOUR))))
    if not keys and adj:  # no shared empty mapping at all: plain dicts, or none is empty
        keys = list(compress(adj, map(not_, adj.values())))
    return keys


def _sink_paths(model) -> set:
    """The graphs with a *sink*: an op none of whose outputs an op of its graph reads (as
    an input, or captured by a body: the control-flow op has an implicit edge) nor the
    graph outputs.  A graph without a sink and without a cycle has every op live (the last
    dead op in a topological order would be a sink): liveness needs no walk there.

    Found from the values nothing reads (no successor in the graph: one C-level pass over
    the adjacency, no op visited): an op is a sink when each of its outputs is such a value
    and no graph output, or when it has no output (no successor either)."""
    graph = model.graph
    succ, producer, ops = graph.nx._succ, graph._producer, graph.ops
    sinks: set = set()
    outputs: dict = {}  # path -> its graph output keys, as a set (made when asked)
    for key in _empty_keys(succ):
        if key[0] == "op":
            sinks.add(key[1])
            continue
        p = producer.get(key)
        if p is None or p[1] in sinks:
            continue  # a graph input, an initializer, a missing value: no op to judge
        path = p[1]
        outs = outputs.get(path)
        if outs is None:
            outs = outputs[path] = set(graph.subgraphs[path].output_keys)
        if all(o is None or (o not in outs and not succ[o]) for o in ops[p].outputs):
            sinks.add(path)
    return sinks


def _shared_paths(model) -> set:
    """The graphs where an op may repeat another with the same inputs: a value that two
    ops of the graph read as an input, or two ops of one (domain, op type) without any
    input.  Elsewhere common subexpressions need no numbering (a chain): two ops with the
    same inputs read a value twice, or both have none.  (That one op reads a value twice
    makes no repeat.)  Found in a C-level pass over the successor adjacency, no op visited:
    a value read by two ops has a dict of successors; and from ``_validity.op_groups``, which
    notes the ops of another arity than their kind's first or with an omitted input."""

    def build(m):
        from itertools import compress, repeat
        from operator import is_

        succ = m.graph.nx._succ
        shared: set = set()
        wanted = set(_paths(m))  # the graphs common subexpressions are looked for in
        for key in compress(succ, map(is_, map(type, succ.values()), repeat(dict))):
            if key[0] != "value":
                continue  # an op with several outputs
            seen = set()
            for reader, data in succ[key].items():
                if data.get("kind") == "input":
                    if reader[1] in seen:
                        shared.add(reader[1])
                    seen.add(reader[1])
            if shared >= wanted:
                return shared
        # the ops without input, counted per (graph, domain, op type) from the arity notes of
        # the validity rules' per-kind index (the graph builder's: no pass over the ops)
        from rules._validity import count_without_inputs, op_groups

        shared.update(g.graph for g in op_groups(m) if len(g.ops) > 1 and count_without_inputs(g) > 1)
        return shared

    return _memo(model, "waste:shared", build)


def _dead_in(graph, path) -> set:
    """Ops of ``path`` from which no output of the graph is reached (through the ops of
    ``path`` and the values they read, implicit reads of bodies included)."""
    sub = graph.subgraphs[path]
    producer, pred = graph._producer, graph.nx._pred  # the adjacency dict itself, as above
    live: set = set()
    for v in sub.output_keys:
        p = producer.get(v)
        if p is not None and p[1] == path:
            live.add(p)
    stack = list(live)
    while stack:
        for v in pred[stack.pop()]:
            p = producer.get(v)
            if p is not None and p not in live and p[1] == path:
                live.add(p)
                stack.append(p)
    return {k for k in sub.op_keys if k not in live}


def under_dead(model, path) -> bool:
    ancestors = _ancestor_ops(model, path)
    if not ancestors:  # the main graph, a function body: nothing to ask liveness
        return False
    dead = dead_ops(model)
    return any(o in dead.get(o[1], ()) for o in ancestors)


def _all_dead(model) -> set:
    return _memo(model, "waste:dead_all", lambda m: set().union(*dead_ops(m).values()) if dead_ops(m) else set())


class _Union:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _components(model, ops: set, removed_of) -> list:
    """Components of ``ops`` (joined by tensors between them and by initializers read only
    by what they remove): a list of ``(sorted op keys, sorted owned initializer keys)``."""
    if not ops:  # no component, and no initializer can be owned (it needs a reader in one)
        return []
    graph, adj = model.graph, model.graph.nx._succ  # the adjacency itself: no view per value
    uf = _Union()
    for k in ops:
        uf.find(k)
        for v in graph.ops[k].outputs:
            if v is None:
                continue
            for succ in adj[v]:
                if succ in ops:
                    uf.join(k, succ)
    removed_by = {}  # every op removed (nested too) -> the component op that removes it
    for k in ops:
        for r in removed_of(k):
            removed_by[r] = k
    outputs = _graph_outputs(model)
    owned: dict = {}
    for path in _paths(model):
        for ikey in _plain_initializers(model, path):
            if ikey in outputs:
                continue
            readers = _readers(model, ikey)
            if not readers or not all(r in removed_by for r in readers):
                continue
            holders = sorted({removed_by[r] for r in readers})
            for h in holders[1:]:
                uf.join(holders[0], h)
            owned.setdefault(ikey, holders[0])
    groups: dict = {}
    for k in ops:
        groups.setdefault(uf.find(k), ([], []))[0].append(k)
    for ikey, holder in owned.items():
        groups[uf.find(holder)][1].append(ikey)
    return sorted(((sorted(a), sorted(b)) for a, b in groups.values()), key=lambda c: c[0][0])


def dead_components(model) -> list:
    """WS002's findings: components of dead ops (see ``_components``)."""

    def build(m):
        ops = _all_dead(m)
        return _components(m, ops, lambda k: [k] + nested_ops(m, k))

    return _memo(model, "waste:dead_components", build)


# -- WS001 ------------------------------------------------------------------------------


def unused_initializers(model) -> list:
    """Value keys of dense initializers that nothing reads and no graph outputs (not in
    functions, not under a dead op; a body initializer that is also a body input is left out)."""

    def build(m):
        G, outputs = m.graph.nx, _graph_outputs(m)
        out = []
        for path in _paths(m):
            if under_dead(m, path):
                continue
            sub = m.graph.subgraphs[path]
            keys = sub.initializer_keys if path == MAIN else list(_plain_initializers(m, path))
            for key in keys:
                if G.nodes[key].get("tensor") is None or key in outputs or G.succ[key]:
                    continue
                out.append(key)
        return out

    return _memo(model, "waste:unused", build)


# -- WS005: duplicate initializers ------------------------------------------------------


def duplicate_initializers(model, budget=DEFAULT_READ_BUDGET) -> dict:
    """``{"groups": [[kept key, dup key, ...], ...], "skipped": n, "skipped_bytes": n,
    "sha256": {key: hex}}`` over main-graph constant initializers with at least one live
    reader and not a graph output; payloads read smallest first up to ``budget`` bytes.
    ``sha256`` has every grouped key (and any other whose CRC-32 a same-shaped one shares)."""
    key = ("waste:dups", budget)
    memo = model.graph.memo
    if key not in memo:
        memo[key] = _dups(model, budget)
    return memo[key]


def _raw_bytes(np, arr):
    """The array's bytes in C order (``arr.tobytes()``), without a copy where numpy can
    give them as a buffer."""
    try:
        return memoryview(np.ascontiguousarray(arr)).cast("B")
    except (TypeError, ValueError):  # a dtype the buffer protocol does not describe
        return arr.tobytes()


# WS005 compares payloads by a CRC-32 of their first bytes before reading any whole
HEAD_BYTES = 1 << 16


def _head_len(itemsize) -> int:
    """The bytes read_tensor_blocks(block_bytes=HEAD_BYTES) puts in its first block."""
    return max(HEAD_BYTES // itemsize, 1) * itemsize if itemsize else HEAD_BYTES


def _head_crc(zlib, blocks):
    """CRC-32 of the first block of a payload in the file (its first ``_head_len`` bytes,
    as of ``arr.tobytes()``), or None when it is not such a payload or the read fails."""
    if blocks is None:
        return None
    try:
        first = next(iter(blocks), None)
        return zlib.crc32(b"" if first is None else memoryview(first.view("uint8")))
    except Exception:  # noqa: BLE001 - read_tensor decides, as before
        return None


def _sha256(hashlib, arr, data) -> str:
    h = hashlib.sha256()
    h.update(str(arr.dtype).encode() + b"|" + str(arr.shape).encode() + b"|")
    h.update(data)
    return h.hexdigest()


def _dups(model, budget):
    import hashlib
    import zlib

    import numpy as np

    from analyzer.io.load import read_tensor, read_tensor_blocks
    from analyzer.io.proto import TensorProto

    G, outputs, dead = model.graph.nx, _graph_outputs(model), _all_dead(model)
    nodes, adj = G._node, G._succ  # the dicts themselves: a view per initializer costs more
    by_shape: dict = {}
    order = {}
    for i, key in enumerate(_plain_initializers(model, MAIN)):
        t = nodes[key]["tensor"]
        if key in outputs or t.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
            continue
        readers = {k for k, d in adj[key].items() if d.get("kind") in ("input", "implicit")}
        if not readers or all(r in dead for r in readers):
            continue
        order[key] = i
        by_shape.setdefault((t.data_type, tuple(t.dims)), []).append(key)
    cands = [k for ks in by_shape.values() if len(ks) > 1 for k in ks]
    cands.sort(key=lambda k: (init_size(G.nodes[k]["tensor"])[1], order[k]))
    used, skipped, skipped_bytes, digests = 0, 0, 0, {}
    # Each payload gets a CRC-32 of its first HEAD_BYTES (a payload left in the file: only
    # they are read); only payloads whose head CRC another one of the same type and dims
    # shares can be copies, and only those are read whole for the SHA-256 that groups them
    # (and that the finding shows).  Equal payloads have equal heads, so the groups are
    # those of a SHA-256 of every payload.  No array is kept (RSS stays one weight).
    by_crc: dict = {}
    for k in cands:
        t = G.nodes[k]["tensor"]
        nbytes = init_size(t)[1]
        if used + nbytes > budget:
            skipped += 1
            skipped_bytes += nbytes
            continue
        crc = _head_crc(zlib, read_tensor_blocks(model.loaded, t, None, block_bytes=HEAD_BYTES))
        arr = data = None
        if crc is None:
            arr = read_tensor(model.loaded, t, max_elements=None)
            if arr is None:
                skipped += 1
                skipped_bytes += nbytes
                continue
            data = _raw_bytes(np, arr)
            crc = zlib.crc32(data[: _head_len(arr.dtype.itemsize)])
        used += nbytes
        crc_key = (t.data_type, tuple(t.dims), crc)
        first = by_crc.get(crc_key)
        if first is None:
            by_crc[crc_key] = k
            continue
        if arr is None:
            arr = read_tensor(model.loaded, t, max_elements=None)
            if arr is None:  # read before, not now (the file changed): not a copy we can show
                continue
            data = _raw_bytes(np, arr)
        if first not in digests:  # read again: only payloads that may be copies come here twice
            again = read_tensor(model.loaded, G.nodes[first]["tensor"], max_elements=None)
            if again is not None:
                digests[first] = _sha256(hashlib, again, _raw_bytes(np, again))
        digests[k] = _sha256(hashlib, arr, data)
    by_digest: dict = {}
    for k in sorted(digests, key=lambda k: order[k]):
        t = G.nodes[k]["tensor"]
        by_digest.setdefault((t.data_type, tuple(t.dims), digests[k]), []).append(k)
    groups = [ks for ks in by_digest.values() if len(ks) > 1]
    groups.sort(key=lambda ks: order[ks[0]])
    return {"groups": groups, "skipped": skipped, "skipped_bytes": skipped_bytes, "sha256": digests, "read_bytes": used}


# -- WS006: common subexpressions -------------------------------------------------------


def duplicate_components(model, budget=DEFAULT_READ_BUDGET) -> dict:
    """``{"of": {dup op key: representative op key}, "components": [(ops, owned inits)]}``.

    Value numbering in topological order, per graph: a node is a duplicate of the first node
    with the same domain, op type, overload, attributes and inputs, where an input is its
    representative's output, and a duplicate initializer (WS005) is its group's first.
    Nodes with subgraphs, random ops, training Dropout, ops of other domains and dead nodes
    take no part."""
    key = ("waste:cse", budget)
    memo = model.graph.memo
    if key not in memo:
        memo[key] = _cse(model, budget)
    return memo[key]


def _attr_signature(op):
    from analyzer.io.proto import AttributeProto

    sig = []
    for a in op.proto.attribute:
        if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or a.ref_attr_name:
            return None
        # the attribute without its doc_string (which says nothing of the computation);
        # copied only when it has one: two attributes serialize alike without the field
        # exactly when they do with it set to "" in both
        if a.HasField("doc_string"):
            b = type(a)()
            b.CopyFrom(a)
            b.ClearField("doc_string")
            data = b.SerializeToString(deterministic=True)
        else:
            data = a.SerializeToString(deterministic=True)
        name = a.name  # bytes when the file's name is not UTF-8
        sig.append((name.encode("utf-8", "surrogatepass") if isinstance(name, str) else bytes(name), data))
    return tuple(sorted(sig))


def _eligible(model, op) -> bool:
    if op.domain not in _CSE_DOMAINS or op.op_type in RANDOM_OPS or not any(v is not None for v in op.outputs):
        return False
    if op.op_type == "Dropout":
        if op.attrs.get("is_test", 1) == 0:
            return False
        if len(op.inputs) > 2 and op.inputs[2] is not None:
            v = model.constant(op.inputs[2])
            if v is None or v.size != 1 or bool(v.reshape(-1)[0]):
                return False
    return True


def _cse(model, budget):
    from analyzer.graph.core import GraphError

    graph = model.graph
    dead = _all_dead(model)
    canon: dict = {}
    for group in duplicate_initializers(model, budget)["groups"]:
        for k in group[1:]:
            canon[k] = group[0]
    of: dict = {}
    for path in _paths(model):
        if under_dead(model, path):
            continue
        if not canon and path not in _shared_paths(model):
            continue  # no value read by two ops, no copy of a tensor known: no op can repeat another
        try:
            order = graph.topological_order(path)
        except GraphError:  # a cycle (reported by the validity rules): no numbering there
            continue
        # Ops are grouped by what is cheap to read first (type, canonical inputs, output
        # count); attributes are serialized only where two ops share that: on a graph
        # without duplicates (most of them) no attribute is ever copied.
        groups: dict = {}  # cheap key -> {full signature: first op} or, while alone, its op
        canon_get, first_of = canon.get, groups.setdefault
        for op in order:
            # _eligible's tests that decide for most ops, inline (a call per op cost more
            # than the numbering); Dropout's constant look stays in it
            t = op.op_type
            if op.domain not in _CSE_DOMAINS or t in RANDOM_OPS or (dead and op.key in dead):
                continue
            outs = op.outputs
            for v in outs:
                if v is not None:
                    break
            else:
                continue
            if t == "Dropout" and not _eligible(model, op):
                continue
            ins = op.inputs
            # one flat tuple (the inputs last): a nested one cost a tuple and a hash more per op
            if canon:
                cheap = (op.domain, t, len(outs), *map(canon_get, ins, ins))
            else:
                cheap = (op.domain, t, len(outs), *ins)
            seen = first_of(cheap, op)
            if seen is op:
                continue  # alone so far: its signature waits
            if seen.__class__ is not dict:
                first, seen = seen, {}
                first_attrs = _attr_signature(first)
                if first_attrs is not None:
                    seen[(first.overload, first_attrs)] = first
                groups[cheap] = seen
            attrs = _attr_signature(op)
            if attrs is None:
                continue
            sig = (op.overload, attrs)
            rep = seen.get(sig)
            if rep is None:
                seen[sig] = op
                continue
            if any(o is not None and r is None for o, r in zip(op.outputs, rep.outputs)):
                continue
            of[op.key] = rep.key
            for o, r in zip(op.outputs, rep.outputs):
                if o is not None:
                    canon[o] = canon.get(r, r)
    comps = _components(model, set(of), lambda k: [k])
    return {"of": of, "components": comps}


def cse_owned_initializers(model, budget=DEFAULT_READ_BUDGET) -> set:
    return {i for _, inits in duplicate_components(model, budget)["components"] for i in inits}


# -- fixing -----------------------------------------------------------------------------


def remove_in_graph(gproto, node_indices=(), init_names=()):
    """Remove nodes (by index) and initializers (by name) of a body graph proto in place."""
    from analyzer.fix.rewrite import replace_nodes

    if node_indices:
        drop = set(node_indices)
        replace_nodes(gproto, [n for i, n in enumerate(gproto.node) if i not in drop])
    if init_names:
        names = set(init_names)
        for i in reversed(range(len(gproto.initializer))):
            if gproto.initializer[i].name in names:
                del gproto.initializer[i]
