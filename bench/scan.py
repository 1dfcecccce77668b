"""Benchmark of ``onnxlint scan``: files per second with 1 and 2 workers, and the
cost of the worker pool against analyzing the same files in one process
(``onnxlint check``, which lints them one after the other in a single process).

The corpus (deterministic): the committed sample models, the model graphs bundled in the
onnx wheel (``onnx/backend/test/data/{light,real,simple,pytorch-converted,pytorch-operator}``)
and six graph-heavy chains and DAGs of 1k-20k nodes (``bench/models.py``), copied
``--repeat`` times so that a run lasts long enough to time.  Each command
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


# Graph-heavy files beside the small ones, so that sizes are mixed as in a real model zoo
# (the largest take seconds: how they are spread over the workers shows in the speed-up).
HEAVY = [("chain", 20_000), ("dag", 10_000), ("chain", 5_000), ("dag", 3_000), ("chain", 2_000), ("dag", 1_000)]


def build_corpus(dest, repeat) -> int:
    import onnx

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import models

    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    sources = [(os.path.join(ROOT, "sample_models"), "samples")] + [(os.path.join(data, g), g) for g in ONNX_GROUPS]
    files = []
    for folder, group in sources:
        for dirpath, _, names in os.walk(folder):
            for n in sorted(names):
                if n.endswith(".onnx"):
                    rel = os.path.relpath(os.path.join(dirpath, n), folder).replace(os.sep, "__")
                    files.append((os.path.join(dirpath, n), f"{group}__{rel}"))
    heavy_dir = os.path.join(dest, "_heavy")
    os.makedirs(heavy_dir)
    for kind, n in HEAVY:
        path = os.path.join(heavy_dir, f"{kind}{n}.onnx")
        onnx.save_model(models.chain(n) if kind == "chain" else models.branching_dag(n), path)
        files.append((path, f"heavy__{kind}{n}.onnx"))
    for copy in range(repeat):
        target = os.path.join(dest, f"copy{copy}")
        os.makedirs(target)
        for src, name in files:
            shutil.copyfile(src, os.path.join(target, name))
    shutil.rmtree(heavy_dir)
    return len(files) * repeat


def _burn(n) -> float:
    x = 0
    for i in range(n):
        x += i
    return x


def machine_parallelism(n=10_000_000) -> float:
    """What two processes get from this machine now: the time of two pure-Python CPU
    burns run one after the other over the time of the same two run at once (2.0 on two
    idle cores; about 1.0 when other work already takes every core)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])  # started and warm
        t = time.perf_counter()
        pool.map(_burn, [n], chunksize=1)
        pool.map(_burn, [n], chunksize=1)
        serial = time.perf_counter() - t
        t = time.perf_counter()
        pool.map(_burn, [n, n], chunksize=1)
        return serial / (time.perf_counter() - t)


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
        capacity = [machine_parallelism()]
        for _ in range(args.runs):
            for name, cmd in configs.items():
                times[name].append(timed(cmd, work))
        capacity.append(machine_parallelism())
        with open(os.path.join(work, "scan2.jsonl")) as f:
            records = [json.loads(line) for line in f]
        ok = sum(r["status"] == "ok" for r in records)
        med = {k: statistics.median(v) for k, v in times.items()}
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"corpus: {n} files ({n // args.repeat} distinct x {args.repeat}), {ok} analyzed ok; {cores} cores "
              f"(load average {load:.2f} at the end); median of {args.runs} runs")
        for k, t in med.items():
            rate = f"{(n if configs[k][1] == 'corpus' else 1) / t:7.1f} files/s"
            print(f"  {k:<18} {t:7.2f} s  {rate}   runs: {', '.join(f'{x:.2f}' for x in times[k])}")
        base, one, two = med["check (1 process)"], med["scan --jobs 1"], med["scan --jobs 2"]
        fixed = med["scan -j1, 1 file"] - med["check, 1 file"]
        pairs = [a / b for a, b in zip(times["scan --jobs 1"], times["scan --jobs 2"])]
        print(f"speed-up, 2 workers vs 1:             {one / two:.2f}x (medians; per run: {min(pairs):.2f}-{max(pairs):.2f}x; target >= 1.8)")
        print(f"  what the machine gave two processes:  {min(capacity):.2f}-{max(capacity):.2f}x (two CPU burns at once vs one "
              "after the other, before and after the runs; 2.0 on two idle cores)")
        print(f"scan --jobs 1 vs check (pool cost):   {one / base:.2f}x the time")
        print(f"  of which fixed (starting the pool): {fixed:+.2f} s")
        print(f"  and per file (IPC, bookkeeping):    {1000 * ((one - base) - fixed) / (n - 1):+.2f} ms")
        print(f"scan --jobs 2 vs check:               {base / two:.2f}x faster")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
