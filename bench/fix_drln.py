"""Measured gain of ``onnxlint fix`` on the full DRLN x2 (20 blocks, 64 channels, ~34 M parameters).

For each exporter: export the model (``sample_models.export.export``), fix it
(``analyzer.commands.fix.fix_file``, DT001 + DT002), check the outputs match on seeded random inputs
(``analyzer.fix.runtime.compare_models``), and time both models in onnxruntime
(``analyzer.fix.runtime.bench``: CPU, the same session options for both, warm-up, then alternating
timed runs, median).  Prints parameters before/after, dead weights removed, the max output
difference, both median latencies and their ratio.

    python bench/fix_drln.py                      # both exporters, 1x3x32x32 input, 30 runs, 1 thread
    python bench/fix_drln.py --height 16 --width 16 --runs 60
    python bench/fix_drln.py --exporter legacy --threads 0   # onnxruntime's default thread count
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from analyzer.fix import runtime as verify  # noqa: E402
from analyzer.commands.fix import fix_file  # noqa: E402
from sample_models.export import export  # noqa: E402


def run(exporter: str, height: int, width: int, runs: int, warmup: int, threads: int, workdir: pathlib.Path) -> dict:
    src = workdir / f"drln_x2_{exporter}_{height}x{width}.onnx"
    t = time.perf_counter()
    export("drln", src, exporter, scale=2, height=height, width=width)
    t_export = time.perf_counter() - t
    out = workdir / f"drln_x2_{exporter}_{height}x{width}_fixed.onnx"
    t = time.perf_counter()
    rep = fix_file(src, out)
    t_fix = time.perf_counter() - t
    cmp = verify.compare_models(src, out)
    b = verify.bench(src, out, runs=runs, warmup=warmup, threads=threads or None)
    worst = max(cmp["outputs"], key=lambda o: o["max_abs"])
    return {
        "exporter": exporter, "input": f"1x3x{height}x{width}", "export_s": t_export, "fix_s": t_fix,
        "params_before": rep.params_before, "params_after": rep.params_after,
        "dead_removed": sum(c.params_removed for c in rep.changes if c.rule == "DT001" and c.status == "fixed"),
        "dt001": rep.count("DT001", "fixed"), "dt002": rep.count("DT002", "fixed"), "refused": rep.count(status="refused"),
        "max_abs": worst["max_abs"], "max_rel": worst["max_rel"], "match": cmp["ok"], **b,
    }  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exporter", choices=["dynamo", "legacy", "both"], default="both")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--runs", type=int, default=30, help="timed runs per model (median)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="onnxruntime intra-op threads (default 1: steadier on a shared machine; 0: onnxruntime's default)")
    p.add_argument("--workdir", type=pathlib.Path, help="keep the models here (default: a temporary folder)")
    args = p.parse_args(argv)
    if verify.import_ort() is None:
        print(verify.ORT_MISSING, file=sys.stderr)
        return 2
    exporters = ["dynamo", "legacy"] if args.exporter == "both" else [args.exporter]
    with tempfile.TemporaryDirectory(prefix="fix_drln-") as tmp:
        workdir = args.workdir or pathlib.Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for exporter in exporters:
            r = run(exporter, args.height, args.width, args.runs, args.warmup, args.threads, workdir)
            print(f"DRLN x2, {r['exporter']} exporter, input {r['input']} (export {r['export_s']:.1f} s, fix {r['fix_s']:.1f} s)")
            print(f"  fixed: {r['dt001']} DT001 convs, {r['dt002']} DT002 merges, {r['refused']} refused")
            print(f"  parameters: {r['params_before']:,} -> {r['params_after']:,} "
                  f"({r['params_before'] - r['params_after']:,} removed; dead weights removed {r['dead_removed']:,})")
            print(f"  outputs: max abs diff {r['max_abs']:.3g}, max rel diff {r['max_rel']:.3g} "
                  f"({'match' if r['match'] else 'DIFFER'})")
            print(f"  latency (onnxruntime CPU, median of {r['runs']} after {r['warmup']} warm-up, threads "
                  f"{args.threads or 'default'}): original {r['original_ms']:.2f} ms, fixed {r['fixed_ms']:.2f} ms, "
                  f"ratio x{r['ratio']:.3f}")
            lo, hi = r["paired_ratio_iqr"]
            print(f"  run-by-run ratio (adjacent original/fixed runs): median x{r['paired_ratio_median']:.3f}, "
                  f"middle half x{lo:.3f}..x{hi:.3f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
