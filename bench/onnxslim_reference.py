"""onnxslim as a reference: what it removes from each waste-corpus model, and which of our
findings accounts for it.

    pip install 'onnxlint[bench]'        # or: pip install onnxslim
    python bench/onnxslim_reference.py [--samples] [-v]

For each model of ``sample_models/waste_corpus.py`` (exported here; ``--samples`` adds the
committed ``sample_models/*.onnx``), run ``onnxslim.slim`` (default options) and diff the
graphs:

* a node of the original is *kept* when the slimmed graph has a node of the same op type with
  the same name, or named after its first output (onnxslim's name for a node it rewrote in
  place, e.g. a Conv that absorbed a BatchNormalization); otherwise it was *removed* (or
  replaced);
* an initializer is *kept* when the slimmed graph has one of the same name or the same bytes;
  otherwise it was *removed* (or replaced by new values).

Each removed node or initializer is *matched* when one of our findings (WS001-WS015, DT001,
DT002) whose rule has a fix names it: as the finding's node, a related node, a string in its
details, or a quoted name in its message; an initializer also matches a finding naming a node
that reads it when onnxslim removed that reader for a finding, or removed the node of a finding
that names the reader.  (A rule without a fix, WS010 or WS015, removes nothing, so it explains no
removal.) An
unmatched item gets a reason where the script can tell (a Constant node onnxslim turns into an
initializer stores the same tensor: no waste; a node replaced by a fused node computes the same
with fewer ops: a fusion, not waste the model carries).  Printed per model, then the totals,
and the other direction: our findings none of whose nodes or tensors onnxslim removed.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _strings(x, out):
    if isinstance(x, str):
        out.add(x)
    elif isinstance(x, dict):
        for v in x.values():
            _strings(v, out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _strings(v, out)
    return out


def finding_names(f) -> set:
    names = {f.node}
    for r in f.related or []:
        _strings(r, names)
    _strings(f.details or {}, names)
    names.update(re.findall(r"'([^']+)'", f.message or ""))
    return names


def _node_kept(n, slim_nodes):
    """Same op type and: the same name, or (onnxslim's name for a node it rewrote in place)
    named after the node's first output; a node without a name: the same outputs."""
    outs = [o for o in n.output if o]
    for s in slim_nodes:
        if s.op_type != n.op_type:
            continue
        if n.name and s.name == n.name:
            return True
        if outs and s.name == outs[0]:
            return True
        if not n.name and outs and list(s.output) == outs:
            return True
    return False


def diff(original, slimmed):
    """(removed nodes, removed initializers, added nodes) of ``slimmed`` against ``original``."""
    slim_nodes = list(slimmed.graph.node)
    removed_nodes = [n for n in original.graph.node if not _node_kept(n, slim_nodes)]
    orig_nodes = list(original.graph.node)
    added = [s for s in slim_nodes if not any(_node_kept(n, [s]) for n in orig_nodes)]
    names = {t.name for t in slimmed.graph.initializer}
    payloads = {_payload(t) for t in slimmed.graph.initializer}
    removed_inits = [t for t in original.graph.initializer if t.name not in names and _payload(t) not in payloads]
    return removed_nodes, removed_inits, added


def _payload(t):
    from onnx import numpy_helper

    a = numpy_helper.to_array(t)
    return (a.dtype.str, a.shape, a.tobytes())


def _reason_node(n, slimmed, removed_ids, readers):

    inits = {t.name: t for t in slimmed.graph.initializer}
    if n.op_type == "Constant":
        if n.output[0] in inits:
            return "Constant node stored as an initializer instead (the same tensor: no waste)"
        rd = readers.get(n.output[0], [])
        if rd and all(id(r) in removed_ids for r in rd):
            return "a constant input of a node onnxslim removed or fused (see that node)"
        value = next((a.t for a in n.attribute if a.name == "value"), None)
        if value is not None and _payload(value) in {_payload(t) for t in inits.values()}:
            return "merged with an equal constant (a few bytes; WS005 compares initializers, not Constant nodes)"
        return "replaced by the new constants of the node that reads it (rewritten by a fusion)"
    outs = {o for o in n.output if o}
    fused = [s for s in slimmed.graph.node
             if outs & set(s.output) or any(s.name == o or s.name.startswith(o + "_") for o in outs)]  # fmt: skip
    fused += [g for g in slimmed.graph.node if g not in fused and any(f.name.startswith(g.name + "_") for f in fused)]
    if fused:
        ops = "+".join(sorted({s.op_type for s in fused}))
        return f"fused into {ops} (the same computation in other ops: a fusion, not waste the model carries)"
    return None


def compare_model(path, codes, verbose=False):
    import onnx
    import onnxslim

    import analyzer

    original = onnx.load(str(path))
    with _quiet():
        slimmed = onnxslim.slim(onnx.load(str(path)))
    from analyzer.linter.registry import get_rule

    found = analyzer.lint(str(path), select=codes).findings
    named = {}
    for f in found:
        if not callable(getattr(get_rule(f.rule), "fix_findings", None)):
            continue  # a rule without a fix (WS010, WS015) removes nothing: it cannot explain a removal
        for s in finding_names(f):
            named.setdefault(s, []).append(f)
    readers = {}
    for n in original.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    removed_nodes, removed_inits, added = diff(original, slimmed)
    removed_ids = {id(n) for n in removed_nodes}
    rows = []
    reasons, node_findings = {}, {}
    removed_names = {n.name for n in removed_nodes}
    for n in removed_nodes:
        fs = named.get(n.name, [])
        if not fs:
            fs = [f for o in n.output for f in named.get(o, [])]
        node_findings[id(n)] = fs
        reasons[id(n)] = None if fs else _reason_node(n, slimmed, removed_ids, readers)
        rows.append(("node", f"{n.op_type} {n.name or n.output[0]!r}", sorted({f.rule for f in fs}), reasons[id(n)]))
    for t in removed_inits:
        fs = list(named.get(t.name, []))
        if not fs:  # through a reader: one that onnxslim removed for a finding, or one a removed
            # finding's node names (a Conv whose weights absorb the BatchNorm a finding reports)
            for r in readers.get(t.name, []):
                fs += node_findings.get(id(r), []) or [f for f in named.get(r.name, []) if f.node in removed_names]
        reason = None
        if not fs:
            rd = readers.get(t.name, [])
            if rd and all(id(r) not in removed_ids for r in rd):
                reason = "values rewritten for a node that stays (a fused or re-laid-out weight)"
            elif rd and all(id(r) not in removed_ids or (reasons.get(id(r)) or "").startswith("fused") for r in rd):
                reason = "re-laid out for the fused node that replaces its reader"
        rows.append(("initializer", f"{t.name!r} {list(t.dims)}", sorted({f.rule for f in fs}), reason))
    gone = removed_names | {n.output[0] for n in removed_nodes if n.output} | {t.name for t in removed_inits}
    untouched = [f for f in found if not (finding_names(f) & gone)]
    return {"path": str(path), "rows": rows, "findings": found, "added": added, "untouched": untouched,
            "nodes": (len(original.graph.node), len(slimmed.graph.node)),
            "inits": (len(original.graph.initializer), len(slimmed.graph.initializer))}  # fmt: skip


class _quiet:
    def __enter__(self):
        import contextlib
        import io

        self._cm = contextlib.ExitStack()
        self._cm.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self._cm.enter_context(contextlib.redirect_stderr(io.StringIO()))
        return self

    def __exit__(self, *exc):
        self._cm.close()
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", action="store_true", help="also the committed sample_models/*.onnx")
    ap.add_argument("--corpus-dir", help="write the corpus models here (default: a temporary folder)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list matched items too")
    args = ap.parse_args(argv)
    try:
        import onnxslim  # noqa: F401
    except ImportError:
        print("onnxslim is not installed: pip install 'onnxlint[bench]'", file=sys.stderr)
        return 2
    from analyzer.linter.registry import all_rules
    from sample_models.waste_corpus import WASTE_CODES, build_all

    have = {r.CODE for r in all_rules()}
    codes = [c for c in WASTE_CODES if c in have]
    with tempfile.TemporaryDirectory(prefix="onnxslim-ref-") as tmp:
        paths = sorted(build_all(pathlib.Path(args.corpus_dir or tmp)).values())
        if args.samples:
            paths += sorted((REPO / "sample_models").glob("*.onnx"))
        totals = {"matched": 0, "explained": 0, "unexplained": 0}
        by_rule: dict = {}
        by_reason: dict = {}
        untouched: dict = {}
        for p in paths:
            res = compare_model(p, codes, args.verbose)
            (n0, n1), (i0, i1) = res["nodes"], res["inits"]
            m = sum(1 for r in res["rows"] if r[2])
            print(f"{pathlib.Path(p).name}: onnxslim nodes {n0} -> {n1}, initializers {i0} -> {i1}; "
                  f"{len(res['rows'])} removed/replaced, {m} matched by a finding; our findings: "
                  f"{len(res['findings'])} ({', '.join(sorted({f.rule for f in res['findings']})) or '-'})")  # fmt: skip
            for kind, what, rules, reason in res["rows"]:
                if rules:
                    totals["matched"] += 1
                    for r in rules:
                        by_rule[r] = by_rule.get(r, 0) + 1
                    if args.verbose:
                        print(f"    matched  {kind} {what}: {', '.join(rules)}")
                elif reason:
                    totals["explained"] += 1
                    by_reason[reason] = by_reason.get(reason, 0) + 1
                    print(f"    not ours {kind} {what}: {reason}")
                else:
                    totals["unexplained"] += 1
                    print(f"    UNMATCHED {kind} {what}")
            for f in res["untouched"]:
                untouched[f.rule] = untouched.get(f.rule, 0) + 1
            for s in res["added"]:
                if args.verbose:
                    print(f"    added    {s.op_type} {s.name!r}")
        n = sum(totals.values())
        print(f"\n{len(paths)} models: onnxslim removed or replaced {n} nodes/initializers; {totals['matched']} matched "
              f"by our findings, {totals['explained']} not waste by our definition, {totals['unexplained']} unexplained")  # fmt: skip
        print("matched by rule: " + json.dumps(dict(sorted(by_rule.items()))))
        for reason, k in sorted(by_reason.items(), key=lambda kv: -kv[1]):
            print(f"  {k:4d}  {reason}")
        print(f"our findings onnxslim leaves in place (none of their nodes or tensors removed): "
              f"{sum(untouched.values())} {json.dumps(dict(sorted(untouched.items())))}")  # fmt: skip
    missing = [c for c in WASTE_CODES if c not in have]
    if missing:
        print(f"rules not present: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
