"""``onnxlint fix MODEL -o OUT``: write the model without what DT001 / DT002 find.

The rewrites themselves are in :mod:`analyzer.fix.rewrite`.  This module decides what to fix,
writes the result and reports it:

* findings are those of ``onnxlint check`` on the model *as declared* (``--input-shape``
  only sets the verification / benchmark inputs), so every rewrite is exact for every input
  size the model accepts; suppressions in the model's metadata are honoured;
* the output keeps the opset, IR version, metadata and weight layout: when the input keeps
  weights as external data, the output does too, in ``OUT.data`` beside ``OUT`` (each tensor
  stays where it was; new tensors go where their sources were);
* it passes ``onnx.checker.check_model(full_check=True)`` before it replaces anything, and is
  written atomically (temporary files in OUT's folder, then renamed: the data file first,
  then the model); the input files are never written (an output that would overwrite them is
  refused).

onnxruntime is imported only for ``--verify`` / ``--bench`` (see :mod:`analyzer.commands.verify`).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import TensorProto

from analyzer.io.atomic import write_bytes_atomic
from analyzer.io.load import LoadError, copy_external_bytes, external_key, iter_tensors, load
from analyzer.fix.rewrite import FIXABLE, count_params, rewrite_model

__all__ = ["FixError", "FixReport", "fix_file", "parse_codes", "render", "run"]

EXIT_OK, EXIT_ERROR = 0, 2
ALIGN_THRESHOLD, ALIGNMENT = 1 << 20, 4096  # big external tensors start on a page boundary


class FixError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


@dataclass
class FixReport:
    input: str
    output: str
    external_data: str | None
    changes: list
    params_before: int
    params_after: int
    bytes_before: int
    bytes_after: int
    notes: list = field(default_factory=list)
    verification: dict | None = None
    bench: dict | None = None

    def count(self, rule=None, status=None) -> int:
        return sum(1 for c in self.changes if (rule is None or c.rule == rule) and (status is None or c.status == status))

    def to_dict(self) -> dict:
        from analyzer.common import VERSION as __version__

        fixed = [c for c in self.changes if c.status == "fixed"]
        return {
            "tool": {"name": "onnxlint", "version": __version__},
            "input": self.input,
            "output": self.output,
            "external_data": self.external_data,
            "changes": [c.to_dict() for c in self.changes],
            "totals": {
                "fixed": {r: self.count(r, "fixed") for r in FIXABLE},
                "refused": {r: self.count(r, "refused") for r in FIXABLE},
                "params_before": self.params_before,
                "params_after": self.params_after,
                "params_removed": self.params_before - self.params_after,
                "bytes_before": self.bytes_before,
                "bytes_after": self.bytes_after,
                "bytes_removed": self.bytes_before - self.bytes_after,
                "params_removed_by_changes": sum(c.params_removed for c in fixed),
            },
            "notes": list(self.notes),
            "verification": self.verification,
            "bench": self.bench,
        }


def parse_codes(select) -> tuple:
    """``--select`` for fix: codes or prefixes among DT001, DT002 (default both)."""
    if select is None:
        return FIXABLE
    wanted = [s.strip().upper() for s in select.split(",") if s.strip()]
    codes = [c for c in FIXABLE if any(s == "ALL" or c.startswith(s) for s in wanted)]
    unknown = [s for s in wanted if s != "ALL" and not any(c.startswith(s) for c in FIXABLE)]
    if unknown or not codes:
        raise ValueError(f"fix knows {', '.join(FIXABLE)}; got {select!r}")
    return tuple(codes)


def _findings(am, codes):
    from analyzer.linter.registry import get_rule

    from analyzer.findings import FileResult
    from analyzer.linter.suppress import apply_model_suppressions

    fr = FileResult(path=am.path or "<model>")
    for code in codes:
        fr.findings.extend(get_rule(code).check(am, {}))
    apply_model_suppressions(am, fr)
    return fr.findings, fr.notes


def _same_file(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def fix_file(path, out, codes=FIXABLE) -> FixReport:
    """Fix ``path`` into ``out``.  Raises LoadError / GraphError / ShapeError / FixError."""
    from analyzer.model import analyze_loaded

    loaded = load(path, lazy=False)  # the model is rewritten and saved: it needs every payload
    out = Path(out)
    data_path = out.with_name(out.name + ".data")
    inputs = [Path(path)] + [ref.path for ref in loaded.external.values()]
    for target in ([out, data_path] if loaded.external else [out]):
        if any(_same_file(target, p) for p in inputs):
            raise FixError("overwrite", f"{target} is one of the input's own files; choose another output")
    am = analyze_loaded(loaded, path)
    findings, notes = _findings(am, codes)
    params_before, bytes_before = count_params(am.model)
    result = rewrite_model(am, findings, codes)
    params_after, bytes_after = count_params(am.model)
    write_model(am.model, loaded, out, result.externalize, original=path)
    return FixReport(
        input=str(path), output=str(out), external_data=str(data_path) if loaded.external else None,
        changes=result.changes, params_before=params_before, params_after=params_after,
        bytes_before=bytes_before, bytes_after=bytes_after, notes=list(am.notes) + notes,
    )  # fmt: skip


def _check(target, original=None) -> None:
    """``onnx.checker.check_model(full_check=True)`` on the output; when it fails and the
    input (``original``, a path) fails too, the input is to blame."""
    try:
        onnx.checker.check_model(target, full_check=True)
    except Exception as e:  # ValidationError, InferenceError
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if original is not None:
            try:
                onnx.checker.check_model(str(original), full_check=True)
            except Exception as e0:
                msg0 = str(e0).strip().splitlines()[0] if str(e0).strip() else type(e0).__name__
                raise FixError("invalid-input", f"the input fails onnx.checker ({msg0}); fix only writes models that pass it") from None
        raise FixError("invalid-output", f"the rewritten model fails onnx.checker ({msg}); please report it") from None


def _set_location(t: TensorProto, location: str, offset: int | None = None, length: int | None = None) -> None:
    entries = {e.key: e.value for e in t.external_data}
    entries["location"] = location
    if offset is not None:
        entries["offset"], entries["length"] = str(offset), str(length)
        entries.pop("checksum", None)
    del t.external_data[:]
    for k in ("location", "offset", "length"):
        if k in entries:
            t.external_data.add(key=k, value=entries.pop(k))
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    t.data_location = TensorProto.EXTERNAL


def _file_mode(path) -> int:
    """The mode ``path`` keeps (a file being replaced) or gets (0o666 minus the umask), as in
    :mod:`analyzer.io.atomic`; the temporary files are created 0o600."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


# fix rewrites the data file next to the output; it refuses to copy more than this.
MAX_EXTERNAL_COPY = 16 << 30


def write_model(model, loaded, out, externalize, original=None) -> None:
    """Check and write ``model`` to ``out`` (and ``out.data`` when the input had external data)."""
    out = Path(out)
    if not loaded.external:
        _check(model, original)
        write_bytes_atomic(out, model.SerializeToString())
        return
    total = sum(ref.length for ref in loaded.external.values())
    if total > MAX_EXTERNAL_COPY:
        raise FixError("too-large", f"{total} bytes of external data to copy; fix copies at most {MAX_EXTERNAL_COPY}")
    folder = out.resolve().parent
    fd, tmp_data = tempfile.mkstemp(prefix=".onnxlint-", suffix=".data.tmp", dir=folder)
    os.chmod(tmp_data, _file_mode(folder / (out.name + ".data")))
    tmp_name = os.path.basename(tmp_data)
    tmp_model = None
    try:
        with os.fdopen(fd, "wb") as f:
            offset = 0

            def put(t, raw):
                nonlocal offset
                if len(raw) >= ALIGN_THRESHOLD and offset % ALIGNMENT:
                    pad = ALIGNMENT - offset % ALIGNMENT
                    f.write(b"\0" * pad)
                    offset += pad
                f.write(raw)
                t.ClearField("raw_data")
                _set_location(t, tmp_name, offset, len(raw))
                offset += len(raw)

            def copy_external(t, ref):
                nonlocal offset
                if ref.length >= ALIGN_THRESHOLD and offset % ALIGNMENT:
                    pad = ALIGNMENT - offset % ALIGNMENT
                    f.write(b"\0" * pad)
                    offset += pad
                copy_external_bytes(ref, f)  # in chunks: a tensor may be larger than memory
                _set_location(t, tmp_name, offset, ref.length)
                offset += ref.length

            for t in model.graph.initializer:
                if t.name in externalize and t.data_location != TensorProto.EXTERNAL:
                    put(t, t.raw_data)
            for t in iter_tensors(model):
                if t.data_location != TensorProto.EXTERNAL:
                    continue
                if any(e.key == "location" and e.value == tmp_name for e in t.external_data):
                    continue
                ref = loaded.external.get(external_key(t))
                if ref is None:
                    raise FixError("external-data", f"tensor {t.name!r}: external data not found in the input")
                copy_external(t, ref)
            f.flush()
            os.fsync(f.fileno())
        fd2, tmp_model = tempfile.mkstemp(prefix=".onnxlint-", suffix=".onnx.tmp", dir=folder)
        os.chmod(tmp_model, _file_mode(out))
        with os.fdopen(fd2, "wb") as f:
            f.write(model.SerializeToString())
        _check(tmp_model, original)
        data_name = out.name + ".data"
        for t in iter_tensors(model):
            if any(e.key == "location" and e.value == tmp_name for e in t.external_data):
                _set_location(t, data_name)
        with open(tmp_model, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_data, folder / data_name)
        tmp_data = None
        os.replace(tmp_model, out)
        tmp_model = None
    finally:
        for tmp in (tmp_data, tmp_model):
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


# -- report --------------------------------------------------------------------------


def _esc(s) -> str:
    from analyzer.report.text import escape

    return escape(str(s))


def _conv_desc(d: dict) -> str:
    k = "x".join(str(x) for x in d["kernel_shape"])
    return f"{k} dilations {d['dilations']} pads {d['pads']}"


def render(rep: FixReport, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(rep.to_dict(), indent=2, sort_keys=False) + "\n"
    lines = []
    where = _esc(rep.output)
    for c in rep.changes:
        head = f"{where}:{_esc(c.node)}: {c.rule} {c.status}"
        if c.status == "refused":
            lines.append(f"{head}: {_esc(c.reason)}")
        elif c.rule == "DT001":
            tail = f" (then merged into {_esc(c.merged_node)!s})" if c.merged_node else ""
            lines.append(
                f"{head}: {c.op_type} {_conv_desc(c.before)} -> {_conv_desc(c.after)}; "
                f"{c.params_removed} params ({c.bytes_removed} bytes) removed{tail}"
            )
        else:
            names = ", ".join(repr(_esc(n)) for n in c.branches)
            chans = "+".join(str(n) for n in c.before["out_channels"])
            lines.append(
                f"{head}: {names} ({chans} output channels) -> one {c.op_type} {_esc(c.merged_node)!r} "
                f"(weight {'x'.join(map(str, c.after['weight_shape']))}); Concat output "
                f"{_esc(c.after['concat_output'])!r} kept; {c.params_removed} params removed"
            )
    for n in rep.notes:
        lines.append(f"{where}: note: {_esc(n)}")
    fixed = ", ".join(f"{rep.count(r, 'fixed')} {r}" for r in FIXABLE)
    removed = rep.params_before - rep.params_after
    data = f" + {_esc(rep.external_data)}" if rep.external_data else ""
    lines.append(
        f"wrote {where}{data}: fixed {fixed}; refused {rep.count(status='refused')}; parameters "
        f"{rep.params_before} -> {rep.params_after} ({removed} removed, {rep.bytes_before - rep.bytes_after} bytes)"
    )
    if rep.verification is not None:
        from analyzer.commands.verify import render_comparison

        lines.extend(render_comparison(rep.verification))
    if rep.bench is not None:
        from analyzer.commands.verify import render_bench

        lines.extend(render_bench(rep.bench))
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from analyzer.common import UsageError, parse_input_shapes
    from analyzer.graph.build import GraphError
    from analyzer.shapes import ShapeError

    try:
        codes = parse_codes(args.select)
    except ValueError as e:
        raise UsageError(str(e)) from None
    input_shapes = parse_input_shapes(args.input_shape)
    if args.verify or args.bench:
        from analyzer.commands.verify import ORT_MISSING, import_ort

        if import_ort() is None:
            print(ORT_MISSING, file=sys.stderr)
            return EXIT_ERROR
    try:
        rep = fix_file(args.model, args.output, codes)
    except (LoadError, FixError, GraphError) as e:
        print(f"{_esc(args.model)}: {e.kind}: {_esc(e.message)}", file=sys.stderr)
        return EXIT_ERROR
    except ShapeError as e:
        print(f"{_esc(args.model)}: bad-input-shape: {_esc(e)}", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    if args.verify or args.bench:
        from analyzer.commands.verify import VerifyError, bench, compare_models

        try:
            if args.verify:
                rep.verification = compare_models(args.model, args.output, input_shapes)
                if not rep.verification["ok"]:
                    status = EXIT_ERROR
            if args.bench:
                rep.bench = bench(args.model, args.output, input_shapes, runs=getattr(args, "bench_runs", None))
        except VerifyError as e:
            sys.stdout.write(render(rep, args.format))
            print(f"{_esc(args.model)}: verify: {_esc(e)}", file=sys.stderr)
            return EXIT_ERROR
    sys.stdout.write(render(rep, args.format))
    return status
