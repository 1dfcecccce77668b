"""WS005 duplicate-initializer: two initializers with the same dtype, shape and bytes.

## What it does
Groups the main graph's initializers by dtype and shape (no payload read), then reads the
payloads of the groups with two or more members (``analyzer.io.load.read_tensor``) and
compares their SHA-256: tensors with equal dtype, shape and bytes are copies.  The first
in file order is kept; each other copy is one finding, whose waste is its elements and
bytes (stored dtype).  Only initializers that a live node reads are compared (not graph
outputs, not those also listed as graph inputs: those can be overridden at run time).

## Why is this bad?
The same weights are stored, shipped and loaded twice: exporters duplicate a shared
parameter (tied embeddings, a module called twice, constants folded separately per use).

## Example
```
initializers: W1 [64, 64], W2 [64, 64] with the same bytes
y1 = MatMul(x, W1);  y2 = MatMul(z, W2)        # W2: 4096 weights, 16384 bytes duplicated
```

## How to fix
`onnxlint fix` rewires W2's readers to W1 and removes W2.  Refused when a reader is
rewritten by another fix, or when the name is also read inside a body (renaming through a
body's scope is not done).

## Options
``max-read-bytes``: payload bytes read per model, smallest tensors first (default 268435456,
256 MiB).  Tensors beyond it are not compared; ``details.skipped_over_budget`` says how
many, and a coverage record (CV001) reports them.

## Details
``tensor``, ``graph``, ``kept`` (the first copy), ``dtype``, ``shape``, ``sha256``,
``skipped_over_budget``.  Ownership: a copy that only duplicate nodes read is WS006's (it
goes with them), one that only dead nodes read is WS002's, an unread one WS001's.
"""
from __future__ import annotations

CODE = "WS005"
NAME = "duplicate-initializer"
SEVERITY = "warning"
# Reads weight values (within its budget): `check` then costs the weights, not only the graph.
READS_WEIGHTS = True

OPTIONS = {"max-read-bytes": "initializer payload bytes read per model to compare them (default 268435456)"}


def _budget(options):
    from rules._waste_graph import DEFAULT_READ_BUDGET

    v = (options or {}).get("max-read-bytes")
    return DEFAULT_READ_BUDGET if v is None else int(v)


def check(model, options=None):
    import sys

    from analyzer.model import dtype_name
    from rules._waste_graph import (
        cse_owned_initializers,
        duplicate_initializers,
        init_size,
        shown,
        tensor_finding,
    )

    rule = sys.modules[__name__]
    budget = _budget(options)
    dups = duplicate_initializers(model, budget)
    if dups["skipped"]:
        model.record_unchecked(
            "budget", f"{dups['skipped']} initializer(s) ({dups['skipped_bytes']} bytes) not compared for duplicates: "
            f"over the {budget}-byte read budget", source=CODE, reason="max-read-bytes", count=dups["skipped"])  # fmt: skip
    # the copies WS006's duplicate nodes own (common subexpressions: only asked when a copy is found)
    owned = cse_owned_initializers(model, budget) if dups["groups"] else ()
    G = model.graph.nx
    for group in dups["groups"]:
        group = [k for k in group if k not in owned]
        for key in group[1:]:
            t = G.nodes[key]["tensor"]
            n, nbytes = init_size(t)
            yield tensor_finding(
                rule, "main", key[2],
                f"initializer {shown(key[2])} is a copy of {shown(group[0][2])} (same dtype, shape and bytes): "
                f"{n} weights ({nbytes} bytes) stored twice",
                {"kept": group[0][2], "dtype": dtype_name(t.data_type), "shape": [int(d) for d in t.dims],
                 "sha256": dups["sha256"][key], "skipped_over_budget": dups["skipped"]},
                {"weights": n, "bytes": nbytes, "macs": 0},
            )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Rewire each copy's readers (main graph nodes) to the kept tensor; the copy is pruned."""
    from analyzer.fix.records import Change, Refused

    rw = rewriter
    g = rw.model.graph
    for f in findings:
        name, kept = f.details.get("tensor", f.node), f.details.get("kept")
        try:
            if f.graph != "main" or name not in rw.init_index or kept not in rw.init_index:
                raise Refused("only main-graph initializers are unified")
            if name in rw.graph_inputs or kept in rw.graph_inputs:
                raise Refused("an initializer listed as a graph input can be overridden at run time")
            if name in rw.replaced or kept in rw.replaced:
                raise Refused("another fix rewrites this tensor")
            readers = [(i, j) for i, n in enumerate(g.node) for j, x in enumerate(n.input) if x == name]
            if len(readers) != rw.readers.get(name, 0):
                raise Refused(f"{name!r} is also read inside a body or a function (not renamed across scopes)")
            if any(i in rw.conv_states for i, _ in readers):
                raise Refused("a reader is rewritten by another fix")
            for i, j in readers:
                g.node[i].input[j] = kept
            rw.readers[kept] = rw.readers.get(kept, 0) + len(readers)
            rw.readers[name] = 0
            rw.orphans.append(name)
            w = f.waste or {}
            rw.changes.append(Change(CODE, f.node, "", "fixed", before={"tensor": name}, after={"kept": kept, "rewired": len(readers)},
                                     params_removed=int(w.get("weights") or 0), bytes_removed=int(w.get("bytes") or 0),
                                     render=_render))  # fmt: skip
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, "", "refused", str(e)))


def _render(change, esc) -> str:
    return (f"{change.after['rewired']} reader(s) now read {esc(change.after['kept'])}; the copy is removed: "
            f"{change.params_removed} parameters, {change.bytes_removed} bytes")
