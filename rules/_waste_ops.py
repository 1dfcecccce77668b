"""Shared helpers of the waste rules WS007 (no-op operators), WS008 (inverse pairs) and
WS009 (constant subgraphs): what removing nodes frees, which nodes compute constants, and
the rewiring their fixes share.

* :func:`removal_waste` mirrors :meth:`analyzer.fix.rewrite.Rewriter._prune` on the model as
  given: the initializers and nodes that lose their last reader when some nodes are removed
  (and, for a bypass, the removed chain's readers are handed to its input), so that a
  finding's ``waste["weights"]`` is exactly what its fix removes;
* :func:`constant_components` finds the maximal subgraphs of the main graph whose every
  input is a constant (initializers, Constant nodes, shapes analysis proved static);
* :class:`Wiring` and :func:`bypass` rewire a model around a chain of nodes that passes its
  input through unchanged (the graph output keeps its name).

Nothing heavy is imported at module level (rules import this module when discovered).
"""
from __future__ import annotations

__all__ = [
    "BITS", "MAIN", "TRUSTED", "Wiring", "bypass", "bypass_blocker", "constant_components", "constant_keys", "dtype_of",
    "finding", "opset", "removal_waste", "same_shape", "sizes_bound", "tensor_bytes", "trusted_shape",
]  # fmt: skip

MAIN = "main"
# onnx TensorProto data type -> bits per element (4-bit types are stored two to a byte)
BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
        17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2}  # fmt: skip
# shape sources that are proofs (our engine, onnx's inference, the file's inputs and
# initializers); ``value_info`` is the file's claim about an intermediate, not a proof
TRUSTED = ("inferred", "onnx", "input", "initializer")


# --------------------------------------------------------------------------- small queries


def opset(am, domain: str = "") -> int:
    for imp in am.model.opset_import:
        if (imp.domain or "") in ((domain,) if domain else ("", "ai.onnx")):
            return int(imp.version)
    return 0


def dtype_of(am, key):
    """The onnx element type (int) analysis knows for a value, or None."""
    return None if key is None else am.info(key).dtype


def trusted_shape(am, key):
    """The value's shape when every dim is known (int or symbol) and proven, else None."""
    if key is None:
        return None
    inf = am.info(key)
    if inf.source not in TRUSTED or inf.shape is None or any(d is None for d in inf.shape):
        return None
    return tuple(d if isinstance(d, str) else int(d) for d in inf.shape)


def same_shape(am, a, b) -> bool:
    """Both values have the same proven shape (ints equal, symbols the same expression)."""
    sa, sb = trusted_shape(am, a), trusted_shape(am, b)
    if sa is None or sb is None or len(sa) != len(sb):
        return False
    return all(isinstance(x, int) == isinstance(y, int) and (x == y if isinstance(x, int) else str(x) == str(y))
               for x, y in zip(sa, sb))


def constant_keys(am) -> frozenset:
    """Value keys (any graph) whose constant value analysis may know: every key ``k`` with
    ``am.constant(k) is not None`` is in it, and no initializer payload is read to make
    it (an initializer's info, which reads its value on first use, counts as known).

    Made from the infos of the value nodes, read in one pass (``_validity.value_infos``,
    which MV023 reads too; a proven info has the value of the one stored): outputs
    without a value share a few TensorInfo objects, so the question is asked once per
    distinct info, and a graph where no info holds a value (nothing constant) gets the
    empty set without a key hashed.  A rule asks this set before ``am.constant`` on
    every operand of a node (WS007: 100k-op DAG 108 -> 15 ms CPU)."""
    memo = am._memo
    got = memo.get("ws_constant_keys")
    if got is None:
        from itertools import compress

        from analyzer.shapes import TensorInfo
        from rules._validity import value_infos

        nodes = am.graph.nx._node
        infos = value_infos(am)  # in the order of ``nodes``
        maybe = {
            i for i, inf in dict(zip(map(id, infos), infos)).items()
            if inf is not None and (inf.__class__ is not TensorInfo or inf.value is not None)
        }
        got = frozenset(compress(nodes.keys(), map(maybe.__contains__, map(id, infos)))) if maybe else frozenset()
        memo["ws_constant_keys"] = got
    return got


def _declared_dims(vi):
    t = vi.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]


