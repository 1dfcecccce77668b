"""``onnxlint rules [CODE]``: the rule list, or one rule's documentation."""
from __future__ import annotations

from analyzer.common import EXIT_OK, UsageError


def run(args) -> int:
    import json

    from analyzer.linter.registry import RULE_MODULES, get_rule

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
