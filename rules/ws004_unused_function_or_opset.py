"""WS004 unused-function-or-opset: model-local functions never called, opset imports no node uses.

## What it does
Reports:

* **model-local functions** that no node calls, directly or through other functions called
  from the main graph or its bodies.  Unused functions that call each other are one finding
  (removing one alone would leave a call to a function that is gone);
* **opset imports** of the model for a domain that no node of any graph, body or function
  uses and that is no function's domain.  The default domain (``""`` / ``ai.onnx``) is
  never reported: runtimes expect it.

Nothing here is a weight or an executed op: the waste is 0 weights and 0 MACs.

## Why is this bad?
Dead definitions are clutter a reader must understand and a runtime must parse and check
(onnxruntime builds a schema for every model-local function at load); an import of a
domain nothing uses makes a model look as if it needed, say, ``com.microsoft`` ops, and a
runtime without that domain may refuse it for nothing.

## Example
```
functions: local.Twice (never called)
opset_import: ai.onnx 17, com.microsoft 1 (no com.microsoft node)
```

## How to fix
`onnxlint fix` removes the functions and the opset import entries.

## Details
``kind`` (``function`` or ``opset``); for a function ``functions`` (each ``domain``, ``name``,
``overload``); for an opset ``domain`` and ``version``.
"""
from __future__ import annotations

CODE = "WS004"
NAME = "unused-function-or-opset"
SEVERITY = "info"


def _norm(domain) -> str:
    from analyzer.io.load import text

    d = domain if isinstance(domain, str) else text(domain)
    return "" if d == "ai.onnx" else d


def _fkey(fn):
    from analyzer.io.load import text

    return (_norm(fn.domain), text(fn.name), text(getattr(fn, "overload", "")))


def _function_of(graph, path):
    subs = graph.subgraphs
    p = path
    while p is not None:
        s = subs.get(p)
        if s is None:
            return None
        if s.function is not None:
            return s.function
        p = s.parent
    return None


def _analysis(model):
    from rules._validity import op_domains, op_groups

    graph = model.graph
    fns = {_fkey(f): f for f in model.model.functions}
    calls: dict = {}  # caller function key (None: the model's graphs) -> called function keys
    domains = set(op_domains(model))  # read off the validity rules' per-kind index of the nodes
    # a call names a function by (domain, op type) first: only the nodes of such kinds have
    # their overload read and their graph's function looked up (a model without functions:
    # none); what is gathered is sets, so the order the nodes come in does not matter
    named = {k[:2] for k in fns}
    for op in (op for g in op_groups(model) if (g.domain, g.op_type) in named for op in g.ops) if named else ():
        key = (op.domain, op.op_type, op.overload)
        if key in fns:
            fn = _function_of(graph, op.graph)
            caller = None if fn is None else _fkey(fn)
            calls.setdefault(caller, set()).add(key)
    used, stack = set(), list(calls.get(None, ()))
    while stack:
        k = stack.pop()
        if k not in used:
            used.add(k)
            stack.extend(calls.get(k, ()))
    unused = [k for k in fns if k not in used]
    parent = {k: k for k in unused}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for k in unused:
        for c in calls.get(k, ()):
            if c in parent:
                a, b = find(k), find(c)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict = {}
    for k in unused:
        groups.setdefault(find(k), []).append(k)
    domains |= {k[0] for k in fns}
    return [sorted(g) for g in sorted(groups.values(), key=lambda g: min(g))], domains


def check(model, options=None):
    import sys

    from rules._waste_graph import finding, shown

    rule = sys.modules[__name__]
    groups, domains = _analysis(model)
    zero = {"weights": 0, "bytes": 0, "macs": 0}
    for group in groups:
        names = ", ".join(shown(f"{d}.{n}" if d else n) for d, n, _ in group)
        head = group[0]
        yield finding(
            rule, node=f"function:{head[0]}:{head[1]}", op_type="function",
            message=f"model-local function(s) {names} are never called",
            details={"kind": "function", "functions": [{"domain": d, "name": n, "overload": o} for d, n, o in group]},
            waste=dict(zero),
        )  # fmt: skip
    seen = set()
    for imp in model.model.opset_import:
        d = _norm(imp.domain)
        if d == "" or d in domains or d in seen:
            continue
        seen.add(d)
        yield finding(
            rule, node=f"opset:{d}", op_type="opset_import",
            message=f"opset import {shown(d)} version {int(imp.version)} is used by no node",
            details={"kind": "opset", "domain": d, "version": int(imp.version)}, waste=dict(zero),
        )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Remove the unused functions and opset import entries."""
    from analyzer.fix.records import Change

    m = rewriter.model
    for f in findings:
        if f.details.get("kind") == "function":
            keys = {(x["domain"], x["name"], x["overload"]) for x in f.details["functions"]}
            keep = [fn for fn in m.functions if _fkey(fn) not in keys]
            removed = len(m.functions) - len(keep)
            copies = []
            for fn in keep:
                c = type(fn)()
                c.CopyFrom(fn)
                copies.append(c)
            del m.functions[:]
            m.functions.extend(copies)
            after = {"removed_functions": removed}
        else:
            d = f.details["domain"]
            for i in reversed(range(len(m.opset_import))):
                if _norm(m.opset_import[i].domain) == d:
                    del m.opset_import[i]
            after = {"removed_opset": d}
        rewriter.changes.append(Change(CODE, f.node, f.op_type, "fixed", before={"kind": f.details["kind"]}, after=after,
                                       render=_render))  # fmt: skip


def _render(change, esc) -> str:
    if "removed_opset" in change.after:
        return f"removed the opset import {esc(change.after['removed_opset'])}"
    return f"removed {change.after['removed_functions']} unused function(s)"
