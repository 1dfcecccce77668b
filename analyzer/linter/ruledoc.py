"""A rule's documentation, from one place.

``onnxlint rules CODE``, SARIF's ``reportingDescriptor`` (``help``, short and full
description) and the documentation site's generated rule pages (``scripts/mkdocs_hooks.py``)
all read a rule's text through :func:`describe`, so the three cannot disagree: the text is
the rule module's own docstring, stripped, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RuleDoc", "describe", "rule_doc"]


@dataclass(frozen=True)
class RuleDoc:
    code: str
    name: str
    severity: str
    origin: str
    doc: str          # the rule's docstring, stripped: markdown sections "## What it does"...
    fixable: bool     # has fix_findings (``onnxlint fix``)
    verifiable: bool  # verify can prove its findings (its own verify_findings, or through its fix)
    reads_weights: bool
    options: tuple    # ((option name, description), ...)

    @property
    def summary(self) -> str:
        """The first line of the docstring after ``CODE name:``."""
        first = self.doc.splitlines()[0] if self.doc else self.name
        return first.split(":", 1)[-1].strip()

    @property
    def header(self) -> str:
        return f"{self.code} {self.name} (default severity: {self.severity}; {self.origin})"

    def text(self) -> str:
        """What ``onnxlint rules CODE`` prints: the header line, a blank line, the docstring."""
        return f"{self.header}\n\n{self.doc}"

    def section(self, title: str) -> str:
        """The text of one ``## title`` section, joined into one paragraph ('' if none)."""
        out, inside = [], False
        for line in self.doc.splitlines():
            if line.startswith("## "):
                inside = line[3:].strip() == title
                continue
            if inside:
                out.append(line)
        return " ".join(" ".join(out).split())


def describe(rule) -> RuleDoc:
    """The documentation of a rule object (a module or plugin object from the registry)."""
    return RuleDoc(
        code=rule.CODE,
        name=rule.NAME,
        severity=rule.SEVERITY,
        origin=getattr(rule, "ORIGIN", "built-in"),
        doc=(rule.__doc__ or "").strip(),
        fixable=callable(getattr(rule, "fix_findings", None)),
        verifiable=callable(getattr(rule, "verify_findings", None)) or callable(getattr(rule, "fix_findings", None)),
        reads_weights=bool(getattr(rule, "READS_WEIGHTS", False)),
        options=tuple(sorted((getattr(rule, "OPTIONS", None) or {}).items())),
    )


def rule_doc(code: str) -> RuleDoc:
    """The documentation of the rule with this code (``KeyError`` if there is none)."""
    from analyzer.linter.registry import get_rule

    return describe(get_rule(code))
