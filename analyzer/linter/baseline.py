"""Baselines: adopt the gate on an existing model zoo.

``--write-baseline FILE`` records today's findings; ``--baseline FILE`` reports
(and fails on) only findings not recorded.

An entry's identity is the model's path **relative to the baseline file's folder**
(so it does not depend on where onnxlint runs from, or which configuration it
found) plus the finding's in-model fingerprint (rule + graph + the node's name, or
its output names when unnamed, + op type; see ``Finding.fingerprint``): the same
generic node name (``node_conv2d_3``) in two models never matches across them, and
reordering a model's nodes keeps matching.  Entries are matched as a multiset (a
second copy of a finding is new).  A finding whose fingerprint changed because a
re-export renamed its node still matches an unmatched entry of the same model with
the same rule, op type and message (the node's name taken out of it).

A model that moved: record it in the baseline's ``"moved"`` table
(``{"old/path.onnx": "new/path.onnx"}``, paths as in the entries, relative to the
baseline's folder); ``--write-baseline`` writes the entries under their new paths.

Format 1 (before paths were recorded) is refused with a one-line error saying how
to regenerate the file: its entries could match findings of any model.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

__all__ = ["BaselineError", "Baseline", "read_baseline", "write_baseline", "apply_baseline", "FORMAT_VERSION"]

FORMAT_VERSION = 2


class BaselineError(Exception):
    pass


def model_key(baseline_path, model_path) -> str:
    """``model_path`` relative to the baseline file's folder, with ``/``."""
    root = os.path.dirname(os.path.abspath(baseline_path))
    return os.path.relpath(os.path.abspath(model_path), root).replace(os.sep, "/")


def message_shape(finding) -> str:
    """The finding's message without names (which a re-export may renumber): its nodes'
    names and anything quoted ('node_mean', 'mean') become ``<node>`` / ``'*'``; the
    numbers (sizes, counts) stay."""
    import re

    names = [finding.node] + [r.get("node") for r in (finding.related or []) if isinstance(r, dict)]
    msg = finding.message
    for name in sorted({n for n in names if isinstance(n, str) and n}, key=len, reverse=True):
        msg = re.sub(r"(?<![\w.])" + re.escape(name) + r"(?![\w.])", "<node>", msg)
    return re.sub(r"'[^'\n]*'", "'*'", msg)


def _entry(key, f) -> dict:
    return {"path": key, "rule": f.rule, "node": f.node, "op_type": f.op_type, "fingerprint": f.fingerprint, "message": message_shape(f)}


def write_baseline(path, report) -> int:
    """Record the findings of ``report``'s files; returns how many were written."""
    from analyzer.common import VERSION as __version__
    from analyzer.io.atomic import write_text_atomic

    entries = []
    for fr in report.files:
        key = model_key(path, fr.path)
        entries.extend(_entry(key, f) for f in fr.findings)
    entries.sort(key=lambda e: (e["path"], e["fingerprint"], e["node"]))
    doc = {"onnxlint_baseline": FORMAT_VERSION, "tool_version": __version__, "moved": {}, "findings": entries}
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=True) + "\n")
    return len(entries)


@dataclass
class Baseline:
    path: str
    entries: list  # [{"path", "rule", "op_type", "fingerprint", "message", ...}] (moves applied)


def read_baseline(path) -> Baseline:
    """Raises BaselineError with a one-line reason."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError(f"baseline {path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"baseline {path}: not JSON ({e.msg} at line {e.lineno})") from None
    version = doc.get("onnxlint_baseline") if isinstance(doc, dict) else None
    if version == 1:
        raise BaselineError(
            f"baseline {path}: format 1 records no model paths (its entries could hide another model's findings); "
            f"regenerate it with `onnxlint check PATHS --write-baseline {path}`"
        )
    if version != FORMAT_VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"baseline {path}: not an onnxlint baseline (expected \"onnxlint_baseline\": {FORMAT_VERSION} and a \"findings\" list)")
    moved = doc.get("moved", {})
    if not isinstance(moved, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in moved.items()):
        raise BaselineError(f"baseline {path}: \"moved\" must map old model paths to new ones (strings)")
    entries = []
    for i, e in enumerate(doc["findings"]):
        if not isinstance(e, dict):
            raise BaselineError(f"baseline {path}: findings[{i}] is not an object")
        for k in ("fingerprint", "path"):
            if not isinstance(e.get(k), str) or not e[k]:
                raise BaselineError(f"baseline {path}: findings[{i}] has no {k}")
        e = dict(e)
        seen = set()
        while e["path"] in moved and e["path"] not in seen:  # a -> b -> c; a loop stops
            seen.add(e["path"])
            e["path"] = moved[e["path"]]
        entries.append(e)
    return Baseline(path, entries)


def apply_baseline(report, baseline: Baseline) -> dict:
    """Drop findings recorded in the baseline (each entry matches once) and return
    ``{"matched", "new", "stale"}``; stale entries are those of the checked models that
    matched nothing (fixed since), entries of models not checked now are not counted."""
    by_model: dict = {}
    for e in baseline.entries:
        by_model.setdefault(e["path"], []).append(e)
    matched = new = stale = 0
    for fr in report.files:
        key = model_key(baseline.path, fr.path)
        pool = by_model.get(key, [])
        if fr.status != "ok":  # not analyzed: its entries are neither matched nor stale
            continue
        remaining: dict = {}
        for e in pool:
            remaining.setdefault(e["fingerprint"], []).append(e)
        left = []
        for f in fr.findings:  # first by fingerprint ...
            if remaining.get(f.fingerprint):
                remaining[f.fingerprint].pop()
            else:
                left.append(f)
        loose: dict = {}
        for es in remaining.values():
            for e in es:
                loose.setdefault((e.get("rule"), e.get("op_type"), e.get("message")), []).append(e)
        kept = []
        for f in left:  # ... then a renamed node: same rule, op type and message
            k = (f.rule, f.op_type, message_shape(f))
            if loose.get(k):
                loose[k].pop()
            else:
                kept.append(f)
        known = len(fr.findings) - len(kept)
        fr.findings = kept
        matched += known
        new += len(kept)
        stale += sum(len(es) for es in loose.values())
        if known:
            note = f"{known} finding(s) already in the baseline"
            fr.notes.append(note)
            fr.notices.append(note)
        by_model.pop(key, None)  # the same model given twice: its entries match once
    return {"file": baseline.path, "matched": matched, "new": new, "stale": stale}
