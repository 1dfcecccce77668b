"""Coverage records: what a run could not check, as data (not only as a note).

A note is a sentence for a person; an :class:`Unchecked` record says *what* was
left unchecked, *where*, and *why*, so that every output format can show it and a
rule can turn it into findings (a CI gate on coverage).  The type lives at the
graph layer, below every stage that makes records and light to import (rules and
findings import it): records are made by the shape engine, by rules (``AnalyzedModel.record_unchecked``: what a rule could not decide) and by the
linter (a suppression entry that matched no finding).  Every record comes with
the note it always had; the notes keep their text.

Kinds (``KINDS``; a rule may record a kind of its own, e.g. a kind per construct
it checks, such as ``unchecked-conv``):

* ``unknown-op``: an operator neither onnxlint nor onnx knows (a custom domain such
  as ``com.microsoft``, or an unknown name): its outputs, and every shape computed
  from them, are unknown.  One record per operator type (``count`` its nodes; the
  first node named).
* ``shape-error``: a shape function found the node's inputs or attributes
  inconsistent with the operator's definition; its outputs are unknown.
* ``shape-function-failed``: a shape function of ours failed (a bug; please report it).
* ``onnx-fallback-failed``: onnx's own shape inference, asked for the ops we have no
  shape function for, failed or was stopped (crash, time or memory limit).
* ``skipped-subgraph``: a control-flow body or a function call not analyzed
  (nesting too deep, a recursive function, the expansion budget spent).
* ``stale-suppression``: an ``onnxlint:ignore`` entry of a rule that ran which
  matched no finding.

Not records: sizes that are symbolic (a dynamic input dim is a fact about the
model, not a gap; rules report those conditionally), and notes about what a file
declares (those are the validity rules' business).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Unchecked"]

KINDS = (
    "unknown-op",
    "shape-error",
    "shape-function-failed",
    "onnx-fallback-failed",
    "skipped-subgraph",
    "stale-suppression",
)


@dataclass
class Unchecked:
    """One thing not checked.

    * ``kind``: see the module docstring (or a rule's own kind).
    * ``message``: one line saying what was not checked and why (names from the
      model quoted as the notes quote them).
    * ``graph``: the graph path (``"main"``, a body, a function), or None for the file.
    * ``node``: the node as reports name it (its name, or ``<op_type>#<index>``), or None.
    * ``node_index``: the node's index in its graph (-1: none).
    * ``op_type``, ``domain``: the node's operator ("" when no node).
    * ``reason``: the short cause (``"input rank unknown"``), "" when the message says it all.
    * ``count``: how many nodes the record stands for (an unknown operator used N times: N).
    * ``source``: who recorded it: ``"shapes"``, ``"linter"``, or the code of the rule
      that could not check it.
    """

    kind: str
    message: str
    graph: str | None = None
    node: str | None = None
    node_index: int = -1
    op_type: str = ""
    domain: str = ""
    reason: str = ""
    count: int = 1
    source: str = ""

    @property
    def key(self) -> str:
        """Identity (16 hex digits): what a finding reporting the record names (see
        ``analyzer.findings.UNCHECKED_DETAIL``).  Kind, source, graph, node, operator and
        reason; the message too for a record of no node (a stale suppression's entry).
        Not the node's position nor the count, so it is stable as a model is edited."""
        import hashlib

        parts = [self.kind, self.source, self.graph or "", self.node or "", self.op_type, self.reason]
        if not self.node:
            parts.append(self.message)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "message": self.message,
            "graph": self.graph,
            "node": self.node,
            "node_index": self.node_index,
            "op_type": self.op_type,
            "domain": self.domain,
            "reason": self.reason,
            "count": self.count,
            "source": self.source,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Unchecked:
        fields = ("kind", "message", "graph", "node", "node_index", "op_type", "domain", "reason", "count", "source")
        return cls(**{k: d[k] for k in fields if k in d})
