"""Walks over a ModelProto that the fixes and the rules' checks share: every graph, and
how often each name is read.  Cheap to import (no onnx package, no numpy), since
``check`` uses :func:`readers` too (rules/_waste_ops.py) and must not pay for the
fix toolkit's imports (:mod:`analyzer.fix.rewrite` re-exports both names)."""
from __future__ import annotations

from analyzer.io.proto import AttributeProto

__all__ = ["iter_graphs", "readers"]


def iter_graphs(model):
    """The main graph and every subgraph (node attributes), depth first."""
    stack = [model.graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for a in node.attribute:
                if a.type == AttributeProto.GRAPH:
                    stack.append(a.g)
                elif a.type == AttributeProto.GRAPHS:
                    stack.extend(a.graphs)


def readers(model) -> dict:
    """How often each name is read: node inputs in every graph and function, main outputs."""
    counts: dict = {}
    for g in iter_graphs(model):
        for node in g.node:
            for name in node.input:
                if name:
                    counts[name] = counts.get(name, 0) + 1
    for f in model.functions:
        for node in f.node:
            for name in node.input:
                counts[name] = counts.get(name, 0) + 1
    for o in model.graph.output:
        counts[o.name] = counts.get(o.name, 0) + 1
    return counts
