"""JSON output: one object, keys in a fixed order, deterministic."""
from __future__ import annotations

import json
import math

__all__ = ["dumps", "render_json", "render_statistics_json"]


def render_json(report) -> str:
    return dumps(report.to_dict()) + "\n"


def dumps(doc) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)``, the same text.

    With ``indent`` the json module encodes in Python, a function call per value; a
    report is mostly lists of ints and strings (node lists, channel and tap indices),
    which this joins a list at a time.  Anything it does not know for certain (a key that
    is not a string, a float that is not finite, a tuple, a subclass, a numpy scalar, a
    cycle) goes to json.dumps, which gives its text or its error."""
    try:
        out = []
        _encode(doc, "\n", out)
        return "".join(out)
    except (_Unsure, RecursionError):
        return json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)


class _Unsure(Exception):
    pass


_string = json.encoder.encode_basestring_ascii  # the C one when there is one, as json uses


def _scalar(o):
    t = type(o)
    if t is str:
        return _string(o)
    if t is int:
        return int.__repr__(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is float and math.isfinite(o):
        return float.__repr__(o)
    return None


def _encode(o, nl, out) -> None:
    """Append the text of ``o`` to ``out``; ``nl``: newline + the indent of its own line."""
    text = _scalar(o)
    if text is not None:
        out.append(text)
        return
    t = type(o)
    inner = nl + "  "
    if t is list:
        if not o:
            out.append("[]")
            return
        texts = [_scalar(v) for v in o]
        if None not in texts:  # a list of scalars: one join
            out.append("[" + inner + ("," + inner).join(texts) + nl + "]")
            return
        sep = "[" + inner
        for v, text in zip(o, texts):
            out.append(sep)
            sep = "," + inner
            if text is None:
                _encode(v, inner, out)
            else:
                out.append(text)
        out.append(nl + "]")
        return
    if t is dict:
        if not o:
            out.append("{}")
            return
        sep = "{" + inner
        for k, v in o.items():
            if type(k) is not str:
                raise _Unsure
            out.append(sep + _string(k) + ": ")
            sep = "," + inner
            _encode(v, inner, out)
        out.append(nl + "}")
        return
    raise _Unsure


def render_statistics_json(report) -> str:
    """``check --statistics --format json``: ``{"tool", "statistics": [row per rule and
    severity], "totals"}`` (rows as ``analyzer.report.views.statistics``; ``totals``
    also counts what the rows cannot show: files that failed and things not checked)."""
    from analyzer.findings import WASTE_KINDS
    from analyzer.report.text import count_unchecked
    from analyzer.report.views import is_conditional, statistics

    doc = report.to_dict()
    findings = report.findings
    doc.pop("files")
    doc["statistics"] = statistics(findings)
    doc["totals"] = {
        "files": len(report.files),
        "errors": [{"path": fr.path, **dict(fr.error or {})} for fr in report.errors],
        "findings": len(findings),
        "conditional": sum(1 for f in findings if is_conditional(f)),
        "not_checked": sum(count_unchecked(fr.unchecked) for fr in report.files),
        "waste": {k: report.waste(k) for k in WASTE_KINDS},
    }
    return dumps(doc) + "\n"
