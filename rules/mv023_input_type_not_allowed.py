"""MV023 input-type-not-allowed: a node input whose element type the operator's schema does not allow.

## What it does
For every node whose operator onnx knows (at the model's opset), takes the element type
analysis knows for each input (declared graph inputs, initializers, types propagated by
shape inference; a declared ``value_info`` is not trusted) and checks it against the
schema's formal parameter:

* a type outside the parameter's type constraint (``Conv`` on ``int64``: T is float16,
  float, double; ``Softmax`` on ``int32``);
* one type variable bound to two different types on one node (``Add(float, int64)``:
  both inputs are ``T``).

Optional, sequence, map and optional-typed parameters and heterogeneous variadic
inputs are skipped; so are nodes inside model-local functions (their types depend on
the call).  Output types follow from the inputs and are SH001's concern when declared.

## Why is this bad?
Each operator spec lists its "Type Constraints" ("T : tensor(float16), tensor(float),
tensor(double) -- Constrain input and output types to float tensors"), and a type
variable stands for one type per node.  onnx's checker (full check) fails with "B has
inconsistent type tensor(int64)"; onnxruntime refuses the model at load time: "Type
Error: Type parameter (T) of Optype (Add) bound to different types (tensor(float) and
tensor(int64)", "Type Error: Type (tensor(int64)) of input parameter (X) of operator
(Conv) in node () is invalid."

## Example
```
y = Add(x: float32[2, 3], z: int64[2, 3])
```

## How to fix
Insert a ``Cast`` to the type the operator expects (``Cast(z, to=FLOAT)``), or re-export
with consistent dtypes.

## Details
``node``, ``op_type``, ``graph``, ``input`` (tensor name), ``input_index``, ``parameter``,
``type_variable``, ``dtype`` (``"tensor(int64)"``), ``allowed`` (list), ``problem``
(``not-allowed`` or ``bound-twice``), ``other_input`` / ``other_dtype`` for a binding
conflict.
"""
from __future__ import annotations

CODE = "MV023"
NAME = "input-type-not-allowed"
SEVERITY = "error"


def type_string(elem_type: int) -> str | None:
    """``tensor(float)`` for an element type (onnx's names), or None."""
    from analyzer.io.proto import TensorProto

    try:
        name = TensorProto.DataType.Name(int(elem_type))
    except ValueError:
        return None
    name = name.lower()
    return {"float": "tensor(float)", "double": "tensor(double)"}.get(name, f"tensor({name})")


def _param_for(params, i):
    """The formal parameter that the ``i``-th actual argument binds to."""
    if not params:
        return None
    if i < len(params):
        return params[i]
    last = params[-1]
    return last if last.option == "variadic" else None


def check(model, options=None):
    import sys

    from analyzer.io.load import shown
    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    # What decides a node's findings: its schema (its group's) and the dtype known for each
    # input.  Nodes of a group alike in dtypes that gave no finding are not checked again
    # (a million-node graph holds a handful of such signatures).
    info = model.info
    trusted = va.TRUSTED_SOURCES
    only = _only_dtype(model, v, trusted)
    found = []
    for grp in v.op_groups(model):
        schema = grp.schema
        if schema is None or not schema.inputs or grp.graph.startswith("function:"):
            continue  # no schema, no formal input to check, or types that depend on the call
        if only is not _MIXED:
            if only is None:
                break  # no input has a trusted dtype: nothing to check anywhere
            # every input is of dtype ``only`` or unknown: a node of n inputs can fail only
            # where n inputs of that dtype fail (an unknown one is skipped).  What n inputs of
            # one dtype give is a prefix of what n + 1 give (an input's problem depends on
            # those before it), and past the formal inputs nothing new comes (an input there
            # binds to no parameter, or to the variadic last one, already seen with this
            # dtype): when as many inputs as the schema has formal ones fail nowhere, no node
            # of the group fails, and its nodes are not visited
            if not _problems(schema, (only,) * len(schema.inputs)):
                continue
            if not any(_problems(schema, (only,) * n) for n in v.input_counts(grp)):
                continue
        opset = grp.opset
        clean: set = set()
        for op in grp.ops:
            ins = op.inputs
            sig = None
            if None not in ins:
                try:  # input_info for each input, inlined: this runs once per input of the model
                    if len(ins) == 2:
                        a, b = map(info, ins)
                        sig = (a.dtype if a.source in trusted else None, b.dtype if b.source in trusted else None)
                    elif len(ins) == 1:
                        a = info(ins[0])
                        sig = (a.dtype if a.source in trusted else None,)
                    else:
                        sig = tuple([i.dtype if i.source in trusted else None for i in map(info, ins)])
                except Exception:
                    sig = None
            if sig is None:
                sig = []
                for i, key in enumerate(ins):
                    got = None if key is None else va.input_info(model, op, i)
                    sig.append(None if got is None else got.dtype)
                sig = tuple(sig)
            if sig in clean:
                continue
            before = len(found)
            found.extend(_check_op(rule, model, op, schema, opset, va, shown))
            if len(found) == before:
                clean.add(sig)
    yield from v.in_walk_order(model, found)


