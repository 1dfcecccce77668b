"""Runtime coverage: every intermediate value's shape in onnxruntime against onnxlint's.

    python bench/runtime_coverage.py                      # samples, onnx wheel graphs, onnx op test cases, onnxruntime's models
    python bench/runtime_coverage.py --waste --tf-same    # + the waste corpus and the TF-"same" exports (need torch)
    python bench/runtime_coverage.py model.onnx dir/      # given files (folders: every *.onnx inside)

The harness (``tests/runtime_shapes.py``) makes every main-graph value a graph output, runs
the model in onnxruntime (recorded inputs where the corpus has them, else random ones;
dynamic models at every size of ``--sizes``, ours bound to the same sizes and also
evaluated unbound) and compares.  Per source it prints: models, models run, values
compared (value x run), exact, runtime coverage, the same for static-input models,
values whose size the input *values* set (exact once those are constants, or a
data-dependent op's count) and the coverage without them, for dynamic models the values
ours gives exactly *unbound* (symbolic sizes evaluated at the binding), the values of
subgraphs not exposed, disagreements (ours gives a size the runtime does not produce:
must be 0), declarations the runtime contradicts, values labelled inferred/onnx with a
size only the file declared (must be 0), and why models were skipped.  ``-v`` lists
every value not given exactly.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402

from tests import runtime_shapes as rs  # noqa: E402


def _files(paths):
    for p in paths:
        if os.path.isdir(p):
            yield from sorted(glob.glob(os.path.join(p, "**", "*.onnx"), recursive=True))
        else:
            yield p


def _file_cases(paths):
    for p in _files(paths):
        try:
            model = onnx.load(p)
        except Exception as e:  # noqa: BLE001
            print(f"{p}: cannot load ({type(e).__name__})", file=sys.stderr)
            continue
        yield rs.Case(os.path.relpath(p), "given files", model)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="model files or folders (default: the bundled corpus)")
    p.add_argument("--waste", action="store_true", help="also the waste corpus (PyTorch exports, both exporters)")
    p.add_argument("--tf-same", action="store_true", help="also the TF-'same' padding exports (sample_models/tf_same.py)")
    p.add_argument("--slow-exports", action="store_true", help="with --tf-same, also the dynamo exporter with dynamic sizes (slow)")
    p.add_argument("--node-every", type=int, default=1, help="keep one onnx operator test case in N (default 1: all)")
    p.add_argument("--sizes", default=None,
                   help=f"sizes of symbolic input dims, one run each (default {','.join(map(str, rs.DEFAULT_SIZES))}; the TF-same exports 32,24,16,8)")
    p.add_argument("-v", "--verbose", action="store_true", help="list every value not given exactly")
    args = p.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None

    if args.models:
        sources = [_file_cases(args.models)]
    else:
        sources = [rs.sample_cases(), rs.onnx_data_cases(), rs.node_test_cases(args.node_every), rs.ort_bundled_cases(), rs.declaration_cases()]
        if args.waste:
            sources.append(rs.waste_corpus_cases())
        if args.tf_same:
            sources.append(rs.tf_same_cases(slow_exports=args.slow_exports))
    start = time.monotonic()
    results = []
    for cases in sources:
        for case in cases:
            if sizes:
                case.sizes = sizes
            results.append(rs.run_case(case))
    summary = rs.summarize(results)
    print("| source | models | run | values | exact | coverage | static-input: values / exact / coverage | input data sets the size "
          "| coverage of sizes the input sizes set | dynamic: values / exact unbound | subgraph values | disagreements "
          "| wrong declarations | declared-only |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    tot = dict.fromkeys(("models", "run", "runtime_static", "exact", "static_runtime_static", "static_exact", "data_dependent", "subgraph_values",
                         "dynamic_runtime_static", "symbolic_exact"), 0)  # fmt: skip
    tot_lists = {"disagreements": 0, "wrong_declarations": 0, "declared_only": 0}
    for src, s in summary.items():
        for k in tot:
            tot[k] += s[k]
        for k in tot_lists:
            tot_lists[k] += len(s[k])
        print(_row(src, s, {k: len(s[k]) for k in tot_lists}))
    print(_row("**total**", tot, tot_lists))
    print()
    for src, s in summary.items():
        for d in s["disagreements"]:
            print(f"DISAGREEMENT [{src}] {d}")
        for d in s["declared_only"]:
            print(f"DECLARED-ONLY [{src}] {d[0]}: {d[1]}: ours {rs._fmt(d[2])}, without declarations {rs._fmt(d[3])}, declared {rs._fmt(d[4])}")
        for d in s["wrong_declarations"]:
            at = f" at {d.binding}" if d.binding else ""
            print(f"wrong declaration [{src}] {d.model}: {d.value}: declared {rs._fmt(d.ours)}, runtime {rs._fmt(d.runtime)}{at}")
        if s["skipped"]:
            print(f"skipped [{src}]: " + "; ".join(f"{n} {why}" for why, n in sorted(s["skipped"].items(), key=lambda kv: -kv[1])))
        if args.verbose:
            for name, v, ours, runtime, label, kind in s["misses"]:
                print(f"not exact [{src}] {name}: {v}: ours {rs._fmt(ours)} ({label}), runtime {rs._fmt(runtime)}: {kind}")
    print(f"\n{len(results)} models in {time.monotonic() - start:.1f} s")
    return 1 if tot_lists["disagreements"] or tot_lists["declared_only"] else 0


def _row(src, s, lists):
    cov = rs.coverage(s["exact"], s["runtime_static"])
    scov = rs.coverage(s["static_exact"], s["static_runtime_static"])
    return (f"| {src} | {s['models']} | {s['run']} | {s['runtime_static']} | {s['exact']} | {cov:.2f}% "
            f"| {s['static_runtime_static']} / {s['static_exact']} / {scov:.2f}% | {s['data_dependent']} "
            f"| {rs.coverage(s['exact'], s['runtime_static'] - s['data_dependent']):.2f}% "
            f"| {s['dynamic_runtime_static']} / {s['symbolic_exact']} | {s['subgraph_values']} "
            f"| {lists['disagreements']} | {lists['wrong_declarations']} | {lists['declared_only']} |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
