"""Benchmark of ``onnxlint scan``: files per second with 1 and 2 workers, and the
cost of the worker pool against analyzing the same files in one process
(``onnxlint check``, which lints them one after the other in a single process).

The corpus: the committed sample models plus the model graphs bundled in the onnx
wheel (``onnx/backend/test/data/{light,real,simple,pytorch-converted,pytorch-operator}``),
copied ``--repeat`` times so that a run lasts long enough to time.  Each command
runs as a fresh process (interpreter start and imports included, as a user sees
it); each configuration runs ``--runs`` times, interleaved, and the median counts.

    python bench/scan.py                 # default: --repeat 4 --runs 3
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_GROUPS = ["light", "real", "simple", "pytorch-converted", "pytorch-operator"]


def build_corpus(dest, repeat) -> int:
    import onnx

    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    sources = [(os.path.join(ROOT, "sample_models"), "samples")] + [(os.path.join(data, g), g) for g in ONNX_GROUPS]
    files = []
    for folder, group in sources:
        for dirpath, _, names in os.walk(folder):
            for n in sorted(names):
                if n.endswith(".onnx"):
                    rel = os.path.relpath(os.path.join(dirpath, n), folder).replace(os.sep, "__")
                    files.append((os.path.join(dirpath, n), f"{group}__{rel}"))
    for copy in range(repeat):
        target = os.path.join(dest, f"copy{copy}")
        os.makedirs(target)
        for src, name in files:
            shutil.copyfile(src, os.path.join(target, name))
    return len(files) * repeat


def timed(argv, cwd) -> float:
    env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "analyzer", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4, help="copies of the corpus (default 4)")
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration; the median counts (default 3)")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="onnxlint-bench-")
    try:
        n = build_corpus(os.path.join(work, "corpus"), args.repeat)
        one_file = os.path.join("corpus", "copy0", "samples__conv_stack_legacy.onnx")
        configs = {
            "check (1 process)": ["check", "corpus", "--format", "json", "-o", "check.json", "--isolated"],
            "scan --jobs 1": ["scan", "corpus", "--jobs", "1", "-o", "scan1.jsonl", "--isolated"],
            "scan --jobs 2": ["scan", "corpus", "--jobs", "2", "-o", "scan2.jsonl", "--isolated"],
            # one small file: the fixed cost (interpreter, imports, starting the pool)
            "check, 1 file": ["check", one_file, "--format", "json", "-o", "check1.json", "--isolated"],
            "scan -j1, 1 file": ["scan", one_file, "--jobs", "1", "-o", "scan1f.jsonl", "--isolated"],
        }
        times = {k: [] for k in configs}
        for _ in range(args.runs):
            for name, cmd in configs.items():
                times[name].append(timed(cmd, work))
        with open(os.path.join(work, "scan2.jsonl")) as f:
            records = [json.loads(line) for line in f]
        ok = sum(r["status"] == "ok" for r in records)
        med = {k: statistics.median(v) for k, v in times.items()}
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"corpus: {n} files ({n // args.repeat} distinct x {args.repeat}), {ok} analyzed ok; {cores} cores; median of {args.runs} runs")
        for k, t in med.items():
            rate = f"{(n if configs[k][1] == 'corpus' else 1) / t:7.1f} files/s"
            print(f"  {k:<18} {t:7.2f} s  {rate}   runs: {', '.join(f'{x:.2f}' for x in times[k])}")
        base, one, two = med["check (1 process)"], med["scan --jobs 1"], med["scan --jobs 2"]
        fixed = med["scan -j1, 1 file"] - med["check, 1 file"]
        print(f"speed-up, 2 workers vs 1:             {one / two:.2f}x")
        print(f"scan --jobs 1 vs check (pool cost):   {one / base:.2f}x the time")
        print(f"  of which fixed (starting the pool): {fixed:+.2f} s")
        print(f"  and per file (IPC, bookkeeping):    {1000 * ((one - base) - fixed) / (n - 1):+.2f} ms")
        print(f"scan --jobs 2 vs check:               {base / two:.2f}x faster")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
