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

onnxruntime (the optional extra ``verify``) is imported only when the command runs.
"""
from __future__ import annotations

import json
import sys

__all__ = ["STATUSES", "render_verify", "run", "verifiable_rules", "verify_findings"]

STATUSES = ("confirmed", "refuted", "inconclusive", "skipped")


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
            results.extend(rule.verify_findings(findings, am, harness))
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
    per_rule = ", ".join(f"{sum(1 for r in v['findings'] if r['rule'] == code)} {code}" for code in v["rules"])
    shapes = ", ".join(f"{escape(k)}={'x'.join(map(str, s)) or 'scalar'}" for k, s in v["inputs"].items())
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
