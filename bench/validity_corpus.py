"""Does onnxlint say "invalid" exactly where onnx.checker and onnxruntime do?

    python bench/validity_corpus.py [DIR_OR_MODEL ...] [--no-builtin] [--json OUT]

For every model: onnx.checker.check_model(full_check=True), onnxruntime (load, then one
run on zero inputs when every input dim is static), and onnxlint (exit code, error-severity
findings).  Each verdict is computed in a child process with a time limit, so a hostile
file can neither crash nor hang the measurement.  Without paths it measures the built-in
corpus: the malformed models the tests build (tests/rules/_invalid_models*.py and the
hostile corpus of tests/hostile.py), the committed samples, the onnx wheel's test graphs
and onnxruntime's bundled models.

Prints, per source: how many files both tools reject and the share of those onnxlint
fails (an error finding or "cannot analyze"; target >= 95 %), and how many files both tools
accept and the number onnxlint gives an error finding (target 0, the shape-declaration
rule aside).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 60
ASIDE = {"SH001"}  # declarations that disagree with proofs: not "invalid" for the tools

_CHILD = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
path, what = sys.argv[1], sys.argv[2]
if what == "checker":
    import onnx
    try:
        onnx.checker.check_model(path, full_check=True)
        print(json.dumps(True))
    except Exception as e:
        print(json.dumps(str(e).splitlines()[0][:200] if str(e) else type(e).__name__))
elif what == "ort":
    import numpy as np, onnxruntime as ort
    ort.set_default_logger_severity(4)
    try:
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:
        print(json.dumps(str(e).splitlines()[0][:200] if str(e) else type(e).__name__))
        sys.exit(0)
    try:
        feeds = {}
        for i in s.get_inputs():
            shape = i.shape
            if not all(isinstance(d, int) for d in shape) or not i.type.startswith("tensor("):
                feeds = None
                break
            t = i.type[7:-1]
            dt = {"float": np.float32, "double": np.float64, "float16": np.float16, "int64": np.int64,
                  "int32": np.int32, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}.get(t)
            if dt is None:
                feeds = None
                break
            feeds[i.name] = np.zeros(shape, dt)
    except Exception:  # inputs numpy cannot build (absurd dims): loaded, not run
        feeds = None
    try:
        if feeds is not None:
            s.run(None, feeds)
        print(json.dumps(True))
    except Exception as e:
        print(json.dumps(str(e).splitlines()[0][:200] if str(e) else type(e).__name__))
"""


def _verdict(path, what):
    try:
        p = subprocess.run([sys.executable, "-c", _CHILD, path, what], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout"
    out = p.stdout.strip().splitlines()
    if p.returncode != 0 or not out:
        return f"crashed (exit {p.returncode})"
    return json.loads(out[-1])


def _ours(path):
    try:
        p = subprocess.run([sys.executable, "-m", "analyzer", "check", path, "--format", "json", "--isolated"],
                           cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT * 3)
    except subprocess.TimeoutExpired:
        return {"exit": None, "errors": [], "status": "timeout"}
    try:
        (fr,) = json.loads(p.stdout)["files"]
    except Exception:
        return {"exit": p.returncode, "errors": [], "status": "no-json"}
    errors = sorted({f["rule"] for f in fr["findings"] if f["severity"] == "error"})
    return {"exit": p.returncode, "errors": errors, "status": fr["status"], "kind": (fr.get("error") or {}).get("kind")}


def builtin_corpus(root):
    """(source, path) pairs: the tests' malformed builders written to ``root``, then the valid models."""
    sys.path.insert(0, REPO)
    import onnx

    out = []
    for modname in ("tests.rules._invalid_models", "tests.rules._invalid_models_attrs"):
        try:
            mod = __import__(modname, fromlist=["CASES"])
        except ImportError:
            continue
        for table in ("CASES", "VALID"):
            for name, entry in getattr(mod, table, {}).items():
                builder = entry[0] if isinstance(entry, tuple) else entry
                try:
                    m = builder()
                except Exception:
                    continue
                p = os.path.join(root, f"{modname.rsplit('.', 1)[-1]}-{table.lower()}-{name}.onnx")
                with open(p, "wb") as fh:
                    fh.write(m.SerializeToString() if hasattr(m, "SerializeToString") else m)
                out.append((f"malformed builders ({table.lower()})", p))
    from tests import hostile

    built = hostile.build(__import__("pathlib").Path(root) / "hostile")
    for name, spec in built.items():
        if not spec:
            continue
        files = spec[0]
        if files and os.path.isfile(files[0]) and os.path.getsize(files[0]) < 64 << 20:
            out.append(("hostile corpus", str(files[0])))
    for p in sorted(glob.glob(os.path.join(REPO, "sample_models", "*.onnx"))):
        out.append(("samples", p))
    for p in sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "**", "*.onnx"), recursive=True)):
        out.append(("onnx wheel test graphs", p))
    try:
        import onnxruntime

        for p in sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "**", "*.onnx"), recursive=True)):
            out.append(("onnxruntime bundled", p))
    except ImportError:
        pass
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--json", metavar="OUT", help="write every file's verdicts here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.paths:
            items = []
            for p in args.paths:
                files = sorted(glob.glob(os.path.join(p, "**", "*.onnx"), recursive=True)) if os.path.isdir(p) else [p]
                items += [(os.path.basename(os.path.normpath(p)), f) for f in files]
        else:
            items = builtin_corpus(tmp)
        rows = []
        for source, path in items:
            c, o = _verdict(path, "checker"), _verdict(path, "ort")
            ours = _ours(path)
            rows.append({"source": source, "path": os.path.basename(path), "checker": c, "ort": o, **ours})
    by = {}
    for r in rows:
        by.setdefault(r["source"], []).append(r)
    print(f"{'source':<34} {'files':>5} {'both reject':>11} {'we fail':>8} {'share':>7} {'both accept':>11} {'we call invalid':>15}")
    bad = []
    for source, rs in by.items():
        # a tool that timed out or crashed gave no verdict: the file counts on neither side
        decided = [r for r in rs if not any(str(r[t]).startswith(("timeout", "crashed")) for t in ("checker", "ort"))]
        rej = [r for r in decided if r["checker"] is not True and r["ort"] is not True]
        acc = [r for r in decided if r["checker"] is True and r["ort"] is True]
        caught = [r for r in rej if r["status"] == "error" or [c for c in r["errors"] if c not in ASIDE]]
        wrong = [r for r in acc if [c for c in r["errors"] if c not in ASIDE] or r["status"] == "error"]
        bad += [("missed", r) for r in rej if r not in caught] + [("false", r) for r in wrong]
        share = f"{100 * len(caught) / len(rej):.1f}%" if rej else "-"
        print(f"{source:<34} {len(rs):>5} {len(rej):>11} {len(caught):>8} {share:>7} {len(acc):>11} {len(wrong):>15}")
    for why, r in bad:
        print(f"  {why}: {r['source']}: {r['path']}: checker={r['checker']!r} ort={r['ort']!r} ours={r['status']} {r['errors']}")
    if args.json:
        from analyzer.io.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
