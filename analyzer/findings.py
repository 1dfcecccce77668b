"""Findings and reports: plain data that every output format renders."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["SEVERITIES", "Finding", "FileResult", "Report", "severity_rank", "counts_dead_weights"]

SEVERITIES = ("info", "warning", "error")


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev)


def counts_dead_weights(rule: str, details: dict) -> bool:
    """Whether a finding's ``dead_weights`` are dead in the model as given: DT001's,
    except conditional ones (``details.condition``: dead only at some input sizes,
    several per conv).  Every total of dead weights goes through this."""
    return rule == "DT001" and not details.get("condition")


@dataclass
class Finding:
    rule: str
    name: str
    severity: str
    node: str  # node name, or the synthesized <op_type>#<index>
    node_index: int
    graph: str
    op_type: str
    message: str
    details: dict = field(default_factory=dict)
    # Stable identity for baselines and SARIF: rule + the node's name (or, for an
    # unnamed node, its output tensor names) + op type; not the file path, not the
    # node's position, so reordering nodes or renaming the file keeps it.
    fingerprint: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FileResult:
    path: str
    status: str = "ok"  # ok | error
    error: dict | None = None  # {"kind": ..., "message": ...}
    findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    # {"nodes": all nodes incl. subgraphs, "weights": elements of all initializers}
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"path": self.path, "status": self.status}
        if self.error is not None:
            d["error"] = dict(self.error)
        d["findings"] = [f.to_dict() for f in self.findings]
        d["notes"] = list(self.notes)
        d["stats"] = dict(self.stats)
        return d


@dataclass
class Report:
    files: list = field(default_factory=list)

    @property
    def findings(self):
        return [f for r in self.files for f in r.findings]

    @property
    def errors(self):
        return [r for r in self.files if r.status == "error"]

    def dead_weights(self) -> int:
        return sum(int(f.details.get("dead_weights", 0)) for f in self.findings if counts_dead_weights(f.rule, f.details))

    def to_dict(self) -> dict:
        from . import __version__

        return {"tool": {"name": "onnxlint", "version": __version__}, "files": [r.to_dict() for r in self.files]}
