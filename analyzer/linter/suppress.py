"""Suppressions that live with the model: metadata_props entry ``onnxlint:ignore``.

Its value is a comma-separated list of ``CODE`` (the rule anywhere in the model)
or ``CODE@NODE`` (at one node, as the report names it).  ``check`` drops matching
findings and notes entries that match nothing (stale suppressions), so they can
be cleaned up the way ruff's unused-noqa check does.
"""
from __future__ import annotations

import os

__all__ = ["METADATA_KEY", "SuppressError", "parse_entries", "apply_model_suppressions", "suppress_file"]

METADATA_KEY = "onnxlint:ignore"


class SuppressError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def parse_entries(value: str) -> list[tuple[str, str | None]]:
    out = []
    for raw in value.split(","):
        raw = raw.strip()
        if not raw:
            continue
        code, _, node = raw.partition("@")
        out.append((code.strip().upper(), node.strip() or None))
    return out


def _format_entry(code, node) -> str:
    return f"{code}@{node}" if node else code


def _model_entries(model_proto) -> list[tuple[str, str | None]]:
    entries = []
    for p in model_proto.metadata_props:
        if p.key == METADATA_KEY:
            entries.extend(parse_entries(p.value))
    return entries


def apply_model_suppressions(model, result, codes=None) -> None:
    """Remove findings suppressed by the model's own metadata; note stale entries.

    A stale entry is also recorded as a coverage record (kind ``stale-suppression``,
    ``model.unchecked``) when its code names a rule of ``codes`` (the rules that ran;
    None: every entry): an entry for a rule not run this time matched nothing
    because nothing looked, which says nothing about the entry."""
    entries = _model_entries(model.model)
    if not entries:
        return
    used = set()
    kept = []
    for f in result.findings:
        hit = None
        for i, (code, node) in enumerate(entries):
            if f.rule.startswith(code) and (node is None or node == f.node):
                hit = i
                break
        if hit is None:
            kept.append(f)
        else:
            used.add(hit)
    dropped = len(result.findings) - len(kept)
    result.findings = kept
    if dropped:
        note = f"{dropped} finding(s) suppressed by the model's {METADATA_KEY} metadata"
        result.notes.append(note)
        result.notices.append(note)
    for i, (code, node) in enumerate(entries):
        if i not in used:
            note = f"{METADATA_KEY} entry {_format_entry(code, node)!r} matches no finding (stale suppression)"
            result.notes.append(note)
            if codes is None or any(c.startswith(code) for c in codes):
                model.record_unchecked("stale-suppression", note, source="linter", reason=_format_entry(code, node))


def suppress_file(model_path, specs, out_path) -> str:
    """Add ``specs`` (CODE or CODE@NODE) to the model's suppressions and write the
    model to ``out_path`` atomically.  Returns the new metadata value."""
    from analyzer.linter.registry import rule_codes

    from analyzer.io.atomic import write_bytes_atomic
    from analyzer.io.load import LoadError, load

    new = []
    for spec in specs:
        for code, node in parse_entries(spec):
            if not any(c.startswith(code) for c in rule_codes()):
                raise SuppressError("bad-code", f"unknown rule code {code!r} (see `onnxlint rules`)")
            new.append((code, node))
    if not new:
        raise SuppressError("bad-code", "no rule code given")
    try:
        loaded = load(model_path, lazy=False)  # saved again: needs every payload
    except LoadError as e:
        raise SuppressError(e.kind, e.message) from None
    if loaded.external and os.path.realpath(os.path.dirname(os.path.abspath(out_path))) != os.path.realpath(
        os.path.dirname(os.path.abspath(model_path))
    ):
        raise SuppressError(
            "external-data",
            "the model keeps weights in external files; write the suppressed model into the same folder (or use --in-place)",
        )
    model = loaded.model
    entries = _model_entries(model)
    for e in new:
        if e not in entries:
            entries.append(e)
    value = ", ".join(_format_entry(c, n) for c, n in entries)
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    for key, val in kept:
        model.metadata_props.add(key=key, value=val)
    model.metadata_props.add(key=METADATA_KEY, value=value)
    write_bytes_atomic(out_path, model.SerializeToString())
    return value
