"""Command line: ``onnxlint check|shapes|rules|suppress|fix|verify|scan`` (also ``python -m analyzer``).

Exit codes (as ruff/flake8 users expect):
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  a file could not be analyzed, or the command line / configuration is wrong
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

FORMATS = ["text", "json", "sarif", "github", "html"]


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 too; keep its one-line style
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"onnxlint: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="onnxlint", description="Static analyzer for ONNX models.")
    p.add_argument("--version", action="version", version=f"onnxlint {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="lint model files and folders (recursively for *.onnx)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--format", choices=FORMATS, default=None, help="output format (default: text)")
    c.add_argument("--output", "-o", metavar="FILE", help="write the report here (atomically) instead of stdout")
    c.add_argument("--select", metavar="CODES", help="comma-separated rule codes or prefixes (default: all)")
    c.add_argument("--ignore", metavar="CODES", help="comma-separated rule codes or prefixes to skip")
    c.add_argument("--fail-on", choices=["info", "warning", "error"], default=None, help="lowest severity that makes the exit code 1 (default: warning)")
    c.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (errors still exit 2)")
    c.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="bind a graph input's dims (repeatable), e.g. input=1,3,224,224; binds its symbols everywhere",
    )
    c.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    c.add_argument("--config", metavar="FILE", help="read settings from this pyproject.toml / setup.cfg / onnxlint.toml")
    c.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    c.add_argument("--baseline", metavar="FILE", help="report and fail only on findings not recorded in this baseline")
    c.add_argument("--write-baseline", metavar="FILE", help="record today's findings as the baseline (exit 0 unless a file fails)")
    c.add_argument("--max-nodes", type=int, default=None, metavar="N", help="refuse models with more than N nodes in all graphs (default: 2000000)")

    sh = sub.add_parser("shapes", help="print every value's inferred shape, dtype and where it came from")
    sh.add_argument("model", metavar="MODEL")
    sh.add_argument("--format", choices=["text", "json"], default="text", help="text (default): one aligned line per value; json")
    sh.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    sh.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="bind a graph input's dims (repeatable); ? keeps the model's dim, e.g. input=1,3,?,512",
    )

    r = sub.add_parser("rules", help="list the rules, or print one rule's documentation")
    r.add_argument("code", nargs="?")
    r.add_argument("--format", choices=["text", "json"], default="text")

    s = sub.add_parser("suppress", help="record a suppression (onnxlint:ignore) in a model's metadata")
    s.add_argument("model", metavar="MODEL")
    s.add_argument("codes", nargs="+", metavar="CODE[@NODE]")
    s.add_argument("--output", "-o", metavar="OUT", help="write the model with the suppression here")
    s.add_argument("--in-place", action="store_true", help="rewrite MODEL itself (atomically)")

    f = sub.add_parser("fix", help="rewrite a model without what the rules find (dead taps, collapsed branches)")
    f.add_argument("model", metavar="MODEL")
    f.add_argument("--output", "-o", metavar="OUT", required=True)
    f.add_argument("--select", metavar="CODES", help="which rules' findings to fix (default: DT001,DT002)")
    f.add_argument("--verify", action="store_true", help="run original and fixed model in onnxruntime and compare outputs")
    f.add_argument("--bench", action="store_true", help="time original vs fixed model in onnxruntime")
    f.add_argument("--bench-runs", type=int, default=20, metavar="N", help="timed runs per model for --bench (median; default 20)")
    f.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...")
    f.add_argument("--format", choices=["text", "json"], default="text")

    v = sub.add_parser("verify", help="confirm each DT001 finding by execution in onnxruntime")
    v.add_argument("model", metavar="MODEL")
    v.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...")
    v.add_argument("--format", choices=["text", "json"], default="text")

    sc = sub.add_parser("scan", help="lint a model zoo: parallel isolated workers, JSON Lines stream, resumable, summary")
    sc.add_argument("paths", nargs="+", metavar="DIR|LIST_FILE", help="folders (searched for *.onnx), list files (one path a line; - for stdin) or models")
    sc.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="worker processes (default: the number of usable cores)")
    sc.add_argument("--format", choices=["jsonl", "json", "text", "csv"], default="jsonl", help="jsonl (default) streams one object per file; the others are written at the end")
    sc.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout (jsonl: as results come; others: atomically at the end)")
    sc.add_argument("--resume", action="store_true", help="continue the scan recorded in --output (jsonl): skip files recorded there and unchanged")
    sc.add_argument("--retry-errors", action="store_true", help="with --resume: analyze again the files recorded with an error")
    sc.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="time limit per file (default: 120; 0: none)")
    sc.add_argument("--max-memory", default=None, metavar="SIZE", help="address-space limit per worker, e.g. 4G, 512M, none (default: 8G)")
    sc.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary on stderr")
    sc.add_argument("--dask", metavar="ADDRESS", help="run the files on this Dask scheduler (e.g. tcp://host:8786) instead of local workers")
    sc.add_argument("--select", metavar="CODES", help="comma-separated rule codes or prefixes (default: all)")
    sc.add_argument("--ignore", metavar="CODES", help="comma-separated rule codes or prefixes to skip")
    sc.add_argument("--fail-on", choices=["info", "warning", "error"], default=None, help="lowest severity that makes the exit code 1 (default: warning)")
    sc.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (failed files still exit 2)")
    sc.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...", help="bind a graph input's dims (repeatable)")
    sc.add_argument("--config", metavar="FILE", help="read settings from this pyproject.toml / setup.cfg / onnxlint.toml")
    sc.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    sc.add_argument("--max-nodes", type=int, default=None, metavar="N", help="refuse models with more than N nodes in all graphs (default: 2000000)")
    return p


def parse_input_shapes(specs, keep: bool = False) -> dict:
    """``["x=1,3,224,224"]`` -> ``{"x": [1, 3, 224, 224]}`` (``x`` also separates dims).

    With ``keep``, a dim written ``?`` means "keep the model's dim" and is returned as
    None (``input=1,3,?,512`` -> ``[1, 3, None, 512]``); commands that need every dim
    concrete (``fix``, ``verify``: they run the model) leave ``keep`` off and refuse it."""
    out = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        if not sep or not name:
            raise UsageError(f"--input-shape {spec!r}: expected NAME=D0,D1,...")
        values = []
        or_keep = " or ?" if keep else ""
        for d in dims.replace("x", ",").split(","):
            d = d.strip()
            if not d:
                continue
            if d == "?":
                if not keep:
                    raise UsageError(f"--input-shape {spec!r}: '?' (keep the model's dim) is not supported by this command; give every dim")
                values.append(None)
                continue
            try:
                v = int(d)
            except ValueError:
                raise UsageError(f"--input-shape {spec!r}: dims must be integers{or_keep}") from None
            if v < 0:
                raise UsageError(f"--input-shape {spec!r}: dims must be non-negative integers{or_keep}")
            values.append(v)
        if not values:
            raise UsageError(f"--input-shape {spec!r}: dims must be non-negative integers{or_keep}")
        out[name] = values
    return out


def discover(paths):
    """Expand folders into their *.onnx files (sorted, recursive, symlinked folders
    not followed); files are taken as given."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, names in os.walk(p, followlinks=False):
                dirs.sort()
                for n in sorted(names):
                    full = os.path.join(root, n)
                    if n.endswith(".onnx") and not os.path.isdir(full):
                        found.append(full)
            files.extend(found)
        else:
            files.append(p)
    return files


