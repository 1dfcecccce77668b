"""Cost in proportion to the graph, not to the weights (issue 8).

In one process, with the page cache warm, median of --repeat runs:
  lint / onnx.load          target <= 0.5   (full in-process lint incl. loading)
  infer_shapes / lint       target >= 5     (onnx.shape_inference.infer_shapes(data_prop=True) on the same file)
and, in a fresh child process per model, the growth of peak RSS over the RSS
after imports, divided by the file size (weights included): target < 0.1.

Models: the full DRLN x2 (~138 MB) from both exporters, each as one file with
its weights inside (the file the targets are about); the dynamo export in its own
layout (a 0.9 MB graph file + 138 MB of external data) and a synthetic model
over 2 GB with external data, for lint/load and RSS.  On an external-data file
``infer_shapes`` reads only the graph file, as we do, so shapes/lint there is a
graph-only comparison of onnx's C++ with our Python: printed, not a target.

Models are exported in a child process: the measuring process imports what
``onnxlint check`` imports (onnx, numpy, networkx, the analyzer), never torch.
With torch imported, glibc's heap is already grown and ``onnx.load`` skips most of
its page faults (≈42 ms instead of ≈115 ms for the legacy file on this VM class);
that is not the state a linting process is in.  Load and lint runs alternate so
both see the same cache and heap state.

    python bench/lint_vs_load.py [--repeat 7] [--workdir DIR] [--skip-big]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def median_times(fns, repeat):
    """Median time of each of ``fns``, run alternately ``repeat`` times after a warm-up."""
    for fn in fns:
        fn()  # warm-up (page cache, imports)
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, acc in zip(fns, times):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return [statistics.median(acc) for acc in times]


def export_drln(path, exporter, external_data):
    """Export the full DRLN x2 in a child process (torch stays out of this one)."""
    cmd = [sys.executable, "-m", "sample_models.export", "--model", "drln", "--exporter", exporter,
           "--scale", "2", "--height", "32", "--width", "32", "--out", path,
           "--external-data" if external_data else "--no-external-data"]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def make_big_model(path, gigabytes=2.1):
    """A conv stack whose weights (external data) add up to more than 2 GB."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    n_layers = 8
    per_layer = int(gigabytes * (1 << 30) / n_layers / 4)
    c = int((per_layer / 9) ** 0.5)
    data_name = os.path.basename(path) + ".data"
    data_path = os.path.join(os.path.dirname(path), data_name)
    inits, nodes = [], []
    offset = 0
    chunk = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32).tobytes()
    with open(data_path, "wb") as f:
        for i in range(n_layers):
            nbytes = c * c * 9 * 4
            written = 0
            while written < nbytes:
                piece = chunk[: min(len(chunk), nbytes - written)]
                f.write(piece)
                written += len(piece)
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[c, c, 3, 3])
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            offset += nbytes
            inits.append(t)
            src = "x" if i == 0 else f"h{i - 1}"
            nodes.append(helper.make_node("Conv", [src, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"))
            nodes.append(helper.make_node("Relu", [f"c{i}"], [f"h{i}"], name=f"relu{i}"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 16, 16])
    y = helper.make_tensor_value_info(f"h{n_layers - 1}", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "big", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import analyzer, analyzer.linter.runner, analyzer.model, rules, onnx, numpy, networkx
from analyzer.shapes import engine  # noqa
def hwm_kb():
    # VmHWM, not ru_maxrss: a child started with fork+exec inherits the parent's ru_maxrss
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak to the current RSS (Linux)
except OSError:
    pass
before = hwm_kb()
r = analyzer.lint({path!r})
after = hwm_kb()
print(json.dumps({{"before_kb": before, "after_kb": after, "findings": len(r.findings), "status": r.files[0].status}}))
"""


def rss_growth(path):
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=ROOT, path=path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def file_bytes(path):
    total = os.path.getsize(path)
    data = path + ".data"
    if os.path.exists(data):
        total += os.path.getsize(data)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workdir")
    ap.add_argument("--skip-big", action="store_true", help="skip the >2 GB synthetic model")
    args = ap.parse_args()
    import onnx

    import analyzer

    work = args.workdir or tempfile.mkdtemp(prefix="onnxlint-bench-")
    models = []  # (label, path, shapes/lint is a target)
    for exporter, external in (("legacy", False), ("dynamo", False), ("dynamo", True)):
        layout = "external data" if external else "one file"
        p = os.path.join(work, f"drln_x2_{exporter}{'_ext' if external else ''}.onnx")
        if not os.path.exists(p):
            export_drln(p, exporter, external)
        models.append((f"DRLN x2 {exporter}, {layout}", p, not external))
    if not args.skip_big:
        p = os.path.join(work, "big_external.onnx")
        if not os.path.exists(p):
            make_big_model(p)
        models.append(("synthetic >2 GB, external", p, False))
    assert "torch" not in sys.modules, "the measuring process must not import torch"

    print(f"median of {args.repeat} alternating runs; torch not imported in this process")
    print(f"{'model':<30} {'size MB':>8} {'load s':>8} {'lint s':>8} {'shapes s':>9} {'lint/load':>10} {'shapes/lint':>12} {'RSS/size':>9}")
    for label, path, shapes_target in models:
        size = file_bytes(path)
        out = os.path.join(work, "inferred.onnx")

        def shapes():
            try:
                onnx.shape_inference.infer_shapes_path(path, out, data_prop=True)
            except Exception:
                pass

        t_load, t_lint, t_shapes = median_times(
            [lambda: onnx.load(path), lambda: analyzer.lint(path), shapes], args.repeat
        )
        child = rss_growth(path)
        growth = (child["after_kb"] - child["before_kb"]) * 1024
        mark = "" if shapes_target else "*"
        print(
            f"{label:<30} {size / 1e6:>8.1f} {t_load:>8.3f} {t_lint:>8.3f} {t_shapes:>9.3f} "
            f"{t_lint / t_load:>10.3f} {t_shapes / t_lint:>11.1f}{mark or ' '} {growth / size:>9.4f}  (peak RSS +{growth / 1e6:.1f} MB)"
        )
    print("targets: lint/load <= 0.5, shapes/lint >= 5, RSS growth/size < 0.1")
    print("* not a target: infer_shapes reads only the graph file of an external-data model, as we do")


if __name__ == "__main__":
    main()