_MIXED = object()


def _only_dtype(model, v, trusted):
    """The one dtype every value with a trusted info has (None when no value has one), or
    ``_MIXED``: one look per distinct (source, dtype) of the model's infos (``value_infos``).  The
    dtype of a ``value_info`` one counts too: the proven info ``model.info`` gives for it
    has that dtype, and a trusted source."""
    from operator import attrgetter

    # the distinct sources, then dtypes (or (source, dtype) pairs), in C-level passes (None,
    # for an op node or a value without info, is left out; a TensorInfo is always true)
    infos = v.value_infos(model)
    if len(infos) > 1:
        # one info of each run of the same object (values next to each other mostly share
        # one: a chain's or a DAG's millions come down to a handful), in a C-level pass that
        # reads no info; the sets below are those of every info
        from itertools import compress, islice
        from operator import is_not

        last = infos[-1]
        infos = list(compress(infos, map(is_not, infos, islice(infos, 1, None))))
        infos.append(last)
    sources = set(map(attrgetter("source"), filter(None, infos)))
    if all(source in trusted or source == "value_info" for source in sources):
        # every info counts: its dtype alone is asked (two passes without a tuple made per info)
        seen = set(filter(None, map(attrgetter("dtype"), filter(None, infos))))
    else:
        pairs = set(map(attrgetter("source", "dtype"), filter(None, infos)))
        seen = {dtype for source, dtype in pairs if dtype and (source in trusted or source == "value_info")}
    if len(seen) > 1:
        return _MIXED
    return seen.pop() if seen else None


def _problems(schema, dtypes):
    """``(problem, i, parameter, type string, allowed, earlier binding)`` for each input
    whose dtype (``dtypes[i]``: an onnx element type, or falsy when unknown: skipped)
    ``schema`` does not allow, or that binds a type variable an earlier input bound to
    another type (``earlier binding``: ``(type string, input index)``)."""
    out = []
    bound: dict = {}  # type variable -> (dtype string, input index)
    for i, dtype in enumerate(dtypes):
        if not dtype:
            continue
        p = _param_for(schema.inputs, i)
        if p is None or (p.option == "variadic" and not p.homogeneous):
            continue
        ts = type_string(dtype)
        if ts is None:
            continue
        allowed = schema.type_constraints.get(p.type_str)
        if allowed is None:
            allowed = frozenset([p.type_str])  # a concrete type: "tensor(int64)"
        if not allowed or any(not a.startswith("tensor(") for a in allowed):
            continue  # sequences, maps, optionals: our dtype does not say which
        if ts not in allowed:
            out.append(("not-allowed", i, p, ts, allowed, None))
            continue
        if p.type_str in schema.type_constraints:
            prev = bound.get(p.type_str)
            if prev is None:
                bound[p.type_str] = (ts, i)
            elif prev[0] != ts:
                out.append(("bound-twice", i, p, ts, allowed, prev))
    return out


def _check_op(rule, model, op, schema, opset, va, shown):
    ins = op.inputs
    dtypes = []
    for i, key in enumerate(ins):
        info = None if key is None else va.input_info(model, op, i)
        dtypes.append(None if info is None else info.dtype)
    for problem, i, p, ts, allowed, prev in _problems(schema, dtypes):
        key = ins[i]
        if problem == "not-allowed":
            yield va.node_finding(
                rule, op,
                f"input {i} {shown(key[2])} is {ts}, which {op.op_type}-{schema.since_version}'s {p.name} ({p.type_str}) does not allow; allowed: {', '.join(sorted(allowed))}",
                {"input": key[2], "input_index": i, "parameter": p.name, "type_variable": p.type_str, "dtype": ts, "allowed": sorted(allowed), "problem": "not-allowed", "opset": opset},
            )
        else:
            other = ins[prev[1]][2]
            yield va.node_finding(
                rule, op,
                f"type variable {p.type_str} is bound to {prev[0]} by input {prev[1]} {shown(other)} and to {ts} by input {i} {shown(key[2])}; one node binds it to one type",
                {"input": key[2], "input_index": i, "parameter": p.name, "type_variable": p.type_str, "dtype": ts,
                 "other_input": other, "other_dtype": prev[0], "allowed": sorted(allowed), "problem": "bound-twice", "opset": opset},
            )
