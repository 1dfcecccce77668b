"""Start-up cost of the command line (issue 8 part 2, issue 20 part 1).

Every command runs in a fresh interpreter, the cases alternating, --repeat times (after
one warm-up round: page cache, .pyc files).  For each case: the median and min-max of
whole-process wall time and of peak RSS (``os.wait4``: ru_maxrss of the one child just
waited for, what ``/usr/bin/time -f %M`` reports).  Then the issue's two ratios, in this one run, against their targets:

  check SMALL / python -c "import onnx"                   target <= 0.5
  check DRLN  / python -c "import onnx; onnx.load(DRLN)"  target <= 0.5

(time and peak RSS each).  DRLN is the full DRLN x2 from the legacy exporter, its
138 MB of weights inside the file; it is exported once into --workdir by a child
process (torch) and reused.

Then which heavy packages each command left imported (``onnx`` is the package's
``__init__``; ``check`` should load only onnx's generated classes and its C extension:
analyzer/io/proto.py), and the heaviest imports of ``check`` from one
``python -X importtime`` run.

    python bench/startup.py [--repeat 5] [--model sample_models/drln_attention_legacy.onnx]
                            [--workdir /tmp/onnxlint-startup-bench] [--skip-drln] [--format text]

``check`` runs with --format text by default: what pre-commit and a person at a terminal
run (the issue's ``onnxlint check``); --format json adds the cost of the full report (a
few ms on DRLN's 101 findings).  The children run ``python -m analyzer``, which ends as the
``onnxlint`` console script does (``analyzer.cli.entry``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("onnx", "ml_dtypes", "numpy", "networkx", "google.protobuf", "torch", "onnxruntime", "onnxscript")
# Run the command, then report which heavy packages it left imported (stderr, last line).
PROBE = (
    "import sys, analyzer.cli\n"
    "try:\n"
    "    analyzer.cli.main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('\\nHEAVY=' + ','.join(m for m in %r if m in sys.modules) + '\\n')\n" % (HEAVY,)
)


# The children may write and use .pyc files, as an installed package has them (pip
# compiles at install): with PYTHONDONTWRITEBYTECODE set, as in some CI images, every
# run of an editable checkout compiles the analyzer's ~80 modules from source (about
# 0.25 s), while onnx's come precompiled from site-packages.  --as-is keeps the setting.
CHILD_ENV = dict(os.environ)


def run_once(cmd):
    """(wall seconds, peak RSS in KiB) of one child process (wait4: that child's own
    rusage; RUSAGE_CHILDREN would give the maximum over all children so far)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss


def measure(cases, repeat):
    """{label: ([wall...], [rss...])}, the cases run alternately after one warm-up round."""
    for _, cmd in cases:
        run_once(cmd)
    out = {label: ([], []) for label, _ in cases}
    for _ in range(repeat):
        for label, cmd in cases:
            wall, rss = run_once(cmd)
            out[label][0].append(wall)
            out[label][1].append(rss)
    return out


def heavy_imports(args):
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("HEAVY=")]
    return line[-1][len("HEAVY="):] if line else "?"


