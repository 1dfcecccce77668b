"""SARIF 2.1.0 output for GitHub code scanning and other SARIF viewers.

One ``reportingDescriptor`` per rule (from the rule module's docs), one result per
finding with the file as physical location and the node as logical location
(graph path + node name), the finding's generic ``waste`` and ``related`` nodes
and its ``details`` as properties, and ``partialFingerprints`` from the finding's
fingerprint so code scanning tracks a finding across runs.  Files that could not
be analyzed become error notifications of the invocation; what was not checked
(every coverage record, whether or not a rule reports it as a result) and the
linter's notices (suppressed, already in the baseline) become ``note``
notifications, with the node as logical location.
"""
from __future__ import annotations

import os
from urllib.parse import quote

from analyzer.report.json import dumps

__all__ = ["render_sarif", "SARIF_SCHEMA"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/onnxlint/onnxlint"
_LEVEL = {"info": "note", "warning": "warning", "error": "error"}


def _uri(path: str) -> str:
    """A relative URI (forward slashes, percent-encoded) when the file is under the
    current directory, else an absolute file URI."""
    ap = os.path.abspath(path)
    rel = os.path.relpath(ap, os.getcwd())
    if not rel.startswith(".."):
        return quote(rel.replace(os.sep, "/"))
    return "file://" + quote(ap.replace(os.sep, "/"))


def _descriptor(mod) -> dict:
    from analyzer.linter.ruledoc import describe

    rd = describe(mod)  # the same text as `onnxlint rules CODE` and the docs site's rule page
    doc, short = rd.doc, rd.summary
    return {
        "id": mod.CODE,
        "name": mod.NAME,
        "shortDescription": {"text": short},
        "fullDescription": {"text": rd.section("What it does") or short},
        "help": {"text": doc, "markdown": doc},
        "helpUri": f"{INFO_URI}#rules",
        "defaultConfiguration": {"level": _LEVEL[mod.SEVERITY]},
        "properties": {"tags": ["onnx", "dead-weights"]},
    }


def _coverage_notifications(fr, uri) -> list:
    out = []
    physical = {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}}
    for u in fr.unchecked:
        d = u.to_dict() if hasattr(u, "to_dict") else dict(u)
        loc = dict(physical)
        if d.get("node"):
            loc["logicalLocations"] = [{"name": d["node"], "fullyQualifiedName": f"{d.get('graph') or 'main'}/{d['node']}", "kind": "function"}]
        out.append(
            {
                "level": "note",
                "message": {"text": f"{fr.path}: not checked: {d.get('message', '')}"},
                "descriptor": {"id": d.get("kind") or "not-checked"},
                "locations": [loc],
                "properties": {k: d.get(k) for k in ("kind", "reason", "count", "source", "graph", "node", "op_type", "domain")},
            }
        )
    for n in fr.notices:
        out.append({"level": "note", "message": {"text": f"{fr.path}: {n}"}, "locations": [dict(physical)]})
    return out


def render_sarif(report) -> str:
    from analyzer.linter.registry import get_rule, rule_codes

    from analyzer.common import VERSION as __version__

    codes = rule_codes()
    descriptors = [_descriptor(get_rule(c)) for c in codes]
    results = []
    notifications = []
    artifacts: dict = {}
    for fr in report.files:
        uri = _uri(fr.path)
        if fr.status == "error":
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{fr.path}: {fr.error['kind']}: {fr.error['message']}"},
                    "descriptor": {"id": fr.error["kind"]},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}}],
                }
            )
            continue
        notifications.extend(_coverage_notifications(fr, uri))
        for f in fr.findings:
            artifacts.setdefault(uri, len(artifacts))
            results.append(
                {
                    "ruleId": f.rule,
                    "ruleIndex": codes.index(f.rule),
                    "level": _LEVEL[f.severity],
                    "message": {"text": f.message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%", "index": artifacts[uri]},
                                "region": {"startLine": 1},
                            },
                            "logicalLocations": [
                                {"name": f.node, "fullyQualifiedName": f"{f.graph}/{f.node}", "kind": "function"}
                            ],
                        }
                    ],
                    "partialFingerprints": {"onnxlintFinding/v1": f.fingerprint},
                    "properties": {
                        "op_type": f.op_type,
                        "graph": f.graph,
                        "node_index": f.node_index,
                        "details": f.details,
                        "waste": dict(f.waste),
                        "related": [dict(r) for r in f.related],
                    },
                }
            )
    run = {
        "tool": {
            "driver": {
                "name": "onnxlint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFO_URI,
                "rules": descriptors,
            }
        },
        "artifacts": [{"location": {"uri": u, "uriBaseId": "%SRCROOT%"}} for u in artifacts],
        "invocations": [
            {"executionSuccessful": not any(n["level"] == "error" for n in notifications), "toolExecutionNotifications": notifications}
        ],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return dumps(doc)  # json.dumps(indent=2, ensure_ascii=True, allow_nan=False), faster + "\n"
