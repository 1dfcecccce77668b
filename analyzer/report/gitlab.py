"""GitLab Code Quality report (``artifacts: reports: codequality``): a JSON array of
issues, each with ``description``, ``check_name``, ``fingerprint``, ``severity`` (in
GitLab's words: info, minor, major, critical, blocker) and ``location`` (``path``
relative to the project, ``lines.begin``; a model has no lines, so 1).

One issue per finding (``check_name`` is the rule code); a file that could not be
analyzed is a ``critical`` issue named ``onnxlint/<error kind>``; what was not checked
(and no finding reports already) is an ``info`` issue named ``onnxlint/not-checked``,
so a merge request never looks clean when it was not fully checked.

Fingerprints are unique in a report and stable across runs: a hash of the check, the
file's path and the finding's own fingerprint (rule, node, op type: not the node's
position), with a counter only for findings that would otherwise collide.
"""
from __future__ import annotations

import hashlib
import os

from analyzer.report.json import dumps

__all__ = ["render_gitlab", "GITLAB_SEVERITY"]

GITLAB_SEVERITY = {"info": "info", "warning": "major", "error": "critical"}


def _path(path: str) -> str:
    """Relative to the current directory (the project root in CI), forward slashes;
    an absolute path when the file is outside it."""
    ap = os.path.abspath(path)
    rel = os.path.relpath(ap, os.getcwd())
    return (ap if rel.startswith("..") else rel).replace(os.sep, "/")


def _clean(s) -> str:
    from analyzer.report.text import escape

    return escape(str(s))


def render_gitlab(files) -> str:
    """``files``: per-file dicts as in ``check --format json`` (or scan's records)."""
    from analyzer.findings import unreported_unchecked
    from analyzer.report.text import coverage_text

    issues = []
    seen: dict = {}

    def add(check: str, description: str, severity: str, path: str, identity: str) -> None:
        key = "\0".join((check, path, identity))
        n = seen.get(key, 0)
        seen[key] = n + 1
        fingerprint = hashlib.sha256(f"{key}\0{n}".encode("utf-8", "surrogatepass")).hexdigest()
        issues.append(
            {
                "description": description,
                "check_name": check,
                "fingerprint": fingerprint,
                "severity": severity,
                "location": {"path": path, "lines": {"begin": 1}},
            }
        )

    for fr in files:
        path = _path(str(fr.get("path", "")))
        if fr.get("status") == "error":
            err = fr.get("error") or {}
            kind = str(err.get("kind") or "error")
            add(f"onnxlint/{kind}", _clean(f"{kind}: {err.get('message', '')}"), "critical", path, "")
            continue
        findings = [f for f in fr.get("findings") or [] if isinstance(f, dict)]
        for f in findings:
            node = str(f.get("node") or "")
            where = node if (f.get("graph") or "main") == "main" else f"{f.get('graph')}/{node}"
            rule = str(f.get("rule") or "")
            description = _clean(f"{rule} {f.get('name', '')} at {where}: {f.get('message', '')}")
            identity = str(f.get("fingerprint") or f"{where}\0{f.get('message', '')}")
            add(rule, description, GITLAB_SEVERITY.get(f.get("severity"), "info"), path, identity)
        rest = unreported_unchecked([u for u in fr.get("unchecked") or [] if isinstance(u, dict)], findings)
        if rest:
            add("onnxlint/not-checked", "not checked: " + coverage_text(rest), "info", path, "")
    return dumps(issues)  # json.dumps(indent=2, ensure_ascii=True, allow_nan=False), faster + "\n"
