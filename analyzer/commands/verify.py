"""``onnxlint verify MODEL``: the model's findings proven by execution in onnxruntime.

Each rule that can check its findings by running the model defines
``verify_findings(findings, model, harness) -> list of dicts`` (``model``: the
AnalyzedModel; ``harness``: :class:`analyzer.fix.runtime.Harness`, the model file ready to
run on seeded inputs).  This command analyzes the model (``--input-shape`` binds its dims,
as for ``check``, and sets the inputs of the runs), runs every such rule's ``check`` and
then its hook, in registry order, and reports one verdict per finding: ``confirmed``,
``refuted`` (the claim is false: a bug in onnxlint), ``inconclusive`` or ``skipped``.  Each
result names its ``rule`` and carries a one-line ``message``; the rest is the rule's own.
The inputs, tolerances and comparison are those of :mod:`analyzer.fix.feeds` and
:mod:`analyzer.fix.compare`.  Exit code 0 when no finding is refuted or inconclusive (a
finding whose rule cannot run it, ``skipped``, says why and does not fail the run), else 2.

A rule with a fix (``fix_findings``) but no check of its own is verified through its fix,
one finding at a time: the model is analyzed afresh, that finding alone is fixed, and the
finding is ``confirmed`` when onnxruntime's outputs of the fixed model equal the original's
(on the same seeded inputs) and the parameter count dropped by exactly the finding's
``waste["weights"]``; ``refuted`` when either fails; ``skipped`` when the fix refused it.  A rule whose fix
needs other rules' fixes first names their codes in ``FIX_NEEDS``: their findings are fixed
too, before it, and their waste is part of the expected drop.

**Conditional findings** (``details.condition``: clauses ``symbol <= value`` on input
dims, all of which must hold; a rule's claim about some input sizes only) are not run at
the default sizes, where the condition need not hold: each is run through its rule's hook
at a size where it holds (every bounded symbol at its clause's value; a symbol the
condition leaves free at one past the largest value of ``details.thresholds[symbol]`` or
of the other conditions on that node, so that it kills nothing there), then once per
clause at that clause's value + 1 (the others unchanged), with
``harness.condition_holds`` False, where the claim must fail, because the conditions are
exact.  ``confirmed`` needs both: confirmed where the condition holds and refuted past each
clause.  Claims that still hold past a clause refute the condition (``refuted``: it is not
exact).  Sizes over ``MAX_RUN_ELEMENTS`` input elements are ``skipped``.

**One call per node.**  A hook is given findings on distinct nodes only: several findings
on one node (a rule may report a conv once per condition) go to separate calls, each on a
fresh model, so one rewrite never hides another.

onnxruntime (the optional extra ``verify``) is imported only when the command runs.
"""
from __future__ import annotations

import json
import sys

__all__ = ["MAX_RUN_ELEMENTS", "STATUSES", "render_verify", "run", "verifiable_rules", "verify_findings"]

STATUSES = ("confirmed", "refuted", "inconclusive", "skipped")
MAX_RUN_ELEMENTS = 1 << 25  # input elements (all inputs) of one run at a condition's size


def verifiable_rules() -> list:
    """The rules that have an execution check or a fix, in registry order."""
    from analyzer.linter.registry import all_rules

    return [r for r in all_rules() if callable(getattr(r, "verify_findings", None)) or callable(getattr(r, "fix_findings", None))]


