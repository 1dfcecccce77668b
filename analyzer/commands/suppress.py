"""``onnxlint suppress MODEL CODE[@NODE]...``: record suppressions in a model's metadata.

Each argument is checked before the model is written: ``CODE`` must name a rule (or a
prefix of rules), and ``@NODE``, when given, must not be empty and must name a node of the
model as ``onnxlint check`` reports it (its name, or ``OpType#index`` for an unnamed one;
nodes of subgraphs count).  A typo would otherwise record a suppression that matches
nothing and hides nothing.
"""
from __future__ import annotations

import sys

from analyzer.commands.base import safe
from analyzer.common import EXIT_ERROR, EXIT_OK, UsageError


def _check_syntax(specs) -> None:
    for spec in specs:
        for raw in spec.split(","):
            code, at, node = raw.strip().partition("@")
            if not code.strip():
                raise UsageError(f"suppress: {spec!r}: expected CODE or CODE@NODE")
            if at and not node.strip():
                raise UsageError(f"suppress: {spec!r}: no node after '@' (give CODE for the whole model, or CODE@NODE)")


def _node_names(path) -> set | None:
    """The node names ``check`` reports for the model (None: it cannot be loaded; the
    write reports that)."""
    from analyzer.graph.build import GraphError, build_graph
    from analyzer.io.load import LoadError, load

    try:
        graph = build_graph(load(path, lazy=True).model)
    except (LoadError, GraphError):
        return None
    return {op.id for op in graph.ops.values()}


def run(args) -> int:
    from analyzer.linter.suppress import SuppressError, parse_entries, suppress_file

    if bool(args.output) == bool(args.in_place):
        raise UsageError("suppress: give exactly one of --output OUT or --in-place")
    _check_syntax(args.codes)
    wanted = [node for spec in args.codes for _, node in parse_entries(spec) if node is not None]
    if wanted:
        names = _node_names(args.model)
        missing = [n for n in dict.fromkeys(wanted) if names is not None and n not in names]
        if missing:
            print(f"{safe(args.model)}: no-such-node: the model has no node {safe(missing[0])!r} "
                  f"(node names as `onnxlint check` reports them); nothing written", file=sys.stderr)
            return EXIT_ERROR
    try:
        added = suppress_file(args.model, args.codes, args.model if args.in_place else args.output)
    except SuppressError as e:
        print(f"{safe(args.model)}: {e.kind}: {safe(e.message)}", file=sys.stderr)
        return EXIT_ERROR
    target = args.model if args.in_place else args.output
    print(f"{safe(target)}: onnxlint:ignore = {safe(added)}")
    return EXIT_OK
