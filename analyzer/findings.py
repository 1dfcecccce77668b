"""Findings and reports: plain data that every output format renders."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from analyzer.graph.coverage import Unchecked

__all__ = [
    "SEVERITIES", "REPORT_FORMATS", "WASTE_KINDS", "UNCHECKED_DETAIL", "Finding", "FileResult", "Report", "Unchecked",
    "severity_rank", "unreported_unchecked",
]  # fmt: skip

SEVERITIES = ("info", "warning", "error")

# The formats a report renders to (``check --format``, the configuration's ``format``):
# text and full are for people (grouped by message shape / one line per finding), the
# others for machines; see analyzer.report.
REPORT_FORMATS = ("text", "full", "json", "sarif", "github", "html", "junit", "gitlab")


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev)


# What a finding can prove does nothing, in the model as given (``Finding.waste``):
# weights (elements), bytes (in the stored dtype), macs (multiply-accumulates per
# inference at the analyzed input size).
WASTE_KINDS = ("weights", "bytes", "macs")

# A finding that reports a coverage record (``FileResult.unchecked``) carries the
# record's ``key`` as ``details[UNCHECKED_DETAIL]``: the formats then show that record
# as the finding, not a second time on its own (``unreported_unchecked``).
UNCHECKED_DETAIL = "unchecked"


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
    # Generic fields that reports and summaries use without knowing the rule:
    # ``related``: other nodes the finding involves, each {"node", "op_type"} (e.g. the
    # other branches of a group); ``waste``: what the finding proves does nothing in the
    # model as given, a subset of WASTE_KINDS -> int (None: not known, e.g. a symbolic
    # batch).  A finding that holds only at some input sizes (``details.condition``)
    # leaves ``waste`` empty, so that no total counts it.
    related: list = field(default_factory=list)
    waste: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """``dataclasses.asdict(self)``: the same dict, deep-copied the same way, built
        directly (asdict's generic walk was most of a JSON report's time)."""
        return {
            "rule": _plain(self.rule), "name": _plain(self.name), "severity": _plain(self.severity),
            "node": _plain(self.node), "node_index": _plain(self.node_index), "graph": _plain(self.graph),
            "op_type": _plain(self.op_type), "message": _plain(self.message), "details": _plain(self.details),
            "fingerprint": _plain(self.fingerprint), "related": _plain(self.related), "waste": _plain(self.waste),
        }  # fmt: skip


# Values ``copy.deepcopy`` returns as they are (what asdict leaves untouched).
_ATOMS = frozenset((str, int, float, bool, type(None)))


@dataclass
class _Box:
    value: object


def _plain(x):
    """What ``dataclasses.asdict`` makes of ``x`` inside a dataclass: plain lists and
    dicts of plain values are walked here; anything else (a tuple, a nested dataclass, a
    numpy scalar, a subclass) goes through asdict itself."""
    t = type(x)
    if t in _ATOMS:
        return x
    if t is list:
        if all(type(v) in _ATOMS for v in x):
            return list(x)
        return [_plain(v) for v in x]
    if t is dict:
        return {_plain(k): _plain(v) for k, v in x.items()}
    return asdict(_Box(x))["value"]


@dataclass
class FileResult:
    path: str
    status: str = "ok"  # ok | error
    error: dict | None = None  # {"kind": ..., "message": ...}
    findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    # {"nodes": all nodes incl. subgraphs, "weights": elements of all initializers}
    stats: dict = field(default_factory=dict)
    # What was not checked (``Unchecked`` records, see analyzer.graph.coverage): every
    # format shows them, whether or not a rule reports them as findings.
    unchecked: list = field(default_factory=list)
    # Notes every format shows, not only JSON and HTML: what the linter did to the
    # findings (suppressed by the model's metadata, already in the baseline).  Each
    # is in ``notes`` too.
    notices: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"path": self.path, "status": self.status}
        if self.error is not None:
            d["error"] = dict(self.error)
        d["findings"] = [f.to_dict() for f in self.findings]
        d["notes"] = list(self.notes)
        d["stats"] = dict(self.stats)
        d["unchecked"] = [u.to_dict() if isinstance(u, Unchecked) else dict(u) for u in self.unchecked]
        d["notices"] = list(self.notices)
        return d


@dataclass
class Report:
    files: list = field(default_factory=list)
    # with --baseline: {"file", "matched", "new", "stale"} (see analyzer.linter.baseline)
    baseline: dict | None = None

    @property
    def findings(self):
        return [f for r in self.files for f in r.findings]

    @property
    def errors(self):
        return [r for r in self.files if r.status == "error"]

    @property
    def unchecked(self):
        return [u for r in self.files for u in r.unchecked]

    def unchecked_count(self) -> int:
        """Things not checked over all files (a record standing for N nodes counts N)."""
        return sum(_count(u) for u in self.unchecked)

    def waste(self, kind: str = "weights") -> int:
        """Total ``waste[kind]`` over all findings (unknown figures count 0)."""
        return sum(int(f.waste.get(kind) or 0) for f in self.findings)

    def to_dict(self) -> dict:
        from analyzer.common import VERSION as __version__

        d = {"tool": {"name": "onnxlint", "version": __version__}, "files": [r.to_dict() for r in self.files]}
        if self.baseline is not None:
            d["baseline"] = dict(self.baseline)
        return d


def _field(x, name, default=None):
    return x.get(name, default) if isinstance(x, dict) else getattr(x, name, default)


def _count(u) -> int:
    try:
        return max(1, int(_field(u, "count", 1) or 1))
    except (TypeError, ValueError):
        return 1


def unreported_unchecked(unchecked, findings) -> list:
    """The records of ``unchecked`` that no finding of ``findings`` reports (see
    ``UNCHECKED_DETAIL``); records and findings as objects or as their dicts (scan)."""
    reported = set()
    for f in findings:
        details = _field(f, "details") or {}
        key = details.get(UNCHECKED_DETAIL) if isinstance(details, dict) else None
        if isinstance(key, str):
            reported.add(key)
    return [u for u in unchecked if _field(u, "key") not in reported]
