"""Command line: ``onnxlint check|shapes|rules|suppress|fix|verify|scan`` (also ``python -m analyzer``).

Exit codes (as ruff/flake8 users expect):
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  a file could not be analyzed, or the command line / configuration is wrong
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from analyzer.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, VERSION as __version__, UsageError, parse_input_shapes  # noqa: F401  (re-exported)
from analyzer.linter.registry import RuleLoadError  # stdlib only at import time: --version stays light

from analyzer.findings import REPORT_FORMATS  # noqa: E402  (stdlib only at import time)

FORMATS = list(REPORT_FORMATS)


def _int_at_least(lo: int):
    """An argparse ``type=``: an integer >= ``lo`` (``--bench-runs 0``, ``--max-nodes -5``
    are refused with one line and exit 2, not taken silently)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


def _seconds(text: str) -> float:
    """An argparse ``type=``: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line (not argparse's usage block), exit 2 (EXIT_ERROR)
        self.exit(EXIT_ERROR, f"onnxlint: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="onnxlint", description="Static analyzer for ONNX models.")
    p.add_argument("--version", action="version", version=f"onnxlint {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="lint model files and folders (recursively for *.onnx)")
    c.add_argument("paths", nargs="+", metavar="PATH", help="model files, and folders searched recursively for *.onnx")
    c.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: text, findings grouped by rule and message with the first few nodes; "
        "full: one line per finding; junit, gitlab: for CI test and code-quality reports)",
    )
    c.add_argument("--statistics", action="store_true", help="a count per rule and severity with the waste they total, instead of the findings (text, full, json)")
    c.add_argument("--quiet", "-q", action="store_true", help="only per-file totals, failed files and the summary line (text, full)")
    c.add_argument("--output", "-o", metavar="FILE", help="write the report here (atomically) instead of stdout")
    c.add_argument("--select", metavar="CODES", help="comma-separated rule codes or prefixes (default: all; replaces the configuration's select and ignore lists)")
    c.add_argument("--extend-select", metavar="CODES", help="rule codes or prefixes to add to the selection")
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
    c.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="colour rule codes in text output (auto: on a terminal, unless NO_COLOR is set)")
    c.add_argument("--config", metavar="FILE", help="read settings from this pyproject.toml / setup.cfg / onnxlint.toml")
    c.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    c.add_argument("--baseline", metavar="FILE", help="report and fail only on findings not recorded in this baseline")
    c.add_argument("--write-baseline", metavar="FILE", help="record today's findings as the baseline (exit 0 unless a file fails)")
    c.add_argument("--max-nodes", type=_int_at_least(1), default=None, metavar="N", help="refuse models with more than N nodes in all graphs (default: 2000000)")
    c.add_argument("--extend-exclude", metavar="GLOBS", help="comma-separated globs that folder walks skip, added to the configuration's exclude")
    c.add_argument("--force-exclude", action="store_true", help="skip excluded files even when named on the command line (for pre-commit)")
    c.add_argument("--show-settings", action="store_true", help="print the configuration file used and the settings resolved for each PATH, then exit 0")

    sh = sub.add_parser("shapes", help="print every value's inferred shape, dtype and where it came from")
    sh.add_argument("model", metavar="MODEL", help="the .onnx model file")
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
    r.add_argument("code", nargs="?", metavar="CODE", help="print this rule's documentation (default: list every rule)")
    r.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json")

    s = sub.add_parser("suppress", help="record a suppression (onnxlint:ignore) in a model's metadata")
    s.add_argument("model", metavar="MODEL", help="the .onnx model file")
    s.add_argument("codes", nargs="+", metavar="CODE[@NODE]", help="a rule code or prefix, for the whole model or (@NODE) one node as check names it")
    s.add_argument("--output", "-o", metavar="OUT", help="write the model with the suppression here")
    s.add_argument("--in-place", action="store_true", help="rewrite MODEL itself (atomically)")

    f = sub.add_parser("fix", help="rewrite a model without what the rules find (every rule that has a fix)")
    f.add_argument("model", metavar="MODEL", help="the .onnx model file (never written)")
    f.add_argument("--output", "-o", metavar="OUT", help="write the fixed model here (atomically; OUT.data too when the input keeps external data); required unless --diff")
    f.add_argument("--diff", "--dry-run", action="store_true", help="print what would change (node, rewrite, parameters and bytes saved) and write nothing; exit 1 when something would be fixed")
    f.add_argument("--select", metavar="CODES", help="which rules' findings to fix: codes or prefixes (default: every rule that has a fix)")
    f.add_argument("--verify", action="store_true", help="run original and fixed model in onnxruntime and compare outputs")
    f.add_argument("--bench", action="store_true", help="time original vs fixed model in onnxruntime")
    f.add_argument("--bench-runs", type=_int_at_least(1), default=20, metavar="N", help="timed runs per model for --bench (median; default 20)")
    f.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...", help="input dims for --verify / --bench runs (repeatable); the fix itself holds for every size")
    f.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json")

    v = sub.add_parser("verify", help="confirm findings by execution in onnxruntime (every rule that has an execution check)")
    v.add_argument("model", metavar="MODEL", help="the .onnx model file")
    v.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...", help="bind a graph input's dims for the analysis and the runs (repeatable); other dims: batch 1, else 16")
    v.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json")

    sc = sub.add_parser("scan", help="lint a model zoo: parallel isolated workers, JSON Lines stream, resumable, summary")
    sc.add_argument("paths", nargs="+", metavar="DIR|LIST_FILE", help="folders (searched for *.onnx), list files (one path a line; - for stdin) or models")
    sc.add_argument("--jobs", "-j", type=_int_at_least(1), default=None, metavar="N", help="worker processes (default: the number of usable cores)")
    sc.add_argument(
        "--format",
        choices=["jsonl", "json", "text", "full", "csv", "junit", "gitlab"],
        default="jsonl",
        help="jsonl (default) streams one object per file; the others are written at the end "
        "(text: findings grouped as check prints them, full: one line per finding)",
    )
    sc.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout (jsonl: as results come; others: atomically at the end)")
    sc.add_argument("--resume", action="store_true", help="continue the scan recorded in --output (jsonl): skip files recorded there and unchanged")
    sc.add_argument("--retry-errors", action="store_true", help="with --resume: analyze again the files recorded with an error")
    sc.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS", help="time limit per file (default: 120; 0: none)")
    sc.add_argument("--max-memory", default=None, metavar="SIZE", help="address-space limit per worker, e.g. 4G, 512M, none (default: 8G)")
    sc.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary on stderr")
    sc.add_argument("--dask", metavar="ADDRESS", help="run the files on this Dask scheduler (e.g. tcp://host:8786) instead of local workers")
    sc.add_argument("--select", metavar="CODES", help="comma-separated rule codes or prefixes (default: all; replaces the configuration's select and ignore lists)")
    sc.add_argument("--extend-select", metavar="CODES", help="rule codes or prefixes to add to the selection")
    sc.add_argument("--ignore", metavar="CODES", help="comma-separated rule codes or prefixes to skip")
    sc.add_argument("--fail-on", choices=["info", "warning", "error"], default=None, help="lowest severity that makes the exit code 1 (default: warning)")
    sc.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (failed files still exit 2)")
    sc.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...", help="bind a graph input's dims (repeatable)")
    sc.add_argument("--config", metavar="FILE", help="read settings from this pyproject.toml / setup.cfg / onnxlint.toml")
    sc.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    sc.add_argument("--max-nodes", type=_int_at_least(1), default=None, metavar="N", help="refuse models with more than N nodes in all graphs (default: 2000000)")
    sc.add_argument("--extend-exclude", metavar="GLOBS", help="comma-separated globs that folder walks skip, added to the configuration's exclude")
    sc.add_argument("--force-exclude", action="store_true", help="skip excluded files even when named on the command line (for pre-commit)")
    co = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    co.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")
    co.set_defaults(build_parser=build_parser)  # the command generates from this very parser
    _add_epilogs(p, sub)
    return p


def _add_epilogs(p, sub) -> None:
    """Examples and exit codes under each ``--help`` (:mod:`analyzer.commands.helptext`)."""
    from analyzer.commands.helptext import EPILOGS, TOP

    p.epilog, p.formatter_class = TOP, argparse.RawDescriptionHelpFormatter
    for name, parser in sub.choices.items():
        if name in EPILOGS:
            parser.epilog, parser.formatter_class = EPILOGS[name], argparse.RawDescriptionHelpFormatter


# command name -> module under analyzer.commands with ``run(args) -> exit code``; imported
# only when that command runs, so ``--version`` and ``rules`` stay light.
COMMANDS = {"check": "check", "shapes": "shapes", "rules": "rules", "suppress": "suppress", "fix": "fix", "verify": "verify", "scan": "scan.command", "completion": "completion"}


# The command ``_main`` ran last (``entry`` leaves early only after ``check``).
_ran = {"command": None}
# Commands after which ``entry`` may leave with ``os._exit``: they start no thread or
# process and leave no file open (the report is written atomically and closed).
FAST_EXIT_COMMANDS = ("check",)


def entry() -> int:
    """The console script (``onnxlint``) and ``python -m analyzer``: :func:`main`, then
    leave.  After ``check`` the process ends with ``os._exit`` once stdout and stderr are
    flushed: Python's own exit would free every object of the last model, module by
    module (tens of ms after a small model, seconds after a million-node graph), for
    nothing; the last model checked is left to it too (:data:`common.KEEP_UNTIL_EXIT`).
    Tests call :func:`main` in-process, which returns as before."""
    import gc

    import analyzer.common as common

    gc_was_enabled = gc.isenabled()
    common.KEEP_UNTIL_EXIT = []
    code = main()
    _leave_now(code)
    common.KEEP_UNTIL_EXIT = None  # an ordinary exit: freed and collected as usual
    if gc_was_enabled:
        gc.enable()
    return code


def _leave_now(code) -> None:
    """``os._exit(code)`` when nothing is left to do at exit; else return (normal exit)."""
    if _ran["command"] not in FAST_EXIT_COMMANDS or not isinstance(code, int):
        return
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return  # coverage, cProfile -m analyzer: they write their results at exit
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return  # a thread to wait for (none of ours: a plugin's)
    if "multiprocessing" in sys.modules:
        return  # its exit handler reaps child processes
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # noqa: BLE001 - a flush that fails: the ordinary exit reports it as today
        return
    os._exit(code)


def main(argv=None) -> int:
    from analyzer.commands.stdout import PipeSafe

    stdout, sys.stdout = sys.stdout, PipeSafe(sys.stdout)  # `onnxlint rules | head -1`: quiet
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _ran["command"] = args.command
    try:
        module = COMMANDS.get(args.command)
        if module is None:
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return importlib.import_module("analyzer.commands." + module).run(args)
    except (UsageError, RuleLoadError) as e:  # RuleLoadError: "plugin 'NAME': ..." (one line)
        print(f"onnxlint: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        print(f"onnxlint: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("onnxlint: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(entry())
