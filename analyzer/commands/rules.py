"""``onnxlint rules [CODE]``: the rule list (with each rule's origin: built-in or
which plugin), or one rule's documentation."""
from __future__ import annotations

from analyzer.common import EXIT_OK, UsageError


def _summary(rule) -> str:
    return rule.__doc__.strip().splitlines()[0]


def run(args) -> int:
    import json

    from analyzer.linter.registry import get_rule, origin, rule_codes

    codes = rule_codes()
    if args.code:
        code = args.code.upper()
        if code not in codes:
            raise UsageError(f"unknown rule {args.code!r}; known: {', '.join(codes)}")
        from analyzer.linter.ruledoc import rule_doc

        rd = rule_doc(code)  # the same text as SARIF help and the docs site's rule page
        if args.format == "json":
            print(json.dumps({"code": rd.code, "name": rd.name, "severity": rd.severity, "origin": rd.origin, "doc": rd.doc}, indent=2))
        else:
            print(rd.text())
        return EXIT_OK
    mods = [get_rule(c) for c in codes]
    if args.format == "json":
        print(json.dumps([{"code": m.CODE, "name": m.NAME, "severity": m.SEVERITY, "origin": origin(m.CODE), "summary": _summary(m)} for m in mods], indent=2))
    else:
        cw = max([len(m.CODE) for m in mods] + [5])
        ow = max([len(origin(m.CODE)) for m in mods] + [8])
        for m in mods:
            summary = _summary(m).split(":", 1)[-1].strip()
            print(f"{m.CODE:<{cw}}  {m.NAME:<32} {m.SEVERITY:<8} {origin(m.CODE):<{ow}} {summary}")
    return EXIT_OK
