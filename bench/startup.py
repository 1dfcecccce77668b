"""Start-up cost of the command line (issue 8, part 2).

Each command runs in a fresh interpreter, alternating with the references, median
of --repeat runs; wall time is printed with two references measured in the same
run: the bare interpreter (``python -c pass``) and ``python -c "import onnx"``
(the floor of any command that reads a model with onnx's protobuf classes).

  --version, rules       should cost about the bare interpreter (they import no
                         onnx, numpy or networkx)
  check SMALL_MODEL      onnx + numpy + networkx + the analyzer and the selected
                         rules; never torch or onnxruntime

Then which heavy packages each command loaded and, for ``check``, the heaviest
imports from one ``python -X importtime`` run (outermost by cumulative time, and
any module by its own time).

    python bench/startup.py [--repeat 15] [--model sample_models/drln_attention_legacy.onnx]
"""
import argparse
import os
import subprocess
import sys

from lint_vs_load import median_times  # bench/ is on sys.path when this script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("onnx", "numpy", "networkx", "torch", "onnxruntime", "onnxscript")
# Run the command, then report which heavy packages it left imported (stderr, last line).
PROBE = (
    "import sys, analyzer.cli\n"
    "try:\n"
    "    analyzer.cli.main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('\\nHEAVY=' + ','.join(m for m in %r if m in sys.modules) + '\\n')\n" % (HEAVY,)
)


def heavy_imports(args):
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("HEAVY=")]
    return line[-1][len("HEAVY="):] if line else "?"


def importtime_rows(args):
    """(self us, cumulative us, nesting level, module) of each import in one ``-X importtime`` run."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "analyzer", *args], cwd=ROOT,
                       capture_output=True, text=True, check=False)
    rows = []
    for ln in p.stderr.splitlines():
        if not ln.startswith("import time:") or "cumulative" in ln:
            continue
        self_us, cum_us, name = ln[len("import time:"):].split("|")
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((int(self_us), int(cum_us), level, name.strip()))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--model", default=os.path.join("sample_models", "drln_attention_legacy.onnx"))
    args = ap.parse_args()
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"], None),
        ("python -c 'import onnx'", [py, "-c", "import onnx"], None),
        ("onnxlint --version", [py, "-m", "analyzer", "--version"], ["--version"]),
        ("onnxlint rules", [py, "-m", "analyzer", "rules"], ["rules"]),
        ("onnxlint check MODEL", [py, "-m", "analyzer", "check", "--format", "json", args.model],
         ["check", "--format", "json", args.model]),
    ]
    # warm-up (page cache, .pyc files), then the cases alternately
    med = median_times([lambda cmd=cmd: subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                                       stderr=subprocess.DEVNULL, check=False)
                        for _, cmd, _ in cases], args.repeat)
    bare, onnx_only = med[0], med[1]
    print(f"median of {args.repeat} alternating runs, fresh interpreter each; model: {args.model}")
    print(f"{'command':<28} {'wall':>9} {'/ bare python':>14} {'/ import onnx':>14}  heavy packages imported")
    for (label, _, probe), m in zip(cases, med):
        heavy = heavy_imports(probe) if probe is not None else "-"
        print(f"{label:<28} {m * 1e3:7.1f} ms {m / bare:13.2f}x {m / onnx_only:13.2f}x  {heavy or 'none'}")
    print(f"\nimport cost of check over the bare interpreter: {(med[4] - bare) * 1e3:.0f} ms "
          f"(of which `import onnx`: {(onnx_only - bare) * 1e3:.0f} ms)")
    rows = importtime_rows(cases[4][2])
    print("\nslowest imports of `check`, one -X importtime run; outermost, cumulative:")
    for _, cum, _, name in sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:8]:
        print(f"  {cum / 1e3:8.1f} ms  {name}")
    print("any module, its own time (without what it imports):")
    for own, _, _, name in sorted(rows, key=lambda r: -r[0])[:8]:
        print(f"  {own / 1e3:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
