"""``onnxlint check --show-settings PATH...``: which configuration file was used and the
settings resolved for each PATH (what ``check`` would do with it), then exit 0."""
from __future__ import annotations

import sys

from analyzer.common import EXIT_OK

__all__ = ["show_settings", "describe"]


def _dims(dims) -> str:
    return ",".join("?" if d is None else str(d) for d in dims)


def _shapes(shapes) -> str:
    return "; ".join(f"{k}={_dims(v)}" for k, v in shapes.items()) or "none"


def _rules_text(codes, every) -> str:
    if len(codes) > len(every) // 2:
        off = [c for c in every if c not in codes]
        return f"{len(codes)} of {len(every)}: all" + (f" but {', '.join(off)}" if off else "")
    return f"{len(codes)} of {len(every)}: {', '.join(codes) or 'none'}"


def describe(args, settings, path) -> list:
    from analyzer.linter.registry import rule_codes
    from analyzer.linter.runner import DEFAULT_MAX_NODES

    cfg = settings.cfg
    if cfg.path:
        source = cfg.path
    elif getattr(args, "isolated", False):
        source = "none (--isolated)"
    else:
        source = "none found (defaults)"

    def origin(cli, conf):
        return "command line" if cli is not None else ("config" if conf is not None else "default")

    codes = [r.CODE for r in settings.rules]
    excluded = settings.exclude.match(path) if settings.exclude is not None else None
    if excluded is None:
        excl = "no"
    elif settings.force_exclude:
        excl = f"yes, by {excluded!r} (skipped: --force-exclude)"
    else:
        excl = f"yes, by {excluded!r} (skipped in folder walks; linted when named on the command line unless --force-exclude)"
    lines = [
        f"Settings for {path}",
        f"  config file      = {source}",
        f"  project root     = {cfg.root}  (globs are relative to it)",
        f"  excluded         = {excl}",
        f"  exclude          = {', '.join(settings.exclude.patterns) if settings.exclude is not None else ''}",
        f"  rules            = {_rules_text(codes, rule_codes())}",
        f"  fail-on          = {args.fail_on or cfg.fail_on or 'warning'}  ({origin(args.fail_on, cfg.fail_on)})",
        f"  format           = {args.format or cfg.format or 'text'}  ({origin(args.format, cfg.format)})",
        f"  max-nodes        = {args.max_nodes if args.max_nodes is not None else (cfg.max_nodes or DEFAULT_MAX_NODES)}  ({origin(args.max_nodes, cfg.max_nodes)})",
        f"  input-shape      = {_shapes(settings.input_shapes)}  (command line: must fit)",
        f"  configured shape = {_shapes(settings.config_shapes_for(path))}  (config: applied where it fits the model)",
        f"  per-path-ignores = {', '.join(cfg.ignores_for(path)) or 'none'}",
    ]
    for code, opts in sorted(cfg.rule_options.items()):
        for opt, value in sorted(opts.items()):
            lines.append(f"  rules.{code}.{opt} = {value}")
    return lines


def show_settings(args, settings) -> int:
    out = []
    for path in args.paths:
        out.extend(describe(args, settings, path))
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK
