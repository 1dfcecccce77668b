"""``onnxlint fix MODEL -o OUT``: write the model without what the rules find.

Each rule that can fix its findings defines ``fix_findings(rewriter, findings)`` (its
rewrite, on the toolkit of :mod:`analyzer.fix.rewrite`).  This module decides what to fix,
runs the hooks, writes the result (:mod:`analyzer.fix.write`) and reports it:

* ``--select`` picks among the rules that have a fix (default: all of them); their hooks run
  in registry order on one rewriter, so a later rule sees what an earlier one changed;
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

``--diff`` (alias ``--dry-run``) runs all of that but the writing: it prints what would
change, finding by finding (node, what is rewritten or removed, parameters and bytes
saved; refusals with their reason), and writes no file.  Its exit code: 0 when nothing would
change, 1 when something would be fixed (so CI can ask "is anything fixable?"), 2 on error.

onnxruntime is imported only for ``--verify`` / ``--bench`` (see :mod:`analyzer.fix.runtime`).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.fix.rewrite import count_params, rewrite_model
from analyzer.fix.write import FixError, check_rewritten, write_model
from analyzer.io.load import LoadError, load

__all__ = ["FixError", "FixReport", "fix_file", "fixable_rules", "parse_codes", "render", "run"]

EXIT_OK, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def fixable_rules() -> list:
    """The rules that have a fix hook, in registry order."""
    from analyzer.linter.registry import all_rules

    return [r for r in all_rules() if callable(getattr(r, "fix_findings", None))]


def fixable_codes() -> tuple:
    return tuple(r.CODE for r in fixable_rules())


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
    fixable: tuple = ()  # the codes of every rule that has a fix (the totals list each)
    dry_run: bool = False  # --diff: nothing was written (``output`` is None)

    def count(self, rule=None, status=None) -> int:
        return sum(1 for c in self.changes if (rule is None or c.rule == rule) and (status is None or c.status == status))

    def to_dict(self) -> dict:
        from analyzer.common import VERSION as __version__

        fixed = [c for c in self.changes if c.status == "fixed"]
        return {
            "tool": {"name": "onnxlint", "version": __version__},
            "input": self.input,
            "output": self.output,
            "dry_run": self.dry_run,
            "external_data": self.external_data,
            "changes": [c.to_dict() for c in self.changes],
            "totals": {
                "fixed": {r: self.count(r, "fixed") for r in self.fixable},
                "refused": {r: self.count(r, "refused") for r in self.fixable},
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
    """``--select`` for fix: codes or prefixes among the rules that have a fix (default: all)."""
    fixable = fixable_codes()
    if select is None:
        return fixable
    wanted = [s.strip().upper() for s in select.split(",") if s.strip()]
    codes = [c for c in fixable if any(s == "ALL" or c.startswith(s) for s in wanted)]
    unknown = [s for s in wanted if s != "ALL" and not any(c.startswith(s) for c in fixable)]
    if unknown or not codes:
        raise ValueError(f"fix knows {', '.join(fixable)}; got {select!r}")
    return tuple(codes)


def _findings(am, rules):
    from analyzer.findings import FileResult
    from analyzer.linter.suppress import apply_model_suppressions

    fr = FileResult(path=am.path or "<model>")
    for rule in rules:
        fr.findings.extend(rule.check(am, {}))
    apply_model_suppressions(am, fr)
    return fr.findings, fr.notes


def _same_file(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def fix_file(path, out, codes=None, dry_run=False) -> FixReport:
    """Fix ``path`` into ``out`` for the rules ``codes`` (default: every rule that has a fix);
    ``dry_run``: check the rewrite but write nothing (``out`` may be None).
    Raises LoadError / GraphError / ShapeError / FixError."""
    from analyzer.model import analyze_loaded

    fixable = fixable_rules()
    rules = [r for r in fixable if codes is None or r.CODE in codes]
    loaded = load(path, lazy=False)  # the model is rewritten and saved: it needs every payload
    out = Path(out) if out is not None else None
    data_path = out.with_name(out.name + ".data") if out is not None else None
    inputs = [Path(path)] + [ref.path for ref in loaded.external.values()]
    for target in ([] if dry_run else [out, data_path] if loaded.external else [out]):
        if any(_same_file(target, p) for p in inputs):
            raise FixError("overwrite", f"{target} is one of the input's own files; choose another output")
    am = analyze_loaded(loaded, path)
    findings, notes = _findings(am, rules)
    params_before, bytes_before = count_params(am.model)
    result = rewrite_model(am, findings, [(r.CODE, r.fix_findings) for r in rules])
    params_after, bytes_after = count_params(am.model)
    if dry_run:
        check_rewritten(am.model, loaded, original=path)
    else:
        write_model(am.model, loaded, out, result.externalize, original=path)
    return FixReport(
        input=str(path), output=None if dry_run else str(out),
        external_data=str(data_path) if loaded.external and not dry_run else None, dry_run=dry_run,
        changes=result.changes, params_before=params_before, params_after=params_after,
        bytes_before=bytes_before, bytes_after=bytes_after, notes=list(am.notes) + notes,
        fixable=tuple(r.CODE for r in fixable),
    )  # fmt: skip


# -- report --------------------------------------------------------------------------


def _esc(s) -> str:
    from analyzer.report.text import escape

    return escape(str(s))


def render_comparison(v: dict) -> list:
    """The text of ``fix --verify`` (:func:`analyzer.fix.runtime.compare_models`)."""
    worst = max(v["outputs"], key=lambda o: o["max_abs"]) if v["outputs"] else None
    state = "outputs match" if v["ok"] else "OUTPUTS DIFFER"
    lines = [f"verify: {state} on {v['runs']} seeded random inputs ({v['precision']}: rtol {v['rtol']:g}, atol {v['atol']:g})"]
    for o in v["outputs"]:
        lines.append(f"  {o['name']}: max abs diff {o['max_abs']:.3g}, max rel diff {o['max_rel']:.3g}"
                     + ("" if o["ok"] else " FAILED"))
    return lines if worst is not None else lines[:1]


def render_bench(b: dict) -> list:
    """The text of ``fix --bench`` (:func:`analyzer.fix.runtime.bench`)."""
    lo, hi = b["paired_ratio_iqr"]
    return [(f"bench: original {b['original_ms']:.2f} ms, fixed {b['fixed_ms']:.2f} ms (median of {b['runs']} runs "
             f"after {b['warmup']} warm-up), speed-up x{b['ratio']:.3f} (run by run: median x{b['paired_ratio_median']:.3f}, "
             f"middle half x{lo:.3f}..x{hi:.3f})")]


def render_diff(rep: FixReport) -> str:
    """The text of ``fix --diff``: what would change, named by the input file."""
    lines = []
    where = _esc(rep.input)
    for c in rep.changes:
        status = "would fix" if c.status == "fixed" else c.status
        lines.append(f"{where}:{_esc(c.node)}: {c.rule} {status}: {c.text(_esc)}")
    for n in rep.notes:
        lines.append(f"{where}: note: {_esc(n)}")
    n = rep.count(status="fixed")
    per_rule = ", ".join(f"{rep.count(r, 'fixed')} {r}" for r in rep.fixable if rep.count(r, "fixed"))
    removed = rep.params_before - rep.params_after
    lines.append(
        f"{where}: would fix {n} finding(s)" + (f" ({per_rule})" if per_rule else "")
        + f", refuse {rep.count(status='refused')}; parameters {rep.params_before} -> {rep.params_after} "
        f"({removed} removed, {rep.bytes_before - rep.bytes_after} bytes); no file written"
    )
    return "\n".join(lines) + "\n"


def render(rep: FixReport, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(rep.to_dict(), indent=2, sort_keys=False) + "\n"
    if rep.dry_run:
        return render_diff(rep)
    lines = []
    where = _esc(rep.output)
    for c in rep.changes:
        lines.append(f"{where}:{_esc(c.node)}: {c.rule} {c.status}: {c.text(_esc)}")
    for n in rep.notes:
        lines.append(f"{where}: note: {_esc(n)}")
    fixed = ", ".join(f"{rep.count(r, 'fixed')} {r}" for r in rep.fixable if rep.count(r, "fixed")) or "0"  # rules that fixed something
    removed = rep.params_before - rep.params_after
    data = f" + {_esc(rep.external_data)}" if rep.external_data else ""
    lines.append(
        f"wrote {where}{data}: fixed {fixed}; refused {rep.count(status='refused')}; parameters "
        f"{rep.params_before} -> {rep.params_after} ({removed} removed, {rep.bytes_before - rep.bytes_after} bytes)"
    )
    if rep.verification is not None:
        lines.extend(render_comparison(rep.verification))
    if rep.bench is not None:
        lines.extend(render_bench(rep.bench))
    return "\n".join(lines) + "\n"


def _execute(args, rep, input_shapes) -> int:
    """``--verify`` / ``--bench`` on the written model; prints the report."""
    from analyzer.fix.runtime import VerifyError, bench, compare_models

    status = EXIT_OK
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


def run(args) -> int:
    from analyzer.common import UsageError, parse_input_shapes
    from analyzer.graph.build import GraphError
    from analyzer.shapes import ShapeError

    dry_run = getattr(args, "diff", False)
    if dry_run and args.output:
        raise UsageError("fix: --diff writes no file; drop --output")
    if dry_run and (args.verify or args.bench):
        raise UsageError("fix: --verify and --bench run the written model; they cannot go with --diff")
    if not dry_run and not args.output:
        raise UsageError("fix: give --output OUT (or --diff to print what would change)")
    try:
        codes = parse_codes(args.select)
    except ValueError as e:
        raise UsageError(str(e)) from None
    input_shapes = parse_input_shapes(args.input_shape)
    if args.verify or args.bench:
        from analyzer.fix.runtime import ORT_MISSING, import_ort

        if import_ort() is None:
            print(ORT_MISSING, file=sys.stderr)
            return EXIT_ERROR
    try:
        rep = fix_file(args.model, args.output, codes, dry_run=dry_run)
    except (LoadError, FixError, GraphError) as e:
        print(f"{_esc(args.model)}: {e.kind}: {_esc(e.message)}", file=sys.stderr)
        return EXIT_ERROR
    except ShapeError as e:
        print(f"{_esc(args.model)}: bad-input-shape: {_esc(e)}", file=sys.stderr)
        return EXIT_ERROR
    if args.verify or args.bench:
        return _execute(args, rep, input_shapes)
    sys.stdout.write(render(rep, args.format))
    if dry_run:
        return EXIT_CHANGES if rep.count(status="fixed") else EXIT_OK
    return EXIT_OK
