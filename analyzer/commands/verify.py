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
:mod:`analyzer.fix.compare`.  Exit code 0 when every finding is confirmed, else 2.

onnxruntime (the optional extra ``verify``) is imported only when the command runs.
"""
from __future__ import annotations

import json
import sys

__all__ = ["STATUSES", "render_verify", "run", "verifiable_rules", "verify_findings"]

STATUSES = ("confirmed", "refuted", "inconclusive", "skipped")


def verifiable_rules() -> list:
    """The rules that have an execution check, in registry order."""
    from analyzer.linter.registry import all_rules

    return [r for r in all_rules() if callable(getattr(r, "verify_findings", None))]


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
        results.extend(rule.verify_findings(findings, am, harness))
    counts = {s: sum(1 for r in results if r["status"] == s) for s in STATUSES}
    precision = harness.precision
    rtol, atol = TOLERANCES[precision]
    return {"path": str(path), "findings": results, "counts": counts, "runs": harness.runs, "inputs": harness.dims,
            "precision": precision, "rtol": rtol, "atol": atol, "scale": harness.scale,
            "ok": counts["confirmed"] == len(results), "rules": [r.CODE for r in rules]}  # fmt: skip


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
