"""``onnxlint check PATH...``: lint model files and folders, render one report, exit by severity."""
from __future__ import annotations

import gc
import os
import sys

from analyzer import common
from analyzer.commands.base import discover, lint_settings, print_file_error, safe, write_output
from analyzer.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, UsageError


def run(args) -> int:
    """``check``, with the cyclic garbage collector paused until the second file (for
    one file: to the end): the start-up imports (every rule, numpy, networkx, onnx's
    classes) create hundreds of thousands of objects and no garbage, and each collection
    meanwhile walks all of them (about a tenth of a small check's time).  ``lint_file``
    pauses it for each file's analysis itself; from the second file on it runs between
    files and for the report as usual.  Under the console script (which leaves with
    ``os._exit``, see ``cli.entry``) the last model is kept to the end and the collector
    stays paused from its analysis on: the first collection after it would walk every
    object of it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args, was_enabled)
    finally:
        if was_enabled and common.KEEP_UNTIL_EXIT is None:  # else cli.entry restores it
            gc.enable()


def _run(args, gc_was_enabled) -> int:
    from analyzer.findings import Report, severity_rank
    from analyzer.report import render
    from analyzer.linter.runner import lint_file

    settings = lint_settings(args)
    cfg, input_shapes, rules = settings.cfg, settings.input_shapes, settings.rules
    if getattr(args, "show_settings", False):
        from analyzer.commands.show_settings import show_settings

        return show_settings(args, settings)
    fail_on = args.fail_on or cfg.fail_on or "warning"
    fmt = args.format or cfg.format or "text"
    statistics, quiet = getattr(args, "statistics", False), getattr(args, "quiet", False)
    from analyzer.report import check_view_options

    problem = check_view_options(fmt, statistics, quiet)
    if problem:
        raise UsageError(problem)
    max_nodes = args.max_nodes if args.max_nodes is not None else cfg.max_nodes
    baseline = None
    if args.baseline:
        from analyzer.linter.baseline import BaselineError, read_baseline

        try:
            baseline = read_baseline(args.baseline)
        except BaselineError as e:
            raise UsageError(str(e)) from None
    files = discover(args.paths, settings)
    report = Report()
    _kept = None  # the last model (see below)
    for i, path in enumerate(files):
        if i == 1 and gc_was_enabled:
            gc.enable()  # start-up is over (lint_file pauses it for each file)
        if i and i == len(files) - 1 and common.KEEP_UNTIL_EXIT is not None:
            gc.disable()  # the console script's last model is never collected (see run)
        # The last file's model is kept until the command returns, and past it for the
        # console script, which leaves without freeing it (cli.entry; for a big graph
        # freeing took seconds).
        fr = lint_file(path, rules, input_shapes, display_path=path, options=cfg.rule_options, max_nodes=max_nodes,
                       config_shapes=settings.config_shapes_for(path), keep_model=i == len(files) - 1)  # fmt: skip
        if i == len(files) - 1:
            fr, _kept = fr
            if common.KEEP_UNTIL_EXIT is not None:
                common.KEEP_UNTIL_EXIT.append(_kept)
        cfg.apply_per_path_ignores(fr)
        report.files.append(fr)
    if args.write_baseline:  # every finding of today, also with --baseline (which refreshes it)
        from analyzer.linter.baseline import write_baseline

        n = write_baseline(args.write_baseline, report)
        if not getattr(args, "quiet", False):
            print(f"onnxlint: {n} finding{'s' if n != 1 else ''} written to {safe(args.write_baseline)}", file=sys.stderr)
    if baseline is not None:
        from analyzer.linter.baseline import apply_baseline

        report.baseline = b = apply_baseline(report, baseline)
        if not getattr(args, "quiet", False):
            print(f"onnxlint: baseline {safe(args.baseline)}: {b['matched']} matched, {b['new']} new, {b['stale']} stale (fixed) entries", file=sys.stderr)
    color = args.color == "always" or (args.color == "auto" and not args.output and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    text = render(report, fmt, color=color, statistics=statistics, quiet=quiet)
    write_output(args.output, text)
    if args.output or fmt not in ("text", "full"):
        # The report went to a file or is machine-readable: still tell the person.
        for r in report.errors:
            print_file_error(r)
    if not files:
        if settings.force_exclude and all(not os.path.isdir(p) and settings.exclude.match(p) for p in args.paths):
            print("onnxlint: every file given matches exclude (--force-exclude): nothing to check", file=sys.stderr)
            return EXIT_OK  # a pre-commit hook given only excluded files passes
        print("onnxlint: no .onnx files found in " + ", ".join(safe(p) for p in args.paths), file=sys.stderr)
        return EXIT_ERROR
    if report.errors:
        return EXIT_ERROR
    if args.write_baseline:
        return EXIT_OK
    threshold = severity_rank(fail_on)
    if not args.exit_zero and any(severity_rank(f.severity) >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK
