"""Analysis time must grow linearly with graph size (issue 8).

Builds chains (Relu after Relu) and DAGs (each Add reads the two previous
values) of 1k, 10k, 100k and 1M nodes and times the in-process analysis
(parse + graph + shapes + all rules), median of --repeat runs; prints the time
per node at each size and the ratio of the largest to the smallest per-node time
(target: flat within 2x).

    python bench/scaling.py [--sizes 1000,10000,100000,1000000] [--repeat 3]
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def chain(n):
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"n{i}") for i in range(n)]
    x = helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1, 8, 4, 4])
    y = helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "chain", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])


def dag(n):
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["v0"], ["v1"], name="n0")]
    for i in range(1, n):
        nodes.append(helper.make_node("Add", [f"v{i}", f"v{i - 1}"], [f"v{i + 1}"], name=f"n{i}"))
    x = helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1, 8, 4, 4])
    y = helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "dag", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import analyzer

    sizes = [int(s) for s in args.sizes.split(",")]
    for kind, build in (("chain", chain), ("dag", dag)):
        per_node = []
        for n in sizes:
            model = build(n)
            analyzer.lint(model)  # warm-up
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = analyzer.lint(model)
                times.append(time.perf_counter() - t)
                assert r.files[0].status == "ok", r.files[0].error
            med = statistics.median(times)
            per_node.append(med / n)
            print(f"{kind:<6} {n:>8} nodes  {med:8.3f} s  {med / n * 1e6:8.2f} us/node")
        print(f"{kind:<6} per-node time, largest/smallest: {max(per_node) / min(per_node):.2f} (target <= 2)")


if __name__ == "__main__":
    main()
