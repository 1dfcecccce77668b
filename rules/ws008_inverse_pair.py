"""WS008 inverse-pair: two consecutive operators that undo each other.

## What it does
Finds, in the main graph, a node whose only reader is a second node that turns its output
back into exactly its input:

| pair | when |
| --- | --- |
| Transpose -> Transpose | the perms compose to the identity (``perm1[perm2[i]] == i``) |
| Reshape / Flatten / Squeeze / Unsqueeze -> Reshape / Flatten / Squeeze / Unsqueeze | the second's output has exactly the first's input shape (proven by the shape engine; symbols compare as expressions) |
| Cast -> Cast | back to the input's type through a type that holds every value of it: widening then narrowing back (``float32 -> float64 -> float32``, ``float16 -> float32 -> float16``, ``int8 -> int32 -> int8``, ``uint8 -> float16 -> uint8``, ``bool -> anything -> bool``); never a narrowing first (``float32 -> float16 -> float32`` loses precision: not reported) |

The first node's output must have no other reader and not be a graph output.  With
``--input-shape`` binding a dim the file leaves open, the reshape pairs are not reported
(their proof would hold at that size only).  Pairs inside a constant subgraph are left to
WS009, and a pair whose nodes WS007 already reports as no-ops to WS007.  A pair that joins
a graph input straight to a graph output is the model's interface and is not reported.

## Why is this bad?
Both nodes move (or convert) the whole tensor and give back what they got: two kernel
launches, two buffers, and a pattern that blocks fusions.  They come from exporters and
layout conversions (NCHW <-> NHWC transposes around an op that was later removed, a
flatten/unflatten around nothing, a precision round trip around a removed op).

## Example
```
t = Transpose(x, perm=[0, 2, 3, 1])
y = Transpose(t, perm=[0, 3, 1, 2])     # y == x
```

## How to fix
`onnxlint fix --select WS008` removes both nodes; the second's readers read the first's
input.  When the second's output is a graph output, it keeps its name (the producer of the
first's input writes it).  Shape operands only the pair read go with it.  Refused (with the
reason) when a tensor involved is read inside an If/Loop/Scan body, or another fix already
removed one of the nodes.

## Details
``kind`` (``transpose``, ``reshape``, ``cast``), ``nodes`` (the two node ids), ``input``,
``output``, ``intermediate`` (tensor names), ``shape`` / ``perms`` / ``types`` (the proof),
``freed_initializers``, ``pruned_nodes``.
"""
from __future__ import annotations

CODE = "WS008"
NAME = "inverse-pair"
SEVERITY = "warning"

_RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
# onnx element type -> (kind, bits or mantissa bits, max exponent)
_INTS = {2: ("u", 8), 3: ("s", 8), 4: ("u", 16), 5: ("s", 16), 6: ("s", 32), 12: ("u", 32), 7: ("s", 64), 13: ("u", 64)}
_FLOATS = {10: (11, 15), 16: (8, 127), 1: (24, 127), 11: (53, 1023)}
_BOOL = 9
_TYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16"}  # fmt: skip


def holds_every_value(a: int, b: int) -> bool:
    """Every value of onnx type ``a`` is exactly a value of type ``b`` (and Cast back gives it)."""
    if a == b:
        return True
    if a == _BOOL:
        return b in _INTS or b in _FLOATS
    if a in _INTS:
        sa, ba = _INTS[a]
        if b in _INTS:
            sb, bb = _INTS[b]
            return bb >= ba if sa == sb else (sa == "u" and sb == "s" and bb > ba)
        if b in _FLOATS:
            return (ba if sa == "u" else ba - 1) <= _FLOATS[b][0]
        return False
    if a in _FLOATS and b in _FLOATS:
        return _FLOATS[b][0] >= _FLOATS[a][0] and _FLOATS[b][1] >= _FLOATS[a][1]
    return False


def _perm(am, op):
    perm = op.attr("perm")
    if perm:
        return [int(p) for p in perm]
    shape = am.shape(op.inputs[0])
    return None if shape is None else list(range(len(shape)))[::-1]


