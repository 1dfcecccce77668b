"""``onnxlint verify`` over a corpus: is any finding refuted by execution?

    python bench/verify_corpus.py [DIR ...]      # default: the onnx wheel's test graphs

For every model onnxruntime can load, runs :func:`analyzer.commands.verify.verify_findings`
(each rule's execution check, or its fix applied to one finding at a time) and prints the
verdicts per rule.  The target is 0 refuted.  Models onnxruntime refuses, and models whose
inputs cannot be fed (non-tensor inputs), are counted and skipped.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def corpus(paths):
    if paths:
        out = []
        for p in paths:
            out += sorted(glob.glob(os.path.join(p, "**", "*.onnx"), recursive=True)) if os.path.isdir(p) else [p]
        return out
    import onnx

    return sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "**", "*.onnx"), recursive=True))


def main(argv=None) -> int:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    from analyzer.commands.verify import verify_findings

    ort.set_default_logger_severity(4)
    per_rule: dict = {}
    skipped_models = {"onnxruntime refuses": 0, "verify could not run": 0}
    refuted = []
    files = corpus(args.paths)
    for path in files:
        try:
            ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception:
            skipped_models["onnxruntime refuses"] += 1
            continue
        try:
            v = verify_findings(path)
        except Exception as e:  # an input we cannot feed, a model we cannot analyze
            skipped_models["verify could not run"] += 1
            print(f"  {os.path.relpath(path)}: {type(e).__name__}: {str(e)[:120]}")
            continue
        for r in v["findings"]:
            counts = per_rule.setdefault(r["rule"], {"confirmed": 0, "refuted": 0, "inconclusive": 0, "skipped": 0})
            counts[r["status"]] += 1
            if r["status"] == "refuted":
                refuted.append(f"{os.path.relpath(path)}:{r['node']}: {r['rule']}: {r.get('message')}")
    print(f"{len(files)} models; skipped: " + ", ".join(f"{k} {v}" for k, v in skipped_models.items()))
    print(f"{'rule':<8} {'confirmed':>9} {'refuted':>7} {'inconclusive':>12} {'skipped':>7}")
    for code, c in sorted(per_rule.items()):
        print(f"{code:<8} {c['confirmed']:>9} {c['refuted']:>7} {c['inconclusive']:>12} {c['skipped']:>7}")
    for line in refuted:
        print("  refuted: " + line)
    print(f"refuted: {len(refuted)}")
    return 1 if refuted else 0


if __name__ == "__main__":
    sys.exit(main())
