"""Shape coverage and speed: our engine vs onnx's inference vs onnxruntime's symbolic
shape inference, model by model.

    python bench/shape_coverage.py                     # committed samples, onnx and onnxruntime bundled models
    python bench/shape_coverage.py --exports --op-cases  # + torch exports (reduced DRLN, GPT, GRU), + onnx's op test cases
    python bench/shape_coverage.py model.onnx dir/     # given files (folders: every *.onnx inside)

Per model: the values compared (main graph and If/Loop/Scan bodies) and how many of
them each tool knows fully -- a symbol counts as known, a tool's own placeholder for an
unknown dim does not (onnx's ``unk__N``; onnxruntime's ``<Op>_<i>_o<k>__d<j>``, which it
also uses for data-dependent sizes, where we count our fresh symbols as known).  Every
tool infers from the model without its declared value_info and output shapes; ours runs
alone (no onnx fallback).  Times are the best of ``--repeat`` runs, in milliseconds:
ours is graph building plus propagation, onnx's is ``infer_shapes(data_prop=True)``,
onnxruntime's is ``SymbolicShapeInference`` (``auto_merge`` off).  A tool that fails on
a model shows ``err`` there; onnxruntime's "incomplete" result still counts what it
inferred.  The op test cases, with ``--op-cases``, are one summed row.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402

from tests import test_shapes_agreement as agreement  # noqa: E402

ORT_PLACEHOLDER = re.compile(r"^(unk__\d+|.+_o\d+__d\d+)$")


def _ort():
    try:
        import sympy  # noqa: F401
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    except Exception:
        return None
    return SymbolicShapeInference


@contextlib.contextmanager
def _in_tempdir():
    """onnxruntime's tool writes sym_shape_infer_temp.onnx to the current folder when it
    cannot finish: keep that out of the repository."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        try:
            yield
        finally:
            os.chdir(old)


def ort_infer(cls, model):
    """(inferred model, complete?) from onnxruntime's symbolic shape inference; a run that
    cannot finish every shape still returns what it inferred."""
    with _in_tempdir():
        try:
            sym = cls(2**31 - 1, False, False, 0)
            sym._preprocess(model)
            done = False
            while sym.run_:
                done = sym._infer_impl()
            sym._update_output_from_vi()
            return sym.out_mp_, done
        except AttributeError:  # another onnxruntime: only the public entry point
            return cls.infer_shapes(model, 2**31 - 1, False, False, 0), True


def best_time(fn, repeat):
    best, out = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return out, best


def measure(name, model, path=None, repeat=1, ort_cls=None):
    row = {"model": name}
    (graph, shapes), row["ours_s"] = best_time(lambda: agreement.our_shapes(model, path), repeat)
    keys = agreement.compared_values(graph)
    row["values"] = len(keys)
    row["ours"] = sum(agreement._known(agreement.our_view(shapes, k)) for k in keys)
    stripped = agreement.strip_declarations(model)
    try:
        inferred, row["onnx_s"] = best_time(lambda: onnx.shape_inference.infer_shapes(stripped, data_prop=True), repeat)
        ref = agreement.reference_shapes(inferred, graph, model)
        row["onnx"] = sum(agreement._known(ref.get((k[1], k[2]))) for k in keys)
    except Exception as e:
        row["onnx"], row["onnx_s"], row["onnx_error"] = None, None, str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    if ort_cls is not None:
        try:
            (out, complete), row["ort_s"] = best_time(lambda: ort_infer(ort_cls, agreement.strip_declarations(model)), repeat)
            ref = agreement.reference_shapes(out, graph, model, ORT_PLACEHOLDER)
            row["ort"] = sum(agreement._known(ref.get((k[1], k[2]))) for k in keys)
            row["ort_complete"] = complete
        except Exception as e:  # onnxruntime's tool raises on ops and opsets it does not know
            row["ort"], row["ort_s"], row["ort_error"] = None, None, (str(e).splitlines()[0][:120] if str(e) else type(e).__name__)
    return row


def _cell(v, width):
    return f"{'err' if v is None else v:>{width}}"


def _ms(v, width):
    return f"{'-' if v is None else f'{1000 * v:.1f}':>{width}}"