def importtime_rows(args):
    """(self us, cumulative us, nesting level, module) of each import in one ``-X importtime`` run."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "analyzer", *args], cwd=ROOT,
                       capture_output=True, text=True, check=False, env=CHILD_ENV)
    rows = []
    for ln in p.stderr.splitlines():
        if not ln.startswith("import time:") or "cumulative" in ln:
            continue
        self_us, cum_us, name = ln[len("import time:"):].split("|")
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((int(self_us), int(cum_us), level, name.strip()))
    return rows


def export_drln(path):
    """The full DRLN x2, legacy exporter, weights inside the file (a child process: torch)."""
    cmd = [sys.executable, "-m", "sample_models.export", "--model", "drln", "--exporter", "legacy",
           "--scale", "2", "--height", "32", "--width", "32", "--out", path, "--no-external-data"]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def fmt_wall(xs):
    return f"{statistics.median(xs) * 1e3:7.0f} ms ({min(xs) * 1e3:.0f}-{max(xs) * 1e3:.0f})"


def fmt_rss(xs):
    return f"{statistics.median(xs) / 1024:6.0f} MB ({min(xs) / 1024:.0f}-{max(xs) / 1024:.0f})"


def ratio_line(name, res, num, den, target):
    tw = statistics.median(res[num][0]) / statistics.median(res[den][0])
    tr = statistics.median(res[num][1]) / statistics.median(res[den][1])
    # the noise: the ratio's range over the runs, run i of one against run i of the other
    pairs_w = [a / b for a, b in zip(res[num][0], res[den][0])]
    ok = "met" if tw <= target and tr <= target else "NOT met"
    return (f"{name:<44} time {tw:5.2f} (per-run {min(pairs_w):.2f}-{max(pairs_w):.2f})   "
            f"peak RSS {tr:5.2f}   target <= {target}: {ok}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default=os.path.join("sample_models", "drln_attention_legacy.onnx"))
    ap.add_argument("--workdir", default=os.path.join("/tmp", "onnxlint-startup-bench"))
    ap.add_argument("--skip-drln", action="store_true")
    ap.add_argument("--format", default="text", help="check's --format (default text, as pre-commit runs it)")
    ap.add_argument("--as-is", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set (see CHILD_ENV)")
    args = ap.parse_args()
    if not args.as_is:
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import onnx'", [py, "-c", "import onnx"]),
        ("onnxlint --version", [py, "-m", "analyzer", "--version"]),
        ("onnxlint check SMALL", [py, "-m", "analyzer", "check", "--format", args.format, args.model]),
    ]
    drln = None
    if not args.skip_drln:
        os.makedirs(args.workdir, exist_ok=True)
        drln = os.path.join(args.workdir, "drln_x2_legacy.onnx")
        if not os.path.exists(drln):
            print(f"exporting DRLN x2 (legacy) to {drln} ...", flush=True)
            export_drln(drln)
        cases += [
            ("python -c 'import onnx; onnx.load(DRLN)'", [py, "-c", "import onnx, sys; onnx.load(sys.argv[1])", drln]),
            ("onnxlint check DRLN", [py, "-m", "analyzer", "check", "--format", args.format, drln]),
        ]
    res = measure(cases, args.repeat)
    print(f"{args.repeat} alternating runs per command, fresh interpreter each, after one warm-up round;")
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if CHILD_ENV.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"bytecode cache in the children: {bytecode}; check --format {args.format}")
    print(f"median (min-max).  SMALL = {args.model}" + (f" ({os.path.getsize(os.path.join(ROOT, args.model)) // 1024} KB)" if os.path.exists(os.path.join(ROOT, args.model)) else ""))
    if drln:
        print(f"DRLN = {drln} ({os.path.getsize(drln) / 1e6:.0f} MB)")
    print(f"\n{'command':<44} {'wall':>24} {'peak RSS':>22}")
    for label, _ in cases:
        walls, rsss = res[label]
        print(f"{label:<44} {fmt_wall(walls):>24} {fmt_rss(rsss):>22}")
    print()
    print(ratio_line("check SMALL / import onnx", res, "onnxlint check SMALL", "python -c 'import onnx'", 0.5))
    if drln:
        print(ratio_line("check DRLN / import onnx + onnx.load(DRLN)", res, "onnxlint check DRLN",
                         "python -c 'import onnx; onnx.load(DRLN)'", 0.5))
    print("\nheavy packages left imported:")
    for label, probe in (("onnxlint --version", ["--version"]), ("onnxlint rules", ["rules"]),
                         ("onnxlint check SMALL", ["check", "--format", args.format, args.model])):
        print(f"  {label:<24} {heavy_imports(probe) or 'none'}")
    rows = importtime_rows(["check", "--format", args.format, args.model])
    print("\nslowest imports of `check SMALL`, one -X importtime run; outermost, cumulative:")
    for _, cum, _, name in sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:8]:
        print(f"  {cum / 1e3:8.1f} ms  {name}")
    print("any module, its own time (without what it imports):")
    for own, _, _, name in sorted(rows, key=lambda r: -r[0])[:8]:
        print(f"  {own / 1e3:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