def sizes_bound(am) -> bool:
    """True when the analysis bound a dim the file leaves open (``--input-shape``): shapes
    are then those of one input size, and a shape-based proof holds only there."""
    memo = am._memo
    if "ws_sizes_bound" not in memo:
        bound = False
        inits = {t.name for t in am.model.graph.initializer}
        for vi in am.model.graph.input:
            if vi.name in inits:
                continue
            declared = _declared_dims(vi)
            try:
                got = am.value(vi.name).shape
            except KeyError:
                continue
            if got is None:
                continue
            if declared is None or len(declared) != len(got):
                bound = bound or any(isinstance(d, int) for d in got)
            else:
                bound = bound or any(d is None and isinstance(e, int) for d, e in zip(declared, got))
        memo["ws_sizes_bound"] = bound
    return memo["ws_sizes_bound"]


def tensor_bytes(proto) -> tuple[int, int]:
    """(elements, bytes in the stored dtype) of an initializer, from its dims."""
    from analyzer.common import element_count

    n = element_count(proto.dims)
    return n, (n * BITS.get(int(proto.data_type), 0) + 7) // 8


# --------------------------------------------------------------------------- what a removal frees


class _Index:
    """Readers (by name, in every graph, functions and main outputs, as the Rewriter counts
    them), producers and initializers of the main graph, built once per model."""

    def __init__(self, am):
        from analyzer.fix.walk import readers

        g = am.model.graph
        self.counts = readers(am.model)
        self.producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
        self.inits = {t.name: t for t in g.initializer}
        self.inputs = {i.name for i in g.input}
        self.outputs = {o.name for o in g.output}
        self.nodes = g.node
        self.read_in_subgraphs = _subgraph_reads(g)


def _walk(stack):
    while stack:
        g = stack.pop()
        yield g
        for n in g.node:
            for a in n.attribute:
                if a.type == 5:
                    stack.append(a.g)
                elif a.type == 10:
                    stack.extend(a.graphs)


def _subgraph_reads(g) -> set:
    """Names read by any node inside the main graph's If/Loop/Scan bodies (any depth)."""
    sub = set()
    for n in g.node:
        for a in n.attribute:
            if a.type in (5, 10):  # GRAPH, GRAPHS
                for gg in _walk([a.g] if a.type == 5 else list(a.graphs)):
                    for nn in gg.node:
                        sub.update(x for x in nn.input if x)
    return sub


def index(am) -> _Index:
    memo = am._memo
    if "ws_index" not in memo:
        memo["ws_index"] = _Index(am)
    return memo["ws_index"]


def removal_waste(am, removed, transfer=None, keep=()):
    """What removing the main-graph nodes ``removed`` (indices) frees, as the fix's prune
    will: ``(dead initializers [(name, elements, bytes)], pruned node indices)``.
    ``transfer=(x, y)``: the readers of ``y`` read ``x`` afterwards (a bypass); ``keep``:
    names that stay defined and read (a fold's results)."""
    ix = index(am)
    delta: dict = {}

    def count(name):
        return ix.counts.get(name, 0) + delta.get(name, 0)

    def drop(name):
        delta[name] = delta.get(name, 0) - 1

    gone = set(removed)
    work = []
    for i in removed:
        for name in ix.nodes[i].input:
            if name:
                drop(name)
                work.append(name)
    if transfer is not None:
        x, y = transfer
        delta[x] = delta.get(x, 0) + count(y)
    for name in keep:
        delta[name] = delta.get(name, 0) + 1
    dead_inits, pruned, seen = [], [], set()
    while work:
        nxt = []
        for name in work:
            if not name or count(name) > 0 or name in seen:
                continue
            if name in ix.inits and name not in ix.inputs:
                seen.add(name)
                dead_inits.append((name, *tensor_bytes(ix.inits[name])))
            elif name in ix.producer and ix.producer[name] not in gone:
                p = ix.producer[name]
                node = ix.nodes[p]
                if all(count(o) <= 0 for o in node.output if o):
                    gone.add(p)
                    pruned.append(p)
                    for inp in node.input:
                        if inp:
                            drop(inp)
                            nxt.append(inp)
        work = nxt
    return dead_inits, pruned


def waste_dict(am, ops, dead_inits, pruned) -> dict:
    """``Finding.waste`` of removing ``ops`` (OpNodes) and what that prunes."""
    from analyzer.analyses.macs import op_macs

    macs = 0
    for op in list(ops) + [am.graph.ops.get(("op", MAIN, i)) for i in pruned]:
        m = None if op is None else op_macs(am, op)
        if m is None:
            macs = None
            break
        macs += m
    return {"weights": sum(d[1] for d in dead_inits), "bytes": sum(d[2] for d in dead_inits), "macs": macs}


