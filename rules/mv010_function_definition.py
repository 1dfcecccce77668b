"""MV010 function-definition: a model-local function that is malformed or clashes with the model.

## What it does
Checks each entry of ``model.functions``:

* ``empty-name``: the function has no name;
* ``duplicate``: two functions with one (domain, name, overload);
* ``duplicate-input`` / ``duplicate-output`` / ``duplicate-attribute``: a name repeated
  in the function's inputs, outputs or attributes (``attribute`` and
  ``attribute_proto`` together);
* ``recursive``: the functions call each other in a cycle (``F`` calls ``F``, or
  ``F`` calls ``G`` calls ``F``), also through If/Loop/Scan bodies inside them;
* ``opset-mismatch``: the function imports a domain at another version than the
  model, and one of its nodes therefore binds to another definition of its operator
  than the model's version would give (``Relu`` at 13 in the function, 17 in the
  model: ``Relu``-14 lies between).  Versions that resolve every node to the same
  definition (16 and 17 for ``Relu``) are compatible, as onnx.checker decides.

The function body itself is checked like every graph by the other rules (MV001
undefined inputs, MV004 outputs, MV005 order, MV006 its opset imports, MV008
operators; two producers of one name stop the analysis: ``graph-duplicate-tensor``).
A function in the default domain is not a case here: a node calling it is an
unknown operator (MV008).

## Why is this bad?
``onnx.checker`` rejects each case ("Field 'name' of 'function' is required to be
non-empty", "Model contains multiple local functions with the same implementation id
'local::F'", "function (F) should not have duplicate outputs specified", "... duplicate
attributes specified", "Cycle detected in model-local function references: local::F ->
local::F. Model-local functions must not be recursive", "Opset import for domain in function op Relu is not
compatible with the version imported by model").  onnxruntime refuses a repeated
function, repeated outputs and a recursive function (inlining never ends); it inlines the other cases with the mismatched
definitions, which differ from what onnx validates.

## Example
```
model opset_import: [("", 17), ("local", 1)]
function local.F: opset_import [("", 13)], attributes [alpha, alpha], outputs (b, b)
```

## How to fix
Name the function; delete the repeated definition; make inputs, outputs and
attributes unique; import the same versions in the function as in the model (or
convert the function's body).

## Details
``kind`` (above), ``function`` (``domain:name``), ``name`` (the repeated name), ``cycle``
(for ``recursive``: the functions of the cycle, in call order), for
``opset-mismatch`` ``domain``, ``function_version``, ``model_version``, ``op_type``.
"""
from __future__ import annotations

CODE = "MV010"
NAME = "function-definition"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import (
        ONNX_DOMAINS, finding, function_of_path, model_opsets, opsets_of, schema_at, shown,
    )

    rule = sys.modules[__name__]
    graph = model.graph
    seen = set()
    by_fn: dict = {}  # id(function) -> its ops (body and nested bodies), filled on first need
    for index, fn in enumerate(model.model.functions):
        domain, name, overload = text(fn.domain), text(fn.name), text(fn.overload)
        ident = f"{domain}:{name}" + (f":{overload}" if overload else "")
        path = graph.function_path(domain, name, overload) or f"function:{ident}"

        def at(kind, message, **details):
            return finding(rule, graph=path, node=f"<function {ident}>",
                           details={"kind": kind, "function": ident, **details}, message=message)

        if not name:
            yield at("empty-name", f"model-local function {index} (domain {shown(domain)}) has no name: no node can call it")
        if (domain, name, overload) in seen:
            yield at("duplicate", f"function {shown(ident)} is defined more than once: onnxruntime and onnx.checker "
                     "refuse the model", name=ident)
            continue
        seen.add((domain, name, overload))
        attr_names = [text(a) for a in fn.attribute] + [text(a.name) for a in fn.attribute_proto]
        for kind, names in (("duplicate-input", [text(n) for n in fn.input]),
                            ("duplicate-output", [text(n) for n in fn.output]),
                            ("duplicate-attribute", attr_names)):
            counted = set()
            for n in names:
                if n in counted and n:
                    what = kind.split("-")[1]
                    yield at(kind, f"function {shown(ident)} lists {what} {shown(n)} more than once", name=n)
                    break
                counted.add(n)
        fv = opsets_of(fn.opset_import)
        mv = model_opsets(model)
        differ = {d for d in fv if d in ONNX_DOMAINS and d in mv and fv[d] != mv[d] and fv[d] >= 1 and mv[d] >= 1}
        if not differ:
            continue
        sub = graph.subgraphs.get(path)
        if sub is None or sub.function is not fn:
            continue
        if not by_fn:
            for op in graph.all_ops():
                owner = function_of_path(model, op.graph)
                if owner is not None:
                    by_fn.setdefault(id(owner), []).append(op)
            by_fn[None] = []
        done = set()
        for op in by_fn.get(id(fn), ()):
            if op.domain not in differ or op.domain in done:
                continue
            a = schema_at(op.op_type, op.domain, fv[op.domain])
            b = schema_at(op.op_type, op.domain, mv[op.domain])
            if (a is None) == (b is None) and (a is None or a.since_version == b.since_version):
                continue
            done.add(op.domain)
            dom = "the default domain" if op.domain == "" else f"domain {shown(op.domain)}"
            yield at("opset-mismatch", f"function {shown(ident)} imports {dom} at version {fv[op.domain]}, the model at "
                     f"{mv[op.domain]}: its node {shown(op.id)} ({op.op_type}) has a different definition at each "
                     "(onnx.checker rejects this)", domain=op.domain, function_version=fv[op.domain],
                     model_version=mv[op.domain], op_type=op.op_type)
    yield from _recursion(model, rule, finding, text, shown)


def _called(fn, local, text):
    """The local functions ``fn``'s nodes call, in order, looking into nested bodies."""
    from analyzer.io.proto import AttributeProto

    out, stack = [], [list(fn.node)]
    while stack:
        for node in stack.pop():
            key = (text(node.domain), text(node.op_type), text(node.overload))
            if key in local and key not in out:
                out.append(key)
            for a in node.attribute:
                if a.type == AttributeProto.GRAPH:
                    stack.append(list(a.g.node))
                elif a.type == AttributeProto.GRAPHS:
                    stack.extend(list(g.node) for g in a.graphs)
    return out


def _recursion(model, rule, finding, text, shown):
    """One finding per cycle in the call graph of the model-local functions."""
    local = {}
    for fn in model.model.functions:
        local.setdefault((text(fn.domain), text(fn.name), text(fn.overload)), fn)
    calls = {key: _called(fn, local, text) for key, fn in local.items()}
    state, reported = {}, set()  # key -> 1 on the current path, 2 done
    for start in calls:
        if state.get(start):
            continue
        path, iters = [start], [iter(calls[start])]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    names = [f"{d}:{n}" + (f":{o}" if o else "") for d, n, o in cycle]
                    ident = names[0]
                    where = model.graph.function_path(*cycle[0]) or f"function:{ident}"
                    chain = " -> ".join(names + [names[0]])
                    yield finding(rule, graph=where, node=f"<function {ident}>",
                                  details={"kind": "recursive", "function": ident, "cycle": names},
                                  message=f"model-local functions call each other in a cycle ({shown(chain)}): "
                                  "inlining never ends; onnx.checker and onnxruntime refuse the model")
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(calls[nxt]))