def _by_fix(path, rule, findings, input_shapes, harness) -> list:
    """Verify each finding of ``rule`` by fixing it alone (see the module doc)."""
    import os
    import tempfile

    from analyzer.commands.fix import FixError
    from analyzer.fix.rewrite import count_params, rewrite_model
    from analyzer.fix.runtime import VerifyError, compare_models
    from analyzer.fix.write import write_model
    from analyzer.io.load import load
    from analyzer.linter.registry import get_rule
    from analyzer.model import analyze_loaded

    needs = [get_rule(c) for c in getattr(rule, "FIX_NEEDS", ())]

    results = []
    for i, f in enumerate(findings):
        res = {"rule": rule.CODE, "node": f.node, "op_type": f.op_type}
        loaded = load(path, lazy=False)
        am = analyze_loaded(loaded, path, input_shapes=input_shapes)
        again = list(rule.check(am, {}))
        if i >= len(again) or again[i].node != f.node:
            results.append(dict(res, status="skipped", message="the finding is not found again on a fresh analysis"))
            continue
        first = [g for r in needs for g in r.check(am, {})]
        before, _ = count_params(am.model)
        fixers = [(r.CODE, r.fix_findings) for r in needs] + [(rule.CODE, rule.fix_findings)]
        result = rewrite_model(am, first + [again[i]], fixers)
        mine = [c for c in result.changes if c.rule == rule.CODE]
        refused = [c for c in mine if c.status != "fixed"]
        if refused or not mine:
            why = refused[0].reason if refused else "the fix changed nothing"
            results.append(dict(res, status="skipped", message=f"no fix to run: {why}"))
            continue
        after, _ = count_params(am.model)
        expected = (f.waste or {}).get("weights")
        if first:
            expected = expected or 0
            fixed = {c.node for c in result.changes if c.rule != rule.CODE and c.status == "fixed"}
            expected += sum(int((g.waste or {}).get("weights") or 0) for g in first if g.node in fixed)
        with tempfile.TemporaryDirectory(prefix="onnxlint-verify-") as tmp:
            out = os.path.join(tmp, "fixed.onnx")
            try:
                write_model(am.model, loaded, out, result.externalize, original=path)
                cmp = compare_models(path, out, input_shapes)
            except (FixError, VerifyError) as e:
                results.append(dict(res, status="inconclusive", message=f"could not run the fixed model: {e}"))
                continue
            except Exception as e:  # onnxruntime refusing the rewrite is a refutation of the fix
                msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                results.append(dict(res, status="refuted", message=f"onnxruntime refuses the fixed model: {msg}"))
                continue
        harness.runs += cmp["runs"] * 2
        worst = max((o["max_rel"] for o in cmp["outputs"]), default=0.0)
        res.update(params_removed=before - after, waste_weights=expected, max_rel_diff=worst)
        if not cmp["ok"]:
            results.append(dict(res, status="refuted", message=f"fixing it changes the outputs (max rel diff {worst:.3g})"))
        elif expected is not None and before - after != expected:
            results.append(dict(res, status="refuted", message=f"fixing it removes {before - after} parameters, "
                                f"the finding claims {expected}"))
        else:
            alone = "fixed alone" if not first else "fixed after the findings its fix needs"
            results.append(dict(res, status="confirmed", message=f"{alone}: outputs unchanged (max rel diff "
                                f"{worst:.3g}), {before - after} parameters removed"))
    return results


def _rounds(findings) -> list:
    """``[(index, finding)]`` batches in which no two findings are on the same node."""
    rounds: list = []
    for i, f in enumerate(findings):
        key = (f.graph, f.node_index)
        for seen, batch in rounds:
            if key not in seen:
                seen.add(key)
                batch.append((i, f))
                break
        else:
            rounds.append(({key}, [(i, f)]))
    return [batch for _, batch in rounds]


def _condition(f) -> list:
    return list((f.details or {}).get("condition") or [])


def _condition_key(f) -> tuple:
    return tuple((c.get("symbol"), c.get("input"), c.get("axis"), c.get("value")) for c in _condition(f))


def _free_sizes(f, all_findings, bound) -> dict:
    """Sizes for the symbols that ``f``'s condition leaves free: past every value at which
    they kill anything (``details.thresholds``, and the other conditions on that node)."""
    sizes: dict = {}
    for sym, values in ((f.details or {}).get("thresholds") or {}).items():
        if sym not in bound and values:
            sizes[sym] = max(sizes.get(sym, 0), max(int(v) for v in values) + 1)
    for g in all_findings:
        if (g.graph, g.node_index) != (f.graph, f.node_index):
            continue
        for c in _condition(g):
            sym = c.get("symbol")
            if sym and sym not in bound:
                sizes[sym] = max(sizes.get(sym, 0), int(c["value"]) + 1)
    return sizes


