"""Where a lint's time goes, phase by phase (issue 8): load, counters, graph
build, shape propagation, the model's MACs (the file's stats), each rule,
fingerprints; median of --repeat runs in one process with the garbage collector
paused (as ``lint_file`` does).  ``--cpu`` times the process's CPU time instead of
the wall clock: on a shared machine, time spent waiting for a core is not counted.

    python bench/phases.py MODEL [MODEL...] [--repeat 25] [--cpu]
"""
import argparse
import gc
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def phases(path, repeat, clock=time.perf_counter):
    import analyzer.model as M
    from analyzer.analyses.macs import model_macs
    import analyzer.linter.runner as R
    from analyzer.graph.build import build_graph
    from analyzer.shapes import infer_shapes
    from analyzer.linter.registry import select_rules

    rules = select_rules(None, None)
    acc = {}

    def timed(name, fn, *a):
        t = clock()
        r = fn(*a)
        acc.setdefault(name, []).append(clock() - t)
        return r

    for _ in range(repeat + 3):
        gc.disable()
        try:
            t0 = clock()
            loaded = timed("load", M.load_any, path)
            timed("count", lambda: (loaded.node_count if loaded.node_count is not None else R.count_nodes(loaded.model), R.count_weights(loaded.model)))
            graph = timed("graph", build_graph, loaded.model)
            shapes = timed("shapes", infer_shapes, graph, loaded, None)
            model = M.AnalyzedModel(path=path, loaded=loaded, graph=graph, shapes=shapes, notes=[])
            timed("macs", model_macs, model)
            found = []
            for rule in rules:
                found += timed(rule.CODE, lambda: list(rule.check(model, {})))
            timed("fingerprint", lambda: [R.fingerprint(model, f) for f in found])
            acc.setdefault("total", []).append(clock() - t0)
        finally:
            gc.enable()
    return {k: statistics.median(v[3:]) for k, v in acc.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--repeat", type=int, default=25)
    ap.add_argument("--cpu", action="store_true", help="time the process's CPU time, not the wall clock")
    args = ap.parse_args()
    for path in args.models:
        print(path)
        for name, t in phases(path, args.repeat, time.process_time if args.cpu else time.perf_counter).items():
            print(f"  {name:<12} {t * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
