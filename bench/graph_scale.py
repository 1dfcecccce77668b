"""Whole-process cost of ``onnxlint check`` on graph-heavy models against onnx's own C++
(issue 20, part 2): wall time and peak RSS of

    onnxlint check F
    python -c "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.shape_inference.infer_shapes(m)" F

on a 1,000,000-node Relu chain, a 100,000-node branching DAG and a 24-layer transformer
decoder exported by PyTorch (both exporters; batch and sequence dynamic), built
deterministically by ``bench/models.py`` and cached (``--cache``, default a directory in
the system temp dir).  Each pair runs ``--runs`` times, interleaved in one run (the machine
may be shared: ratios taken in the same run share its noise); prints the median and the
min-max of each, and the ratios of the medians against the target (<= 1.5).

Peak RSS is the child's ``ru_maxrss`` as ``os.wait4`` reports it (what ``/usr/bin/time -f %M``
prints), taken by a small launcher process (see ``_LAUNCHER``).

    python bench/graph_scale.py [--runs 3] [--quick] [--models chain-1M,dag-100k,...]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, ROOT)

import models  # noqa: E402  (bench/models.py)

REFERENCE = "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.shape_inference.infer_shapes(m)"
TARGET = 1.5


# Peak RSS is measured through this small launcher: Linux carries a process's peak RSS
# over fork and exec, so a child of the bench itself (which has loaded models) would
# report at least the bench's own peak.
_LAUNCHER = (
    "import os,sys,time;t=time.perf_counter();pid=os.fork()\n"
    "if pid==0:\n os.execv(sys.argv[1],sys.argv[1:])\n"
    "_,st,ru=os.wait4(pid,0);print(time.perf_counter()-t,ru.ru_maxrss,os.waitstatus_to_exitcode(st))"
)


def run(argv, lint=False) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit status of one child process; for a lint,
    its JSON report must say the file was analyzed (a traceback exits 1 too)."""
    p = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], cwd=ROOT, capture_output=True, text=True)
    out, _, last = p.stdout.rstrip("\n").rpartition("\n")
    try:
        elapsed, rss_kb, code = last.split()
        elapsed, rss_kb, code = float(elapsed), int(rss_kb), int(code)
    except ValueError:
        raise SystemExit(f"{' '.join(argv)}: no measurement:\n{p.stderr[-2000:]}") from None
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {code}:\n{p.stderr[-2000:]}")
    if lint:
        try:
            status = json.loads(out)["files"][0]["status"]
        except (ValueError, KeyError, IndexError, TypeError):
            status = None
        if status != "ok":
            raise SystemExit(f"{' '.join(argv)}: no analysis ({status}):\n{p.stderr[-2000:]}")
    return elapsed, rss_kb / 1024, code


def spread(xs) -> str:
    return f"{statistics.median(xs):7.2f} ({min(xs):.2f}-{max(xs):.2f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--quick", action="store_true", help="one run each")
    ap.add_argument("--models", default=",".join(models.MODELS), help=f"comma-separated, of {', '.join(models.MODELS)}")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "onnxlint-scale-models"))
    ap.add_argument("--root", default=ROOT, help="the onnxlint checkout to run (e.g. a worktree of an older commit)")
    args = ap.parse_args(argv)
    runs = 1 if args.quick else args.runs
    names = [n for n in args.models.split(",") if n]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{runs} run(s) each, interleaved; {cores} cores, load average {load:.2f} at start")
    print(f"{'model':<16} {'nodes':>8} {'MB':>6}  {'':<9} {'time s: median (min-max)':>26} {'peak RSS MB: median (min-max)':>34}")
    verdicts = []
    for name in names:
        path = models.cached(name, args.cache)
        ours = [sys.executable, "-m", "analyzer", "check", path, "--isolated", "--format", "json"]
        if args.root != ROOT:
            ours = [sys.executable, "-c", f"import sys; sys.path.insert(0, {args.root!r}); from analyzer.cli import main; sys.exit(main())",
                    "check", path, "--isolated", "--format", "json"]
        ref = [sys.executable, "-c", REFERENCE, path]
        res = {"lint": ([], []), "onnx": ([], [])}
        for _ in range(runs):
            for key, cmd in (("lint", ours), ("onnx", ref)):
                t, rss, _ = run(cmd, lint=key == "lint")
                res[key][0].append(t)
                res[key][1].append(rss)
        nodes = _node_count(path)
        size = os.path.getsize(path) / 1e6
        for key in ("lint", "onnx"):
            label = "onnxlint" if key == "lint" else "onnx C++"
            print(f"{name if key == 'lint' else '':<16} {nodes if key == 'lint' else '':>8} {f'{size:.1f}' if key == 'lint' else '':>6}  "
                  f"{label:<9} {spread(res[key][0]):>26} {spread([r for r in res[key][1]]):>34}")
        rt = statistics.median(res["lint"][0]) / statistics.median(res["onnx"][0])
        rm = statistics.median(res["lint"][1]) / statistics.median(res["onnx"][1])
        ok = rt <= TARGET and rm <= TARGET
        verdicts.append(ok)
        print(f"{'':<16} ratio time {rt:.2f}, peak RSS {rm:.2f} (target <= {TARGET}): {'met' if ok else 'NOT met'}")
    print(f"{sum(verdicts)}/{len(verdicts)} models within target")
    return 0


def _node_count(path) -> int:
    code = "import onnx,sys; print(len(onnx.load(sys.argv[1], load_external_data=False).graph.node))"
    return int(subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True).stdout)


if __name__ == "__main__":
    sys.exit(main())
