"""Command line: ``onnxlint check|rules`` (also ``python -m analyzer``).

Exit codes (as ruff/flake8 users expect):
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  a file could not be analyzed, or the command line is wrong
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


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
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--output", "-o", metavar="FILE", help="write the report here (atomically) instead of stdout")
    c.add_argument("--select", metavar="CODES", help="comma-separated rule codes or prefixes (default: all)")
    c.add_argument("--ignore", metavar="CODES", help="comma-separated rule codes or prefixes to skip")
    c.add_argument("--fail-on", choices=["info", "warning", "error"], default="warning", help="lowest severity that makes the exit code 1 (default: warning)")
    c.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (errors still exit 2)")
    c.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="bind a graph input's dims (repeatable), e.g. input=1,3,224,224; binds its symbols everywhere",
    )
    c.add_argument("--color", choices=["auto", "always", "never"], default="auto")

    r = sub.add_parser("rules", help="list the rules, or print one rule's documentation")
    r.add_argument("code", nargs="?")
    r.add_argument("--format", choices=["text", "json"], default="text")
    return p


def parse_input_shapes(specs) -> dict:
    out = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        if not sep or not name:
            raise UsageError(f"--input-shape {spec!r}: expected NAME=D0,D1,...")
        try:
            values = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            raise UsageError(f"--input-shape {spec!r}: dims must be integers") from None
        if not values or any(v < 0 for v in values):
            raise UsageError(f"--input-shape {spec!r}: dims must be non-negative integers")
        out[name] = values
    return out


def discover(paths):
    """Expand folders into their *.onnx files (sorted, recursive, symlinked folders
    not followed); files are taken as given.  Returns (files, errors)."""
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
    return [c for c in (s or "").split(",") if c.strip()] or None


def cmd_check(args) -> int:
    from rules import select_rules

    from .findings import Report, severity_rank
    from .report import render
    from .runner import lint_file

    input_shapes = parse_input_shapes(args.input_shape)
    try:
        rules = select_rules(_codes(args.select), _codes(args.ignore))
    except KeyError as e:
        raise UsageError(f"unknown rule code or prefix {e.args[0]!r} (see `onnxlint rules`)") from None
    files = discover(args.paths)
    report = Report()
    for path in files:
        report.files.append(lint_file(path, rules, input_shapes, display_path=path))
    color = args.color == "always" or (args.color == "auto" and not args.output and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    text = render(report, args.format, color=color)
    if args.output:
        from .atomic import write_text_atomic

        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if args.output or args.format != "text":
        # The report went to a file or is machine-readable: still tell the person.
        for r in report.errors:
            print(f"{_safe(r.path)}: {r.error['kind']}: {_safe(r.error['message'])}", file=sys.stderr)
    if not files:
        print("onnxlint: no .onnx files found in " + ", ".join(_safe(p) for p in args.paths), file=sys.stderr)
        return EXIT_ERROR
    if report.errors:
        return EXIT_ERROR
    threshold = severity_rank(args.fail_on)
    if not args.exit_zero and any(severity_rank(f.severity) >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _safe(s) -> str:
    from .report.text import escape

    return escape(str(s))


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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "rules":
            return cmd_rules(args)
        parser.print_help(sys.stderr)
        return EXIT_ERROR
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
