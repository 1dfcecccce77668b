"""What the commands share beyond ``analyzer.common``: resolving the lint settings
(configuration + command line), finding model files, and reporting a failed file."""
from __future__ import annotations

import os
import sys

from analyzer.common import LintSettings, UsageError, parse_input_shapes, split_codes

__all__ = ["discover", "lint_settings", "safe", "print_file_error", "write_output"]


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


def lint_settings(args):
    """Configuration file + command line (which wins) -> ``LintSettings``; shared by
    ``check`` and ``scan``.  Raises UsageError."""
    from analyzer.linter.registry import select_rules

    from analyzer.linter.config import ConfigError, load_config

    try:
        cfg = load_config(args.config, isolated=args.isolated)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    input_shapes = dict(cfg.input_shapes)
    input_shapes.update(parse_input_shapes(args.input_shape, keep=True))
    select = split_codes(args.select) if args.select is not None else cfg.select
    ignore = (cfg.ignore or []) + (split_codes(args.ignore) or [])
    try:
        rules = select_rules(select, ignore)
    except KeyError as e:
        raise UsageError(f"unknown rule code or prefix {e.args[0]!r} (see `onnxlint rules`)") from None
    return LintSettings(cfg, input_shapes, select, ignore, rules)


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