def _codes(s):
    if s is None:
        return None
    return [c.strip() for c in s.split(",") if c.strip()]


def lint_settings(args):
    """Configuration file + command line (which wins) -> ``(cfg, input_shapes, select,
    ignore, rules)``; shared by ``check`` and ``scan``.  Raises UsageError."""
    from rules import select_rules

    from .config import ConfigError, load_config

    try:
        cfg = load_config(args.config, isolated=args.isolated)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    input_shapes = dict(cfg.input_shapes)
    input_shapes.update(parse_input_shapes(args.input_shape, keep=True))
    select = _codes(args.select) if args.select is not None else cfg.select
    ignore = (cfg.ignore or []) + (_codes(args.ignore) or [])
    try:
        rules = select_rules(select, ignore)
    except KeyError as e:
        raise UsageError(f"unknown rule code or prefix {e.args[0]!r} (see `onnxlint rules`)") from None
    return cfg, input_shapes, select, ignore, rules


def cmd_check(args) -> int:
    from .findings import Report, severity_rank
    from .report import render
    from .runner import lint_file

    cfg, input_shapes, select, ignore, rules = lint_settings(args)
    fail_on = args.fail_on or cfg.fail_on or "warning"
    fmt = args.format or cfg.format or "text"
    max_nodes = args.max_nodes if args.max_nodes is not None else cfg.max_nodes
    baseline = None
    if args.baseline:
        from .baseline import BaselineError, read_baseline

        try:
            baseline = read_baseline(args.baseline)
        except BaselineError as e:
            raise UsageError(str(e)) from None
    files = discover(args.paths)
    report = Report()
    for path in files:
        fr = lint_file(path, rules, input_shapes, display_path=path, options=cfg.rule_options, max_nodes=max_nodes)
        cfg.apply_per_path_ignores(fr)
        report.files.append(fr)
    if baseline is not None:
        from .baseline import apply_baseline

        apply_baseline(report, baseline)
    if args.write_baseline:
        from .baseline import write_baseline

        write_baseline(args.write_baseline, report)
    color = args.color == "always" or (args.color == "auto" and not args.output and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    text = render(report, fmt, color=color)
    if args.output:
        from .atomic import write_text_atomic

        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if args.output or fmt != "text":
        # The report went to a file or is machine-readable: still tell the person.
        for r in report.errors:
            _print_file_error(r)
    if not files:
        print("onnxlint: no .onnx files found in " + ", ".join(_safe(p) for p in args.paths), file=sys.stderr)
        return EXIT_ERROR
    if report.errors:
        return EXIT_ERROR
    if args.write_baseline:
        return EXIT_OK
    threshold = severity_rank(fail_on)
    if not args.exit_zero and any(severity_rank(f.severity) >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _safe(s) -> str:
    from .report.text import escape

    return escape(str(s))


def _print_file_error(r) -> None:
    """A file that could not be analyzed (an error ``FileResult``): ``path: kind: message``, one line on stderr."""
    print(f"{_safe(r.path)}: {r.error['kind']}: {_safe(r.error['message'])}", file=sys.stderr)


class _KeepModel:
    """A rule that finds nothing and keeps the analyzed model: ``shapes`` reuses
    ``lint_file`` (loading, --max-nodes, and its classification of every failure
    into one error kind) exactly as ``check`` runs it."""

    CODE = "shapes"

    def __init__(self):
        self.model = None

    def check(self, model, options):
        self.model = model
        return []


def cmd_shapes(args) -> int:
    from .report.shapes import render_shapes
    from .runner import lint_file

    input_shapes = parse_input_shapes(args.input_shape, keep=True)
    keeper = _KeepModel()
    result = lint_file(args.model, [keeper], input_shapes, display_path=args.model)
    if result.status == "error":
        _print_file_error(result)
        return EXIT_ERROR
    try:
        text = render_shapes(keeper.model, args.format, file=args.model)
    except Exception as e:  # a bug of ours: still one line, never a traceback
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"{_safe(args.model)}: internal: internal error ({type(e).__name__}: {_safe(msg)}); please report it", file=sys.stderr)
        return EXIT_ERROR
    if args.output:
        from .atomic import write_text_atomic

        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


def cmd_rules(args) -> int:
    import json

    from rules import RULE_MODULES, get_rule

    if args.code:
        code = args.code.upper()
        if code not in RULE_MODULES:
            raise UsageError(f"unknown rule {args.code!r}; known: {', '.join(RULE_MODULES)}")
        mod = get_rule(code)
        if args.format == "json":
            print(json.dumps({"code": mod.CODE, "name": mod.NAME, "severity": mod.SEVERITY, "doc": mod.__doc__}, indent=2))
        else:
            print(f"{mod.CODE} {mod.NAME} (default severity: {mod.SEVERITY})\n")
            print(mod.__doc__.strip())
        return EXIT_OK
    mods = [get_rule(c) for c in RULE_MODULES]
    if args.format == "json":
        print(json.dumps([{"code": m.CODE, "name": m.NAME, "severity": m.SEVERITY, "summary": m.__doc__.strip().splitlines()[0]} for m in mods], indent=2))
    else:
        for m in mods:
            summary = m.__doc__.strip().splitlines()[0].split(":", 1)[-1].strip()
            print(f"{m.CODE}  {m.NAME:<32} {m.SEVERITY:<8} {summary}")
    return EXIT_OK


def cmd_suppress(args) -> int:
    from .suppress import SuppressError, suppress_file

    if bool(args.output) == bool(args.in_place):
        raise UsageError("suppress: give exactly one of --output OUT or --in-place")
    try:
        added = suppress_file(args.model, args.codes, args.model if args.in_place else args.output)
    except SuppressError as e:
        print(f"{_safe(args.model)}: {e.kind}: {_safe(e.message)}", file=sys.stderr)
        return EXIT_ERROR
    target = args.model if args.in_place else args.output
    print(f"{_safe(target)}: onnxlint:ignore = {_safe(added)}")
    return EXIT_OK


def cmd_fix(args) -> int:
    from .fix import cmd_fix as run

    return run(args)


def cmd_verify(args) -> int:
    from .verify import cmd_verify as run

    return run(args)


def cmd_scan(args) -> int:
    from .scan import run

    return run(args)


COMMANDS = {"check": cmd_check, "shapes": cmd_shapes, "rules": cmd_rules, "suppress": cmd_suppress, "fix": cmd_fix, "verify": cmd_verify, "scan": cmd_scan}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cmd = COMMANDS.get(args.command)
        if cmd is None:
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return cmd(args)
    except UsageError as e:
        print(f"onnxlint: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        print(f"onnxlint: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("onnxlint: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
