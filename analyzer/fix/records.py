"""What a rewrite reports: one :class:`Change` per finding (fixed or refused), and the
:class:`RewriteResult` of a whole model.  A rule's fix creates the changes; the text of a
fixed change comes from the rule too (``Change.render``), so nothing here knows a rule."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Change", "Refused", "RewriteResult"]


class Refused(Exception):
    """A finding that is not rewritten; the message is the reason in the report."""


@dataclass
class Change:
    """One finding as ``fix`` handled it.

    ``before`` / ``after`` are the rule's own descriptions (JSON data); ``branches`` the
    nodes a change joined (None: the rule does not join nodes); ``merged_node`` the node
    they became (or, for a node that was later joined with others, the node it became part
    of).  ``render(change, esc) -> str`` is the rule's text for a fixed change (``esc``
    makes a model's string safe for one line); a refused change reads as its reason."""

    rule: str
    node: str
    op_type: str
    status: str  # "fixed" | "refused"
    reason: str | None = None
    before: dict | None = None
    after: dict | None = None
    params_removed: int = 0
    bytes_removed: int = 0
    branches: list | None = None
    merged_node: str | None = None
    render: Callable | None = field(default=None, repr=False, compare=False)

    def text(self, esc: Callable[[str], str] = str) -> str:
        """What follows ``NODE: RULE STATUS: `` in the text report."""
        if self.status != "fixed" or self.render is None:
            return esc(str(self.reason))
        return self.render(self, esc)

    def to_dict(self) -> dict:
        d = {"rule": self.rule, "node": self.node, "op_type": self.op_type, "status": self.status}
        if self.reason is not None:
            d["reason"] = self.reason
        if self.before is not None:
            d["before"], d["after"] = self.before, self.after
        if self.branches is not None:
            d["branches"] = list(self.branches)
        if self.merged_node is not None:
            d["merged_node"] = self.merged_node
        d["params_removed"], d["bytes_removed"] = self.params_removed, self.bytes_removed
        return d


@dataclass
class RewriteResult:
    changes: list
    externalize: set  # names of new main-graph initializers to store externally


def fix_each(rewriter, code: str, findings, fix_one) -> None:
    """``fix_one(rewriter, finding)`` for each finding; one that raises :class:`Refused`
    becomes a refused :class:`Change` with the reason (the rest are still fixed)."""
    for f in findings:
        try:
            fix_one(rewriter, f)
        except Refused as e:
            rewriter.changes.append(Change(code, f.node, f.op_type, "refused", str(e)))