# --------------------------------------------------------------------------- bypass (check side)


def bypass_blocker(am, x: str, y: str) -> str | None:
    """Why a chain from ``x`` to ``y`` (main-graph names) cannot be bypassed while keeping
    the model's interface and every other reader, or None."""
    ix = index(am)
    if y in ix.read_in_subgraphs:
        return f"{y!r} is read inside a subgraph"
    if y in ix.outputs:
        if x in ix.outputs:
            return f"{x!r} and {y!r} are both graph outputs"
        if x not in ix.producer:
            return f"{x!r} is a graph input or initializer and {y!r} a graph output: the node is the model's interface"
        if x in ix.read_in_subgraphs:
            return f"{x!r} is read inside a subgraph"
    return None


def finding(code, name, severity, op, message, details, waste, related=()):
    from analyzer.findings import Finding

    return Finding(
        rule=code, name=name, severity=severity, node=op.id, node_index=op.index, graph=op.graph,
        op_type=op.op_type, message=message, details=details, waste=waste,
        related=[{"node": r.id, "op_type": r.op_type} for r in related],
    )  # fmt: skip


# --------------------------------------------------------------------------- constant subgraphs

# ops never folded: sources of randomness, control flow, sequences and optionals
_NOT_FOLDABLE = {
    "Constant", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
    "Bernoulli", "If", "Loop", "Scan", "SplitToSequence", "ConcatFromSequence",
}  # fmt: skip
# a component made only of these decodes stored weights (fp16 -> fp32, int8 -> float): by design
DECODING = {"Cast", "CastLike", "Identity", "DequantizeLinear"}


def _foldable_op(op) -> bool:
    return (
        op.domain == ""
        and op.op_type not in _NOT_FOLDABLE
        and not op.op_type.startswith(("Sequence", "Optional"))
        and not any(a.type in (5, 10) for a in op.proto.attribute)
    )


def constant_components(am) -> list:
    """Maximal constant subgraphs of the main graph: a list of lists of OpNodes (each in
    topological order), components joined by data edges.  A node is constant when it is
    foldable and every input is an initializer (not a graph input), a Constant node's
    output or a constant node's output; ``Shape`` / ``Size`` of a value whose shape
    analysis proved (not at a bound input size) is constant too."""
    memo = am._memo
    if "ws_components" in memo:
        return memo["ws_components"]
    from rules._waste_graph import op_types

    # the main graph's dense initializers that are not graph inputs, from the graph (the
    # readers index that index() builds over the protos is not needed here)
    main = am.graph.subgraphs[MAIN]
    nodes = am.graph.nx.nodes
    inputs = {k[2] for k in main.input_keys}
    const_names = {k[2] for k in main.initializer_keys if nodes[k].get("tensor") is not None and k[2] not in inputs}
    if not const_names and op_types(am).isdisjoint(("Constant", "Shape", "Size")):
        memo["ws_components"] = []  # nothing constant to start from: no node can be
        return memo["ws_components"]
    order = am.graph.topological_order(MAIN)
    const_ops = []
    bound = sizes_bound(am)
    # One pass over every node of the graph: the test that rejects most of them (an input
    # that is not constant, usually the first) is written out inline, with no list or
    # generator per node.
    for op in order:
        t = op.op_type
        if t == "Constant" and op.domain == "":
            const_names.update(k[2] for k in op.outputs if k is not None)
            continue
        ok = False  # True: at least one input, every one constant
        for k in op.inputs:
            if k is None:
                continue
            if k[1] != MAIN or k[2] not in const_names:
                ok = False
                break
            ok = True
        if not ok:
            if t != "Shape" and t != "Size" or bound:
                continue  # the inputs decide first: cheaper than reading the node's attributes
            ins = [k for k in op.inputs if k is not None]
            if not ins:
                continue
        if not _foldable_op(op):
            continue
        if not ok:
            src = am.info(ins[0]).source
            ok = src in TRUSTED and am.constant(op.outputs[0]) is not None
        if ok and all(k is not None and am.info(k).dtype for k in op.outputs):
            const_ops.append(op)
            const_names.update(k[2] for k in op.outputs)
    in_set = {op.key for op in const_ops}
    parent = {op.key: op.key for op in const_ops}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for op in const_ops:
        for k in op.inputs:
            p = am.graph.producer(k) if k is not None else None
            if p is not None and p.key in in_set:
                parent[find(op.key)] = find(p.key)
    groups: dict = {}
    for op in const_ops:
        groups.setdefault(find(op.key), []).append(op)
    memo["ws_components"] = list(groups.values())
    return memo["ws_components"]


def reported_components(am) -> list:
    """The components WS009 reports: not made only of weight decoding (Cast, Identity,
    DequantizeLinear), and with no DequantizeLinear at all (quantized weights are kept
    quantized on purpose)."""
    return [c for c in constant_components(am)
            if not all(op.op_type in DECODING for op in c) and not any(op.op_type == "DequantizeLinear" for op in c)]


def folded_keys(am) -> set:
    """Op keys of the nodes in reported constant components (WS007/WS008 leave them to WS009)."""
    memo = am._memo
    if "ws_folded" not in memo:
        memo["ws_folded"] = {op.key for c in reported_components(am) for op in c}
    return memo["ws_folded"]


# --------------------------------------------------------------------------- bypass (fix side)


class Wiring:
    """Readers and producers of the main graph as the rewriter's model is now (nodes other
    fixes removed left out, nodes they insert included), kept current by :func:`bypass`."""

    def __init__(self, rw):
        g = rw.model.graph
        self.rw = rw
        self.readers: dict = {}  # name -> [(NodeProto, position)]
        self.producer: dict = {}  # name -> NodeProto
        live = [n for i, n in enumerate(g.node) if i not in rw.removed_nodes]
        live += [n for extra in rw.new_nodes.values() for n in extra]
        for n in live:
            for pos, name in enumerate(n.input):
                if name:
                    self.readers.setdefault(name, []).append((n, pos))
            for o in n.output:
                if o:
                    self.producer[o] = n
        self.outputs = {o.name for o in g.output}
        self.inits = {t.name for t in g.initializer}
        self.inputs = {i.name for i in g.input}
        self.read_in_subgraphs = _subgraph_reads(g)


def bypass(rw, w: Wiring, nodes, x: str, y: str) -> str:
    """Remove ``nodes`` (NodeProtos of the main graph, by index in ``rw``'s model), which
    turn ``x`` into an identical ``y``: ``y``'s readers read ``x``; when ``y`` is a graph
    output, ``x``'s producer writes ``y`` instead (and ``x``'s readers read ``y``).
    Returns what was done ("rewired" / "renamed"); raises Refused."""
    from analyzer.fix.records import Refused

    g = rw.model.graph
    idx = {id(n): i for i, n in enumerate(g.node)}
    indices = []
    for n in nodes:
        i = idx.get(id(n))
        if i is None or i in rw.removed_nodes:
            raise Refused("the node is already removed or rewritten by another fix")
        indices.append(i)
    removed = {id(n) for n in nodes}
    inner = {o for n in nodes for o in n.output if o} - {y}
    for name in inner:
        if name in w.outputs or name in w.read_in_subgraphs or any(id(r) not in removed for r, _ in w.readers.get(name, ())):
            raise Refused(f"{name!r} has other readers")
    if y in w.read_in_subgraphs:
        raise Refused(f"{y!r} is read inside a subgraph")
    if y in w.outputs:
        if x in w.outputs:
            raise Refused(f"{x!r} and {y!r} are both graph outputs")
        if x not in w.producer or x in w.inits or x in w.inputs:
            raise Refused(f"{y!r} is a graph output and {x!r} is not computed by a node: the node is the model's interface")
        if x in w.read_in_subgraphs:
            raise Refused(f"{x!r} is read inside a subgraph")
        p = w.producer.pop(x)
        for k, o in enumerate(p.output):
            if o == x:
                p.output[k] = y
        moved = []
        for r, pos in w.readers.pop(x, []):
            if id(r) in removed:
                continue
            r.input[pos] = y
            moved.append((r, pos))
        w.producer[y] = p
        w.readers[y] = [t for t in w.readers.get(y, []) if id(t[0]) not in removed] + moved
        done = "renamed"
    else:
        moved = w.readers.pop(y, [])
        for r, pos in moved:
            r.input[pos] = x
        w.readers[x] = [t for t in w.readers.get(x, []) if id(t[0]) not in removed] + moved
        w.producer.pop(y, None)
        done = "rewired"
    for n in nodes:
        for name in n.input:
            if name and name != x:
                w.readers[name] = [t for t in w.readers.get(name, []) if id(t[0]) not in removed]
        for o in n.output:
            if o and o != y:
                w.producer.pop(o, None)
    rw.removed_nodes.update(indices)
    rw.orphans.extend(name for n in nodes for name in n.input if name)
    return done