def _shapes_at(inputs, base_dims, sizes) -> dict:
    """Every input's dims: ``base_dims`` with the symbols of ``sizes`` (symbol or
    (input, axis) -> value) replaced."""
    out = {}
    for inp in inputs:
        dims = list(base_dims[inp.name])
        for axis, d in enumerate(inp.shape):
            if isinstance(d, str) and d in sizes:
                dims[axis] = sizes[d]
            elif (inp.name, axis) in sizes:
                dims[axis] = sizes[(inp.name, axis)]
        out[inp.name] = dims
    return out


def _clause_text(c) -> str:
    return f"{c.get('symbol') or c['input'] + '[' + str(c['axis']) + ']'}={c['value']}"


def _elements(dims: dict) -> int:
    total = 0
    for shape in dims.values():
        n = 1
        for d in shape:
            n *= max(int(d), 0)
        total += n
    return total


def _by_hook(rule, findings, am, harness) -> list:
    """``rule.verify_findings`` on ``findings``: the definite ones at the harness's sizes,
    the conditional ones where their condition holds and just past it (module doc); never
    two findings on one node in one call."""
    out: list = [None] * len(findings)
    plain = [(i, f) for i, f in enumerate(findings) if not _condition(f)]
    for batch in _rounds([f for _, f in plain]):
        res = rule.verify_findings([plain[j][1] for j, _ in batch], am, harness)
        for (j, _), r in zip(batch, res):
            out[plain[j][0]] = r
    groups: dict = {}
    for i, f in enumerate(findings):
        if _condition(f):
            groups.setdefault(_condition_key(f), []).append((i, f))
    for items in groups.values():
        for batch in _rounds([f for _, f in items]):
            fs = [items[j][1] for j, _ in batch]
            for (j, _), r in zip(batch, _conditional(rule, fs, findings, am, harness)):
                out[items[j][0]] = r
    return out


def _conditional(rule, fs, all_findings, am, harness) -> list:
    """Conditional findings ``fs`` (one condition, distinct nodes): run where the condition
    holds, then just past each clause."""
    from analyzer.fix.feeds import VerifyError

    clauses = _condition(fs[0])
    holds = {}
    for c in clauses:
        holds[c.get("symbol") or (c["input"], c["axis"])] = int(c["value"])
    free: dict = {}
    for f in fs:
        for sym, v in _free_sizes(f, all_findings, holds).items():
            free[sym] = max(free.get(sym, 0), v)
    base = {k: v for k, v in harness.dims.items()}
    where = ", ".join(_clause_text(c) for c in clauses)

    def fail(status, message):
        return [{"rule": rule.CODE, "node": f.node, "op_type": f.op_type, "status": status, "message": message,
                 "condition": clauses} for f in fs]  # fmt: skip

    def run_at(sizes, condition_holds):
        dims = _shapes_at(harness.inputs, base, sizes)
        if _elements(dims) > MAX_RUN_ELEMENTS:
            return None, dims
        h = harness.at(dims, condition_holds)
        try:
            return rule.verify_findings(fs, am, h), dims
        finally:
            harness.absorb(h)

    try:
        at_t, dims_t = run_at({**free, **holds}, True)
        if at_t is None:
            return fail("skipped", f"the condition ({where}) holds only at sizes too large to run here "
                        f"(over {MAX_RUN_ELEMENTS} input elements)")
        pasts = []
        for c in clauses:
            key = c.get("symbol") or (c["input"], c["axis"])
            res, dims = run_at({**free, **holds, key: int(c["value"]) + 1}, False)
            pasts.append((c, res, dims))
    except VerifyError as e:
        return fail("inconclusive", f"could not run the model at the condition's size ({where}): {e}")
    results = []
    for k, (f, r) in enumerate(zip(fs, at_t)):
        r = dict(r)
        shapes = "; ".join(f"{n}={'x'.join(map(str, s))}" for n, s in dims_t.items())
        r.update(condition=clauses, inputs=dims_t, past=[])
        head = f"where the condition holds ({where}; inputs {shapes}): {r.get('message') or r.get('reason', '')}"
        if r["status"] != "confirmed":
            r["message"] = head
            results.append(r)
            continue
        status, notes = "confirmed", []
        for c, res, dims in pasts:
            one = _clause_text(dict(c, value=int(c["value"]) + 1))
            if res is None:
                status = "inconclusive" if status == "confirmed" else status
                notes.append(f"past it ({one}) the sizes are too large to run")
                continue
            p = res[k]
            r["past"].append({"clause": c, "inputs": dims, "status": p["status"], "message": p.get("message") or p.get("reason", "")})
            if p["status"] == "refuted":
                notes.append(f"past it ({one}) the claim fails, as the condition says: {p.get('message') or p.get('reason', '')}")
            elif p["status"] == "confirmed":
                status = "refuted"
                notes.append(f"the condition is not exact: past it ({one}) the claim still holds, so the threshold is wrong "
                             "(a bug in onnxlint, please report it)")
            else:
                status = "inconclusive" if status == "confirmed" else status
                notes.append(f"past it ({one}): {p['status']}: {p.get('message') or p.get('reason', '')}")
        r["status"], r["message"] = status, head + "; " + "; ".join(notes)
        results.append(r)
    return results


def verify_findings(path, input_shapes=None) -> dict:
    """Confirm or refute every finding of ``path`` that a rule can check by execution."""
    from analyzer.fix.compare import TOLERANCES
    from analyzer.fix.runtime import Harness
    from analyzer.model import analyze

    am = analyze(path, input_shapes)
    rules = verifiable_rules()
    found = [(rule, list(rule.check(am, {}))) for rule in rules]
    harness = Harness(path, input_shapes)
    results = []
    for rule, findings in found:
        if callable(getattr(rule, "verify_findings", None)):
            results.extend(_by_hook(rule, findings, am, harness))
        else:
            results.extend(_by_fix(path, rule, findings, input_shapes, harness))
    counts = {s: sum(1 for r in results if r["status"] == s) for s in STATUSES}
    precision = harness.precision
    rtol, atol = TOLERANCES[precision]
    return {"path": str(path), "findings": results, "counts": counts, "runs": harness.runs, "inputs": harness.dims,
            "precision": precision, "rtol": rtol, "atol": atol, "scale": harness.scale,
            "ok": counts["refuted"] == 0 and counts["inconclusive"] == 0, "rules": [r.CODE for r in rules]}  # fmt: skip


def render_verify(v: dict, fmt: str = "text") -> str:
    from analyzer.report.text import escape

    if fmt == "json":
        from analyzer.common import VERSION as __version__

        return json.dumps({"tool": {"name": "onnxlint", "version": __version__}, **v}, indent=2) + "\n"
    lines = []
    where = escape(v["path"])
    for r in v["findings"]:
        lines.append(f"{where}:{escape(r['node'])}: {r['rule']} {r['status']}: {escape(r.get('message') or r.get('reason', ''))}")
    c = v["counts"]
    counts = {code: sum(1 for r in v["findings"] if r["rule"] == code) for code in v["rules"]}
    per_rule = ", ".join(f"{n} {code}" for code, n in counts.items() if n) or "0"  # the rules with findings
    shapes = ", ".join(f"{escape(k)}={'x'.join(map(str, s)) or 'scalar'}" for k, s in v["inputs"].items())
    if any("condition" in r for r in v["findings"]):
        shapes += "; conditional findings at the sizes of their conditions"
    lines.append(f"{where}: {per_rule} finding(s): {c['confirmed']} confirmed, {c['refuted']} refuted, "
                 f"{c['inconclusive']} inconclusive, {c['skipped']} skipped ({v['runs']} onnxruntime runs; inputs {shapes})")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from analyzer.common import parse_input_shapes
    from analyzer.fix.runtime import ORT_MISSING, VerifyError, import_ort
    from analyzer.graph.build import GraphError
    from analyzer.io.load import LoadError
    from analyzer.report.text import escape
    from analyzer.shapes import ShapeError

    input_shapes = parse_input_shapes(args.input_shape)
    if import_ort() is None:
        print(ORT_MISSING, file=sys.stderr)
        return 2
    try:
        v = verify_findings(args.model, input_shapes)
    except (LoadError, GraphError) as e:
        print(f"{escape(args.model)}: {e.kind}: {escape(e.message)}", file=sys.stderr)
        return 2
    except (ShapeError, VerifyError) as e:
        print(f"{escape(args.model)}: verify: {escape(str(e))}", file=sys.stderr)
        return 2
    sys.stdout.write(render_verify(v, args.format))
    return 0 if v["ok"] else 2