def print_table(rows, with_ort, out=sys.stdout):
    head = f"{'model':<50} {'values':>7} {'ours':>6} {'onnx':>6}" + (f" {'ort':>6}" if with_ort else "")
    head += f" {'ours ms':>8} {'onnx ms':>8}" + (f" {'ort ms':>8}" if with_ort else "")
    print(head, file=out)
    total = {"values": 0, "ours": 0, "onnx": 0, "ort": 0, "ours_s": 0.0, "onnx_s": 0.0, "ort_s": 0.0}
    for r in rows:
        line = f"{r['model'][:50]:<50} {r['values']:>7} {r['ours']:>6} {_cell(r.get('onnx'), 6)}"
        if with_ort:
            line += f" {_cell(r.get('ort'), 6)}"
        line += f" {_ms(r['ours_s'], 8)} {_ms(r.get('onnx_s'), 8)}"
        if with_ort:
            line += f" {_ms(r.get('ort_s'), 8)}"
        print(line, file=out)
        for k in total:
            if r.get(k) is not None:
                total[k] += r[k]
    line = f"{'TOTAL':<50} {total['values']:>7} {total['ours']:>6} {total['onnx']:>6}" + (f" {total['ort']:>6}" if with_ort else "")
    line += f" {_ms(total['ours_s'], 8)} {_ms(total['onnx_s'], 8)}" + (f" {_ms(total['ort_s'], 8)}" if with_ort else "")
    print(line, file=out)
    failed = [(r["model"], tool, r[f"{tool}_error"]) for r in rows for tool in ("onnx", "ort") if r.get(f"{tool}_error")]
    for model, tool, err in failed:
        print(f"  {tool} failed on {model}: {err}", file=out)


def _files(args):
    out = []
    for a in args:
        if os.path.isdir(a):
            out += sorted(glob.glob(os.path.join(a, "**", "*.onnx"), recursive=True))
        else:
            out.append(a)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="model files or folders (default: the bundled corpus)")
    p.add_argument("--exports", action="store_true",
                   help="also the test's torch exports: reduced DRLN (both exporters, static and dynamic), GPT-style and GRU models (needs torch)")
    p.add_argument("--op-cases", action="store_true", help="also onnx's operator test cases (one summed row)")
    p.add_argument("--repeat", type=int, default=3, help="runs per tool and model; the best time is shown (default 3)")
    p.add_argument("--no-ort", action="store_true", help="leave onnxruntime's symbolic shape inference out")
    args = p.parse_args(argv)
    ort_cls = None if args.no_ort else _ort()
    if ort_cls is None and not args.no_ort:
        print("onnxruntime (with sympy) is not installed: its column is left out", file=sys.stderr)
    rows = []
    files = _files(args.models) if args.models else agreement.bundled_files()
    for path in files:
        rows.append(measure(agreement.file_label(os.path.abspath(path)), onnx.load(path), path, args.repeat, ort_cls))
    if args.exports:
        with tempfile.TemporaryDirectory() as d:
            for exporter, dynamic in agreement.DRLN_VARIANTS:
                path = agreement.export_drln(d, exporter, dynamic)
                rows.append(measure(agreement.drln_label(exporter, dynamic), onnx.load(path), path, args.repeat, ort_cls))
            for name, exporter in agreement.TORCH_EXPORTS:
                path = agreement.export_torch(d, name, exporter)
                rows.append(measure(f"{name}-{exporter}-dynamic", onnx.load(path), path, args.repeat, ort_cls))
    if args.op_cases:
        summed = {"model": f"onnx operator test cases ({len(agreement.NODE_CASES)})", "values": 0, "ours": 0, "onnx": 0, "ort": 0,
                  "ours_s": 0.0, "onnx_s": 0.0, "ort_s": 0.0}  # fmt: skip
        ort_failed = onnx_failed = 0
        for name in sorted(agreement.NODE_CASES):
            r = measure(name, agreement.NODE_CASES[name], None, 1, ort_cls)
            for k in ("values", "ours", "onnx", "ort", "ours_s", "onnx_s", "ort_s"):
                if r.get(k) is not None:
                    summed[k] += r[k]
            ort_failed += "ort_error" in r
            onnx_failed += "onnx_error" in r
        if ort_cls is None:
            summed["ort"] = summed["ort_s"] = None
        rows.append(summed)
        if ort_failed or onnx_failed:
            print(f"op test cases: onnx failed on {onnx_failed}, onnxruntime's tool on {ort_failed} (counted as knowing nothing)", file=sys.stderr)
    print_table(rows, ort_cls is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
