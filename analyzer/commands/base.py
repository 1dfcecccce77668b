"""What the commands share beyond ``analyzer.common``: resolving the lint settings
(configuration + command line), finding model files, and reporting a failed file."""
from __future__ import annotations

import os
import sys

from analyzer.common import LintSettings, UsageError, parse_input_shapes, split_codes

__all__ = ["discover", "lint_settings", "safe", "print_file_error", "write_output"]


def discover(paths, settings=None):
    """Expand folders into their *.onnx files (sorted, recursive, symlinked folders
    not followed, folders and files matching ``exclude`` skipped); files named are taken
    as given, unless ``--force-exclude`` and excluded (ruff's rule)."""
    excluded = settings.exclude.match if settings is not None and settings.exclude is not None else (lambda _p: None)
    force = settings is not None and settings.force_exclude
    files = []
    for p in paths:
        if os.path.isdir(p):
            if force and excluded(p):
                continue
            found = []
            for root, dirs, names in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not excluded(os.path.join(root, d)))
                for n in sorted(names):
                    full = os.path.join(root, n)
                    if n.endswith(".onnx") and not os.path.isdir(full) and not excluded(full):
                        found.append(full)
            files.extend(found)
        elif not (force and excluded(p)):
            files.append(p)
    return files


def lint_settings(args):
    """Configuration file + command line (which wins) -> ``LintSettings``; shared by
    ``check`` and ``scan``.  Raises UsageError."""
    from analyzer.linter.registry import select_rules

    from analyzer.linter.config import ConfigError, load_config, resolve_selection
    from analyzer.linter.registry import rule_codes

    try:
        cfg = load_config(args.config, isolated=args.isolated)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    if args.select is not None and not split_codes(args.select):  # `--select ,` would silently run no rule
        raise UsageError(f"--select {args.select!r}: no rule code or prefix given (ALL selects every rule)")
    input_shapes = parse_input_shapes(args.input_shape, keep=True)  # the config's: per file
    # ruff's precedence: a --select on the command line replaces the configuration's
    # select, extend-select, ignore and extend-ignore; --extend-select / --ignore add to them
    levels = [
        {"select": cfg.select, "extend_select": cfg.extend_select, "ignore": cfg.ignore, "extend_ignore": cfg.extend_ignore},
        {"select": split_codes(args.select), "extend_select": split_codes(getattr(args, "extend_select", None)), "ignore": split_codes(args.ignore)},
    ]
    codes = rule_codes()
    for lv in levels[1:]:
        for s in (lv["select"] or []) + (lv["extend_select"] or []) + (lv["ignore"] or []):
            if s.upper() != "ALL" and not any(c.startswith(s.upper()) for c in codes):
                raise UsageError(f"unknown rule code or prefix {s!r} (see `onnxlint rules`)")
        for k in ("select", "extend_select", "ignore"):
            lv[k] = [s.upper() for s in lv[k]] if lv[k] is not None else None
    chosen = resolve_selection(codes, levels)
    select, ignore = (chosen, []) if chosen else (["ALL"], ["ALL"])
    rules = select_rules(select, ignore)
    exclude = cfg.path_filter(split_codes(getattr(args, "extend_exclude", None)) or [])
    return LintSettings(cfg, input_shapes, select, ignore, rules, exclude, bool(getattr(args, "force_exclude", False)))


def safe(s) -> str:
    from analyzer.report.text import escape

    return escape(str(s))


def print_file_error(r) -> None:
    """A file that could not be analyzed (an error ``FileResult``): ``path: kind: message``, one line on stderr."""
    print(f"{safe(r.path)}: {r.error['kind']}: {safe(r.error['message'])}", file=sys.stderr)




def write_output(path, text: str) -> None:
    """``text`` to ``path`` atomically, or to stdout when ``path`` is None."""
    if path:
        from analyzer.io.atomic import write_text_atomic

        write_text_atomic(path, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