def _pair(am, a, b):
    """``(kind, proof)`` when ``b`` undoes ``a``, else None."""
    from rules._waste_ops import same_shape, sizes_bound, trusted_shape

    if a.op_type == "Transpose" and b.op_type == "Transpose":
        p1, p2 = _perm(am, a), _perm(am, b)
        if p1 is None or p2 is None or len(p1) != len(p2) or sorted(p1) != list(range(len(p1))) or sorted(p2) != sorted(p1):
            return None
        return ("transpose", {"perms": [p1, p2]}) if all(p1[p2[i]] == i for i in range(len(p1))) else None
    if a.op_type in _RESHAPES and b.op_type in _RESHAPES:
        if sizes_bound(am) or not same_shape(am, a.inputs[0], b.outputs[0]):
            return None
        return "reshape", {"shape": [str(d) if isinstance(d, str) else d for d in trusted_shape(am, a.inputs[0])]}
    if a.op_type == "Cast" and b.op_type == "Cast":
        t0, t1 = am.info(a.inputs[0]).dtype, a.attr("to")
        if not t0 or b.attr("to") != t0 or not holds_every_value(int(t0), int(t1)) or t0 == t1:
            return None
        names = [_TYPE_NAMES.get(int(t), str(t)) for t in (t0, t1, t0)]
        return "cast", {"types": names}
    return None


def check(model, options=None):
    from rules._waste_ops import (
        MAIN,
        bypass_blocker,
        finding,
        folded_keys,
        index,
        removal_waste,
        waste_dict,
    )
    from rules._waste_graph import op_types
    from rules.ws007_no_op_operator import noop

    am = model
    if op_types(am).isdisjoint(_RESHAPES | {"Transpose", "Cast"}):
        return  # no candidate first node: no pass over the nodes
    folded = folded_keys(am)
    ix = None  # the readers index, built at the first candidate pair
    for a in am.graph.topological_order(MAIN):
        if a.op_type not in ("Transpose", "Cast") and a.op_type not in _RESHAPES:
            continue
        if a.domain != "" or a.key in folded or not a.inputs or a.inputs[0] is None or not a.outputs or a.outputs[0] is None:
            continue
        if ix is None:
            ix = index(am)
        mid = a.outputs[0]
        users = am.graph.consumers(mid)
        if len(users) != 1 or users[0][1] != 0 or ix.counts.get(mid[2], 0) != 1 or mid[2] in ix.outputs:
            continue
        b = users[0][0]
        if b.graph != MAIN or b.domain != "" or b.key in folded or not b.outputs or b.outputs[0] is None:
            continue
        got = _pair(am, a, b)
        if got is None or noop(am, a) is not None or noop(am, b) is not None:
            continue
        kind, proof = got
        x, y = a.inputs[0][2], b.outputs[0][2]
        if a.inputs[0][1] != MAIN or bypass_blocker(am, x, y) is not None:
            continue
        dead, pruned = removal_waste(am, [a.index, b.index], transfer=(x, y))
        waste = waste_dict(am, [a, b], dead, pruned)
        details = {
            "kind": kind, "nodes": [a.id, b.id], "input": x, "intermediate": mid[2], "output": y, **proof,
            "freed_initializers": [n for n, _, _ in dead],
            "pruned_nodes": [am.graph.ops[("op", MAIN, i)].id for i in pruned],
        }  # fmt: skip
        msg = f"{a.op_type} {a.id!r} and {b.op_type} {b.id!r} undo each other: {y!r} equals {x!r}"
        yield finding(CODE, NAME, SEVERITY, a, msg, details, waste, related=[b])


def _render(change, esc) -> str:
    nodes = " + ".join(esc(n) for n in change.before["nodes"])
    return f"{nodes} removed ({esc(change.before['kind'])} round trip); {change.params_removed} parameters removed"


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: remove both nodes of each pair (one Change per finding)."""
    from analyzer.fix.records import Change, Refused
    from rules._waste_ops import Wiring, bypass

    rw = rewriter
    w = Wiring(rw)
    g = rw.model.graph
    for f in findings:
        try:
            first = rw.main_op(f)
            second = rw.ops_by_id.get(f.details["nodes"][1]) if first is not None else None
            if first is None or second is None:
                raise Refused(f"inside {f.graph}: only main-graph nodes are removed")
            if first.index in rw.removed_nodes or second.index in rw.removed_nodes:
                raise Refused("a node of the pair is already removed by another fix")
            a, b = g.node[first.index], g.node[second.index]
            if list(b.input[:1]) != list(a.output[:1]):
                raise Refused("the pair is no longer connected (another fix rewired it)")
            x, y = a.input[0], b.output[0]
            how = bypass(rw, w, [a, b], x, y)
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e)))
            continue
        rw.changes.append(Change(
            CODE, f.node, f.op_type, "fixed",
            before={"kind": f.details["kind"], "nodes": list(f.details["nodes"]), "input": x, "output": y},
            after={"how": how, "removed_nodes": list(f.details["nodes"]) + list(f.details.get("pruned_nodes", []))},
            params_removed=int(f.waste.get("weights") or 0), bytes_removed=int(f.waste.get("bytes") or 0),
            render=_render))  # fmt: skip
