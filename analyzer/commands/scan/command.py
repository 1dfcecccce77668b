"""``onnxlint scan``: lint a whole model zoo, in parallel and isolated, resumable.

    discover (scan_discover) -> skip what --resume already has -> analyze each file
    in a worker process (scan_pool, or scan_dask on a cluster) -> stream JSON Lines
    (scan_output) -> progress (scan_progress) -> summary table and exit code
    (scan_summary)

The per-file objects are exactly those of ``onnxlint check --format json``: a
scan changes how files are run, never what is found in them.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys

from analyzer.commands.base import lint_settings
from analyzer.common import EXIT_ERROR, EXIT_OK, UsageError

__all__ = ["run", "parse_size", "DEFAULT_TIMEOUT", "DEFAULT_MAX_MEMORY"]

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_MEMORY = "8G"
FORMATS = ("jsonl", "json", "text", "full", "csv", "junit", "gitlab")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def parse_size(text) -> int | None:
    """``4G``, ``512M``, ``1.5G``, ``1073741824`` -> bytes (binary units); ``0`` or
    ``none`` -> None (no limit)."""
    if str(text).strip().lower() in ("0", "none", "unlimited"):
        return None
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"--max-memory {text!r}: expected a size such as 4G, 512M or none")
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2).upper()]
    n = int(float(m.group(1)) * (1 << shift))
    if n < (64 << 20):
        raise UsageError(f"--max-memory {text!r}: at least 64M is needed to start a worker")
    return n


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def _settings(args):
    from analyzer.commands.scan import worker as scan_worker

    resolved = lint_settings(args)
    cfg, input_shapes, select, ignore, rules = resolved.cfg, resolved.input_shapes, resolved.select, resolved.ignore, resolved.rules
    if cfg.path:
        cfg = dataclasses.replace(cfg, path=os.path.abspath(cfg.path))
    settings = scan_worker.Settings(
        select=select,
        ignore=ignore,
        input_shapes=input_shapes,
        rule_options=cfg.rule_options,
        max_nodes=args.max_nodes if args.max_nodes is not None else cfg.max_nodes,
        config=cfg if (cfg.per_path_ignores or cfg.input_shapes or cfg.per_path_input_shapes) else None,
        cwd=os.getcwd(),
        max_memory=parse_size(DEFAULT_MAX_MEMORY if args.max_memory is None else args.max_memory),
        analyze=scan_worker.DEFAULT_ANALYZE,
    )
    settings.exclude, settings.force_exclude = resolved.exclude, resolved.force_exclude  # for discovery only
    return settings, [r.CODE for r in rules], args.fail_on or cfg.fail_on or "warning"


def _check_args(args):
    if args.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if args.resume and not (args.output and args.format == "jsonl"):
        raise UsageError("--resume continues a JSON Lines file: give --output FILE (with --format jsonl)")
    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors goes with --resume")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.timeout is not None and args.timeout < 0:
        raise UsageError("--timeout must be >= 0 (0: no limit)")


def _plan(candidates, old, retry_errors):
    """Split candidates into (kept old lines, candidates to run now)."""
    keep, todo = [], []
    for c in candidates:
        prev = old.get(c.display)
        unchanged = prev is not None and prev[1].get("file") == c.identity
        if unchanged and (prev[1]["status"] == "ok" or not retry_errors):
            keep.append(prev)
        else:
            todo.append(c)
    return keep, todo


def _say(args, text):
    if not args.quiet:
        print(f"onnxlint scan: {text}", file=sys.stderr, flush=True)


def run(args) -> int:
    from analyzer.io.atomic import write_text_atomic
    from analyzer.commands.scan.discover import discover
    from analyzer.commands.scan.output import JsonlWriter, read_jsonl, render_csv, render_json, render_report
    from analyzer.commands.scan.pool import PoolError
    from analyzer.commands.scan.progress import Progress
    from analyzer.commands.scan.summary import Summary

    _check_args(args)
    if not args.dask:
        from analyzer.commands.scan.pool import prestart

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # workers analyze one file each: no BLAS thread pools
        prestart()  # the workers' imports (numpy: the variables above) run meanwhile
    settings, rule_codes, fail_on = _settings(args)
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    try:
        found = discover(args.paths, exclude=settings.exclude, force_exclude=settings.force_exclude)
    except OSError as e:
        raise UsageError(f"{e.filename or ''}: {e.strerror or e}") from None
    summary = Summary()
    summary.skipped = found.skipped
    for s in found.skipped:
        _say(args, f"skipped {_safe(s['path'])}: {s['reason']}")
    order = {c.display: i for i, c in enumerate(found.candidates)}

    old = {}
    if args.resume and os.path.exists(args.output):
        old, problems = read_jsonl(args.output)
        if not old and problems["bad-lines"]:  # rewriting it would destroy someone's file
            raise UsageError(f"{args.output}: not a JSON Lines file of onnxlint scan; not resuming into it")
        for what, n in problems.items():
            if n:
                _say(args, f"resume: dropped {n} {what.replace('-', ' ')} of {_safe(args.output)}")
    keep, todo = _plan(found.candidates, old, args.retry_errors)
    gone = len(set(old) - set(order))
    if gone:
        _say(args, f"resume: dropped {gone} record(s) of files that are no longer found")

    collected = []  # whole-scan formats only
    writer = None
    if args.format == "jsonl":
        if args.resume:
            write_text_atomic(args.output, "".join(line + "\n" for line, _ in keep))
        writer = JsonlWriter(args.output, append=bool(args.resume)) if args.output else JsonlWriter(stream=sys.stdout)
    for _, rec in keep:
        summary.add(rec)
        if writer is None:
            collected.append(rec)

    def emit(cand, rec):
        if cand.identity is not None:
            rec["file"] = dict(cand.identity)
        if writer is not None:
            writer.write(rec)
        else:
            collected.append(rec)
        summary.add(rec)
        progress.update(rec)

    progress = Progress(len(todo), quiet=args.quiet, already=len(keep) if args.resume else 0)
    results = None
    try:
        for c in todo:
            if c.record is not None:
                emit(c, dict(c.record))
        tasks = [c for c in todo if c.record is None]
        if tasks:
            if args.dask:
                from analyzer.commands.scan.dask import dask_map

                results = dask_map(args.dask, tasks, settings, timeout)
            else:
                from analyzer.commands.scan.pool import WorkerPool

                results = WorkerPool(settings, args.jobs or default_jobs(), timeout).imap(tasks)
            for cand, rec in results:
                emit(cand, rec)
    except PoolError as e:
        print(f"onnxlint: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if results is not None:
            results.close()  # stops the workers now, also on Ctrl-C
        progress.close()
        if writer is not None:
            writer.close()

    table = summary.table()
    if args.format != "jsonl":
        collected.sort(key=lambda r: order.get(r["path"], len(order)))
        if args.format == "json":
            text = render_json(collected, summary)
        elif args.format == "csv":
            text = render_csv(collected, rule_codes)
        else:
            text = render_report(args.format, collected, table)
        if args.output:
            write_text_atomic(args.output, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if not (args.format in ("text", "full") and not args.output) and not args.quiet:
        sys.stderr.write(table)
    if not found.candidates and found.excluded:
        print("onnxlint: every file given matches exclude (--force-exclude): nothing to scan", file=sys.stderr)
        return EXIT_OK  # as check: a pre-commit style run given only excluded files passes
    if not found.candidates:
        print("onnxlint: no .onnx files found in " + ", ".join(_safe(p) for p in args.paths), file=sys.stderr)
        return EXIT_ERROR
    return summary.exit_code(fail_on, args.exit_zero)


def _safe(s) -> str:
    from analyzer.report.text import escape

    return escape(str(s))
