"""MkDocs hook (``hooks:`` in ``mkdocs.yml``): one page per rule, generated at build time.

The pages are not files in ``docs/``: they are made from the rule registry on every build,
through ``analyzer.linter.ruledoc.describe`` -- the function ``onnxlint rules CODE`` and SARIF's
``help`` use -- so the site, the command line and code scanning show the same text.  Only
built-in rules get a page (an installed plugin documents itself).  Needs no network and no
MkDocs plugin: plain MkDocs >= 1.6 (``File.generated``).
"""
from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:  # build from a checkout even when onnxlint is not installed
    sys.path.insert(0, _ROOT)

# Everything between this marker and the end of a rule page is the rule's docstring, verbatim:
# tests/test_docs.py compares it with what `onnxlint rules CODE` prints.
DOC_MARKER = "<!-- the rule's own documentation (onnxlint rules {code}) -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def builtin_rule_docs() -> list:
    from analyzer.linter.registry import BUILTIN, all_rules
    from analyzer.linter.ruledoc import describe

    return [rd for rd in map(describe, all_rules()) if rd.origin == BUILTIN]


def rule_page(rd) -> str:
    """The markdown page of one rule: a small table of facts, then its docstring as it is."""
    options = "<br>".join(f"`{name}`: {_cell(desc)}" for name, desc in rd.options) or "none"
    fix = f"yes: `onnxlint fix MODEL -o OUT --select {rd.code}`" if rd.fixable else "no"
    verify = "yes (`onnxlint verify MODEL`)" if rd.verifiable else "no"
    lines = [
        f"# {rd.code} {rd.name}",
        "",
        "| | |",
        "| --- | --- |",
        f"| default severity | {rd.severity} |",
        f"| fix | {fix} |",
        f"| verify by execution | {verify} |",
        f"| reads weight values | {'yes (within a budget it documents)' if rd.reads_weights else 'no: the graph only'} |",
        f"| options (`[tool.onnxlint.rules.{rd.code}]`) | {options} |",
        "",
        f"`onnxlint rules {rd.code}` prints the text below, and SARIF reports carry it as the "
        f"rule's help. Back to [all rules](index.md).",
        "",
        DOC_MARKER.format(code=rd.code),
        "",
        rd.doc,
        "",
    ]
    return "\n".join(lines)


def index_page(docs) -> str:
    lines = [
        "# Rules",
        "",
        f"{len(docs)} built-in rules. This page and each rule's page are generated from the rules "
        "themselves when the site is built; `onnxlint rules` prints the same list and "
        "`onnxlint rules CODE` the same documentation. Select them with `--select` / `--ignore` "
        "(codes or prefixes: `DT`, `MV0`, `WS001`). How the rules are checked, measured and "
        "mapped to onnx.checker: [Rules in depth](../rules-in-depth.md).",
        "",
        "| code | name | severity | fix | what it finds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rd in docs:
        lines.append(
            f"| [{rd.code}]({rd.code}.md) | {rd.name} | {rd.severity} | {'yes' if rd.fixable else 'no'} "
            f"| {_cell(rd.summary)} |"
        )
    lines.append("")
    return "\n".join(lines)


def on_files(files, config):
    from mkdocs.structure.files import File

    docs = builtin_rule_docs()
    files.append(File.generated(config, "rules/index.md", content=index_page(docs)))
    for rd in docs:
        files.append(File.generated(config, f"rules/{rd.code}.md", content=rule_page(rd)))
    return files
