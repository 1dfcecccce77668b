"""Analysis time must grow linearly with graph size (issue 8).

Builds chains (Relu after Relu) and DAGs (each Add reads the two previous
values) of 1k, 10k, 100k and 1M nodes and times the in-process analysis
(parse + graph + shapes + all rules), median of --repeat runs; prints the time
per node at each size and the ratio of the largest to the smallest per-node time
(target: flat within 2x).

Beside it, a reference measured in the same run: building the bare networkx
DiGraph of the same model (one node per op and per value, one edge per input
and output, attribute dicts as small as ours) through networkx's own
``add_node``/``add_edge``.  No algorithm is involved there, so its growth per
node is what CPython's memory (fresh pages, cache misses in big dicts) adds on
this machine; "ours/ref" flat across sizes means our own work is linear.
The "kernel" column is the system CPU time of our runs per node: the kernel
zeroing fresh pages for the process (on this VM class each fresh page can also
cost a fault in the host), absent at 1k nodes, a growing share at 1M.

    python bench/scaling.py [--sizes 1000,10000,100000,1000000] [--repeat 3]
"""
import argparse
import os
import resource
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


def bare_networkx(model):
    """The reference: the op/value DiGraph of ``model``'s main graph, built with networkx's API."""
    import networkx as nx

    G = nx.DiGraph()
    for v in model.graph.input:
        G.add_node(("value", v.name), kind="value", role="input", name=v.name)
    for i, node in enumerate(model.graph.node):
        op = ("op", i)
        G.add_node(op, kind="op", op_type=node.op_type, id=node.name)
        for pos, name in enumerate(node.output):
            G.add_node(("value", name), kind="value", role="output", name=name)
            G.add_edge(op, ("value", name), kind="output", position=pos)
        for pos, name in enumerate(node.input):
            G.add_edge(("value", name), op, kind="input", positions=(pos,))
    return G


def median_time(fn, repeat):
    """Median wall time of ``fn`` and median system CPU time, over ``repeat`` runs after a warm-up."""
    fn()  # warm-up
    times, kernel = [], []
    for _ in range(repeat):
        r = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        kernel.append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - r)
    return statistics.median(times), statistics.median(kernel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import analyzer

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'':<6} {'':>8}        {'ours':>9} {'ours':>15} {'kernel':>9} {'ref':>15} {'ours/ref':>9}")
    for kind, build in (("chain", chain), ("dag", dag)):
        per_node, ratios, refs = [], [], []
        for n in sizes:
            model = build(n)

            def ours():
                r = analyzer.lint(model)
                assert r.files[0].status == "ok", r.files[0].error

            med, sys_t = median_time(ours, args.repeat)
            ref, _ = median_time(lambda: bare_networkx(model), args.repeat)
            per_node.append(med / n)
            ratios.append(med / ref)
            refs.append(ref / n)
            print(f"{kind:<6} {n:>8} nodes {med:8.3f} s {med / n * 1e6:7.2f} us/node {sys_t / n * 1e6:6.2f} us "
                  f"{ref / n * 1e6:7.2f} us/node {med / ref:8.2f}")
        print(f"{kind:<6} per-node time, largest/smallest: {max(per_node) / min(per_node):.2f} (issue 8's wall-clock "
              f"target <= 2; the bare reference: {max(refs) / min(refs):.2f}); "
              f"ours/ref, largest/smallest: {max(ratios) / min(ratios):.2f} (target <= 2)")

if __name__ == "__main__":
    main()
