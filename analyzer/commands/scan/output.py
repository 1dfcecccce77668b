"""Output of ``onnxlint scan``: the JSON Lines stream (and reading it back to
resume), and the whole-scan formats written at the end (json, csv, text, full, junit,
gitlab).

A JSONL line is the per-file object of ``onnxlint check --format json`` plus,
when the file could be stat'ed, ``"file": {"size": ..., "mtime_ns": ...}``:
the identity ``--resume`` compares to decide that a file is unchanged.  Lines
are compact, ASCII-only (names from models are ``\\u`` escaped, so a line never
carries a raw control character) and written and flushed one at a time.
"""
from __future__ import annotations

import csv
import io
import json
import os

__all__ = ["JsonlWriter", "read_jsonl", "dump_line", "render_json", "render_csv", "render_text", "render_report"]


def dump_line(record: dict) -> str:
    try:
        return json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        from analyzer.commands.scan.worker import error_record

        bad = error_record(record.get("path", "?"), "internal", f"result not representable as JSON ({e}); please report it")
        if "file" in record:
            bad["file"] = record["file"]
        return json.dumps(bad, ensure_ascii=True, separators=(",", ":"))


class JsonlWriter:
    """Append lines to a file (or a stream), flushing each, so that a scan killed at
    any moment keeps every result it had finished."""

    def __init__(self, path=None, stream=None, append=False):
        self.path = path
        self.f = open(path, "a" if append else "w", encoding="ascii", newline="\n") if path else stream

    def write(self, record: dict) -> None:
        self.f.write(dump_line(record) + "\n")
        self.f.flush()

    def close(self) -> None:
        if self.path:
            self.f.flush()
            try:
                os.fsync(self.f.fileno())
            except OSError:
                pass
            self.f.close()


def read_jsonl(path):
    """Records of an earlier scan: ``(records, problems)``.

    ``records`` maps a path to ``(line, record)`` (the last line for a path wins);
    ``problems`` counts what was dropped: a partly written last line (the scan was
    killed mid-write) and lines that are not per-file objects.
    """
    with open(path, "rb") as f:
        data = f.read()
    records = {}
    problems = {"partial-last-line": 0, "bad-lines": 0, "duplicates": 0}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # no newline after it: cut off mid-write
        problems["partial-last-line"] = 1
    for raw in lines:
        try:
            rec = json.loads(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            problems["bad-lines"] += 1
            continue
        if not (isinstance(rec, dict) and isinstance(rec.get("path"), str) and rec.get("status") in ("ok", "error")):
            problems["bad-lines"] += 1
            continue
        if rec["path"] in records:
            problems["duplicates"] += 1
        records[rec["path"]] = (raw.decode("ascii"), rec)
    return records, problems


def _without_identity(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "file"}


def render_json(records, summary) -> str:
    """One object: ``tool``, ``files`` (as ``check --format json``) and ``summary``."""
    from analyzer.common import VERSION as __version__

    doc = {"tool": {"name": "onnxlint", "version": __version__}, "files": [_without_identity(r) for r in records], "summary": summary.to_dict()}
    return json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A spreadsheet-safe text cell: control characters escaped, and a leading
    character that would start a formula quoted (OWASP CSV injection advice)."""
    from analyzer.report.text import escape

    s = escape(str(value))
    return "'" + s if s.startswith(_FORMULA_START) else s


def render_csv(records, rule_codes) -> str:
    """One row per file."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["path", "status", "error_kind", "error_message", "nodes", "weights", "findings", "dead_weights", *rule_codes])
    for r in records:
        err = r.get("error") or {}
        by_rule = {}
        dead = 0
        for f in r.get("findings", []):
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
            dead += int((f.get("waste") or {}).get("weights") or 0)
        stats = r.get("stats") or {}
        w.writerow(
            [
                _cell(r["path"]),
                r["status"],
                _cell(err.get("kind", "")),
                _cell(err.get("message", "")),
                stats.get("nodes", ""),
                stats.get("weights", ""),
                len(r.get("findings", [])),
                dead,
                *[by_rule.get(c, 0) for c in rule_codes],
            ]
        )
    return out.getvalue()


def render_text(records, table: str, view: str = "grouped") -> str:
    """Lines as ``check`` prints them (``view``: grouped by message shape, or full: one
    line per finding), then the summary table."""
    from analyzer.report.text import coverage_lines, escape
    from analyzer.report.views import full_lines, grouped_lines

    lines = []
    for r in records:
        path = escape(r["path"])
        if r["status"] == "error":
            lines.append(f"{path}: error: {r['error']['kind']}: {escape(r['error']['message'])}")
            continue
        findings = _dicts(r.get("findings"))
        lines.extend((full_lines if view == "full" else grouped_lines)(path, findings))
        lines.extend(coverage_lines(path, _dicts(r.get("unchecked")), findings, _strs(r.get("notices"))))
    if lines:
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "") + table


def render_report(fmt: str, records, table: str) -> str:
    """The whole-scan formats that ``check`` has too: text (grouped), full, junit, gitlab."""
    if fmt == "junit":
        from analyzer.report.junit import render_junit

        return render_junit([_without_identity(r) for r in records])
    if fmt == "gitlab":
        from analyzer.report.gitlab import render_gitlab

        return render_gitlab([_without_identity(r) for r in records])
    return render_text(records, table, view="full" if fmt == "full" else "grouped")


def _dicts(v) -> list:
    """A record's list of objects (a resumed JSONL line may come from an older version)."""
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _strs(v) -> list:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []
