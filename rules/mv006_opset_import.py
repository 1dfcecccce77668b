"""MV006 opset-import: an opset version that is invalid or newer than onnx knows, or a node whose domain no opset_import declares.

## What it does
Checks the model's ``opset_import`` and every model-local function's:

* ``invalid``: a version below 1 for an ONNX domain (``""``/``ai.onnx``,
  ``ai.onnx.ml``, ``ai.onnx.preview.training``, ``ai.onnx.preview``);
* ``too-new``: a version of an ONNX domain newer than the installed onnx defines
  (e.g. ``opset_import`` 99): the operators' meaning at that version is unknown;
* ``missing``: a node whose domain is not imported -- in the main graph and its
  bodies, by the model's ``opset_import``; in a function body, by the function's own
  ``opset_import`` (the model's does not count) -- including a node calling a
  model-local function whose domain the model does not import, and default-domain
  nodes in a model without a default opset.  ``ai.onnx`` and ``""`` are the same domain.

## Why is this bad?
IR.md ("Operator Sets"): a model must declare every operator set it uses; the
version decides which definition of each operator applies.  onnxruntime refuses a
version newer than it supports (``ValidateOpsetForDomain``), even for a domain no node
uses, and a version below 1; ``onnx.checker`` says nothing about version 99.  A
missing import: ``onnx.checker`` rejects it ("No opset import for domain 'ai.onnx.ml'"),
onnxruntime refuses a custom domain or a function body without it ("No opset
registered for domain ai.onnx.ml in function F").

## Example
```
opset_import: [("", 99)]
opset_import: [("", 17)] ; node Normalizer (domain ai.onnx.ml)   # ai.onnx.ml not imported
```

## How to fix
Import every domain the nodes use, at a version that exists (convert with
``onnx.version_converter.convert_version`` rather than editing the number); give a
function body its own ``opset_import`` for every domain its nodes use.

## Details
``kind`` (``invalid``, ``too-new`` or ``missing``), ``domain``, ``version`` (null for
``missing``), ``newest_known`` (for ``too-new``), ``scope`` (``model`` or the function
path).
"""
from __future__ import annotations

CODE = "MV006"
NAME = "opset-import"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import (
        ONNX_DOMAINS, beyond_known, finding, function_of_path, graph_rank, known_max_version, normalize_domain, op_groups,
        shown, where,
    )

    rule = sys.modules[__name__]
    graph = model.graph
    rank = graph_rank(model)
    scopes = [("model", "main", model.model.opset_import)]
    for path, sub in graph.subgraphs.items():
        if sub is not None and sub.function is not None:
            scopes.append((path, path, sub.function.opset_import))
    for scope, path, imports in scopes:
        owner = "the model" if scope == "model" else f"function {shown(scope)}"
        for o in imports:
            domain, version = normalize_domain(o.domain), int(o.version)
            if domain not in ONNX_DOMAINS:
                continue
            shown_domain = "the default domain" if domain == "" else f"domain {shown(domain)}"
            if version < 1:
                yield finding(rule, graph=path, node=f"<opset {domain or 'ai.onnx'}>",
                              details={"kind": "invalid", "domain": domain, "version": version, "scope": scope},
                              message=f"{owner} imports {shown_domain} at version {version}: opset versions start at 1")
                continue
            if beyond_known(domain, version):
                newest = known_max_version(domain)
                yield finding(rule, graph=path, node=f"<opset {domain or 'ai.onnx'}>",
                              details={"kind": "too-new", "domain": domain, "version": version, "newest_known": newest,
                                       "scope": scope},
                              message=f"{owner} imports {shown_domain} at version {version}, but the newest onnx "
                              f"defines is {newest}: onnxruntime refuses the model and no operator's meaning is known")

    model_domains = {normalize_domain(o.domain) for o in model.model.opset_import}
    fn_domains: dict = {}
    reported = set()
    # one node per (graph, domain, op_type) stands for its kind: the first in walk order,
    # and only the first node of a scope and domain is reported
    firsts = [g.ops[0] for g in op_groups(model) if g.ops]
    firsts.sort(key=lambda op: (rank.get(op.graph, -1), op.index))
    for op in firsts:
        fn = function_of_path(model, op.graph)
        if fn is None:
            domains, scope = model_domains, "model"
        else:
            if id(fn) not in fn_domains:
                fn_domains[id(fn)] = {normalize_domain(o.domain) for o in fn.opset_import}
            domains = fn_domains[id(fn)]
            scope = f"function:{text(fn.domain)}:{text(fn.name)}"
        domain = op.domain
        if domain in domains or (scope, domain) in reported:
            continue
        reported.add((scope, domain))
        shown_domain = "the default domain" if domain == "" else f"domain {shown(domain)}"
        importer = "the model's opset_import" if fn is None else f"the opset_import of {shown(scope)}"
        yield finding(rule, op=op, details={"kind": "missing", "domain": domain, "version": None, "scope": scope},
                      message=f"node {shown(op.id)} ({op.op_type}){where(op.graph)} is in {shown_domain}, which "
                      f"{importer} does not declare: the operator's version is undefined")
