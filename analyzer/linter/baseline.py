"""Baselines: adopt the gate on an existing model zoo.

``--write-baseline FILE`` records today's findings; ``--baseline FILE`` reports
(and fails on) only findings not recorded.  Findings are matched by fingerprint
(rule + node identity + op type, see ``Finding.fingerprint``) as a multiset, so
reordering nodes or renaming a file whose content is unchanged keeps matching,
and a second copy of a finding is new.
"""
from __future__ import annotations

import json

__all__ = ["BaselineError", "read_baseline", "write_baseline", "apply_baseline"]

FORMAT_VERSION = 1


class BaselineError(Exception):
    pass


def write_baseline(path, report) -> None:
    from analyzer.common import VERSION as __version__
    from analyzer.io.atomic import write_text_atomic

    entries = []
    for fr in report.files:
        for f in fr.findings:
            entries.append({"fingerprint": f.fingerprint, "rule": f.rule, "path": fr.path, "node": f.node})
    entries.sort(key=lambda e: (e["fingerprint"], e["path"], e["node"]))
    doc = {"onnxlint_baseline": FORMAT_VERSION, "tool_version": __version__, "findings": entries}
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=True) + "\n")


def read_baseline(path) -> dict:
    """fingerprint -> count; raises BaselineError with a one-line reason."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError(f"baseline {path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"baseline {path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(doc, dict) or doc.get("onnxlint_baseline") != FORMAT_VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"baseline {path}: not an onnxlint baseline (expected \"onnxlint_baseline\": {FORMAT_VERSION} and a \"findings\" list)")
    counts: dict = {}
    for i, e in enumerate(doc["findings"]):
        fp = e.get("fingerprint") if isinstance(e, dict) else None
        if not isinstance(fp, str) or not fp:
            raise BaselineError(f"baseline {path}: findings[{i}] has no fingerprint")
        counts[fp] = counts.get(fp, 0) + 1
    return counts


def apply_baseline(report, counts: dict) -> None:
    """Drop findings recorded in the baseline (each record matches once)."""
    remaining = dict(counts)
    for fr in report.files:
        kept = []
        for f in fr.findings:
            if remaining.get(f.fingerprint, 0) > 0:
                remaining[f.fingerprint] -= 1
            else:
                kept.append(f)
        known = len(fr.findings) - len(kept)
        fr.findings = kept
        if known:
            note = f"{known} finding(s) already in the baseline"
            fr.notes.append(note)
            fr.notices.append(note)
