"""Where a lint's time goes, phase by phase (issue 8): load, counters, graph
build, shape propagation, each rule, fingerprints; median of --repeat runs in
one process with the garbage collector paused (as ``lint_file`` does).

    python bench/phases.py MODEL [MODEL...] [--repeat 25]
"""
import argparse
import gc
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def phases(path, repeat):
    import analyzer.model as M
    import analyzer.linter.runner as R
    from analyzer.graph.build import build_graph
    from analyzer.shapes import infer_shapes
    from analyzer.linter.registry import select_rules

    rules = select_rules(None, None)
    acc = {}

    def timed(name, fn, *a):
        t = time.perf_counter()
        r = fn(*a)
        acc.setdefault(name, []).append(time.perf_counter() - t)
        return r

    for _ in range(repeat + 3):
        gc.disable()
        try:
            t0 = time.perf_counter()
            loaded = timed("load", M.load_any, path)
            timed("count", lambda: (loaded.node_count if loaded.node_count is not None else R.count_nodes(loaded.model), R.count_weights(loaded.model)))
            graph = timed("graph", build_graph, loaded.model)
            shapes = timed("shapes", infer_shapes, graph, loaded, None)
            model = M.AnalyzedModel(path=path, loaded=loaded, graph=graph, shapes=shapes, notes=[])
            found = []
            for rule in rules:
                found += timed(rule.CODE, lambda: list(rule.check(model, {})))
            timed("fingerprint", lambda: [R.fingerprint(model, f) for f in found])
            acc.setdefault("total", []).append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return {k: statistics.median(v[3:]) for k, v in acc.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    for path in args.models:
        print(path)
        for name, t in phases(path, args.repeat).items():
            print(f"  {name:<12} {t * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
