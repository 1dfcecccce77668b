"""Behaviour check for refactors: capture every output format of ``onnxlint`` on the
committed samples, then compare two captures.

    python scripts/compare_outputs.py capture DIR      # run the commands, write DIR/<name>
    python scripts/compare_outputs.py compare OLD NEW  # print what differs

JSON and SARIF are compared as data: a key present only in NEW is listed as "added"
(refactors may add fields), everything else must be equal.  Text, GitHub, HTML and the
other outputs are compared line by line after masking the version string.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join("sample_models")

COMMANDS = {
    "check.txt": ["check", SAMPLES, "--isolated", "--color", "never"],
    "check.json": ["check", SAMPLES, "--isolated", "--format", "json"],
    "check.sarif": ["check", SAMPLES, "--isolated", "--format", "sarif"],
    "check.github": ["check", SAMPLES, "--isolated", "--format", "github"],
    "check.html": ["check", SAMPLES, "--isolated", "--format", "html"],
    "rules.txt": ["rules"],
    "rules.json": ["rules", "--format", "json"],
    "scan.json": ["scan", SAMPLES, "--isolated", "--format", "json", "-j", "1", "-q"],
    "scan.txt": ["scan", SAMPLES, "--isolated", "--format", "text", "-j", "1", "-q"],
    "fix.json": ["fix", os.path.join(SAMPLES, "drln_attention_dynamo.onnx"), "-o", os.path.join(os.environ.get("TMPDIR", "/tmp"), "onnxlint-compare-fixed.onnx"), "--format", "json"],
    "verify.json": ["verify", os.path.join(SAMPLES, "drln_attention_legacy.onnx"), "--format", "json"],
    "shapes.json": ["shapes", os.path.join(SAMPLES, "drln_attention_dynamo.onnx"), "--format", "json"],
}


def capture(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, argv in COMMANDS.items():
        p = subprocess.run([sys.executable, "-m", "analyzer", *argv], cwd=ROOT, capture_output=True, text=True)
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as fh:
            fh.write(p.stdout)
        with open(os.path.join(out_dir, name + ".exit"), "w", encoding="utf-8") as fh:
            fh.write(f"{p.returncode}\n{p.stderr}")


def _diff_data(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                out.append(f"removed {path}/{k}")
            else:
                _diff_data(a[k], b[k], f"{path}/{k}", out)
        for k in b:
            if k not in a:
                out.append(f"added {path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"changed {path}: length {len(a)} -> {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _diff_data(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"changed {path}: {str(a)[:80]!r} -> {str(b)[:80]!r}")


def _mask(text: str) -> str:
    return re.sub(r"onnxlint[ /]\d+\.\d+\.\d+", "onnxlint X", text)


def compare(old: str, new: str) -> int:
    problems = 0
    for name in COMMANDS:
        for suffix in ("", ".exit"):
            fa, fb = os.path.join(old, name + suffix), os.path.join(new, name + suffix)
            a = open(fa, encoding="utf-8").read()
            b = open(fb, encoding="utf-8").read()
            if name.endswith((".json", ".sarif")) and not suffix:
                out: list = []
                _diff_data(json.loads(a), json.loads(b), "", out)
                # collapse one line per (kind, path without indices)
                kinds = {}
                for line in out:
                    key = re.sub(r"\[\d+\]", "[]", line.split(":")[0])
                    kinds[key] = kinds.get(key, 0) + 1
                for key, n in sorted(kinds.items()):
                    print(f"{name}: {key} ({n}x)")
                    if not key.startswith("added"):
                        problems += 1
            elif _mask(a) != _mask(b):
                la, lb = _mask(a).splitlines(), _mask(b).splitlines()
                import difflib

                d = list(difflib.unified_diff(la, lb, name + suffix + " (old)", name + suffix + " (new)", lineterm="", n=0))
                print("\n".join(d[:40]))
                problems += 1
    print(f"{problems} output(s) differ beyond added fields")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "capture":
        capture(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
