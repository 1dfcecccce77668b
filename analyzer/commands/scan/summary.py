"""The end-of-scan summary: counts kept per file as results arrive (a scan of a
large zoo never holds every finding in memory), rendered as a table or a dict.

Everything here depends only on the per-file records, never on timing or order,
so an interrupted-and-resumed scan and an uninterrupted one summarize alike.
"""
from __future__ import annotations

from analyzer.findings import severity_rank
from analyzer.report.text import count_unchecked

__all__ = ["Summary", "TOP_FILES"]

TOP_FILES = 10
FAILED_SHOWN = 20


def _dead_weights(rec) -> int:
    return sum(int((f.get("waste") or {}).get("weights") or 0) for f in rec.get("findings", []))


class Summary:
    def __init__(self):
        self.files = {}  # path -> compact facts of its record (a resumed record replaces the old)
        self.skipped = []
        self.unchecked = {}  # path -> things not checked (coverage records, by count)

    def add(self, rec: dict) -> None:
        by_rule = {}
        worst = -1
        for f in rec.get("findings", []):
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
            worst = max(worst, severity_rank(f["severity"]))
        stats = rec.get("stats") or {}
        unchecked = rec.get("unchecked")
        self.unchecked[rec["path"]] = count_unchecked([u for u in unchecked if isinstance(u, dict)]) if isinstance(unchecked, list) else 0
        self.files[rec["path"]] = (
            rec["status"],
            (rec.get("error") or {}).get("kind"),
            by_rule,
            worst,
            _dead_weights(rec),
            int(stats.get("weights", 0)) if rec["status"] == "ok" else 0,
        )

    def to_dict(self) -> dict:
        errors, rules = {}, {}
        dead = weights = 0
        ok = 0
        top = []
        failed = []
        for path in sorted(self.files):
            status, kind, by_rule, _, d, w = self.files[path]
            if status == "ok":
                ok += 1
            else:
                errors[kind] = errors.get(kind, 0) + 1
                failed.append({"path": path, "kind": kind})
            for code, n in by_rule.items():
                rules[code] = rules.get(code, 0) + n
            dead += d
            weights += w
            if d:
                top.append({"path": path, "dead_weights": d, "weights": w, "share": round(d / w, 6) if w else None})
        top.sort(key=lambda t: (-t["dead_weights"], t["path"]))
        return {
            "files": len(self.files),
            "ok": ok,
            "errors": len(self.files) - ok,
            "errors_by_kind": dict(sorted(errors.items())),
            "findings": sum(rules.values()),
            "findings_by_rule": dict(sorted(rules.items())),
            "dead_weights": dead,
            "weights": weights,
            "dead_weight_share": round(dead / weights, 6) if weights else 0.0,
            "unchecked": sum(self.unchecked.get(p, 0) for p in self.files),
            "files_with_unchecked": sum(1 for p in self.files if self.unchecked.get(p)),
            "top_dead_weights": top[:TOP_FILES],
            "failed": failed,
            "skipped": sorted(self.skipped, key=lambda s: s["path"]),
        }

    def exit_code(self, fail_on: str, exit_zero: bool) -> int:
        if not self.files or any(v[0] != "ok" for v in self.files.values()):
            return 2
        threshold = severity_rank(fail_on)
        if not exit_zero and any(v[3] >= threshold for v in self.files.values()):
            return 1
        return 0

    def table(self) -> str:
        """A plain-text table; paths are escaped (they may come from anywhere)."""
        from analyzer.report.text import escape

        s = self.to_dict()

        def counts(d):
            return ", ".join(f"{k}: {v}" for k, v in d.items())

        share = f"{100 * s['dead_weight_share']:.2f}%"
        rows = [
            ("files scanned", s["files"], ""),
            ("ok", s["ok"], ""),
            ("errors", s["errors"], counts(s["errors_by_kind"])),
            ("findings", s["findings"], counts(s["findings_by_rule"])),
            ("dead weights", s["dead_weights"], f"{share} of {s['weights']} weights"),
        ]
        if s["unchecked"]:
            rows.append(("not checked", s["unchecked"], f"in {s['files_with_unchecked']} file{'s' if s['files_with_unchecked'] != 1 else ''}"))
        if s["skipped"]:
            rows.append(("skipped", len(s["skipped"]), "not files to analyze: see below"))
        width = max(len(str(r[1])) for r in rows)
        lines = ["scan summary"]
        for label, n, note in rows:
            lines.append(f"  {label:<14}{n:>{width}}" + (f"  ({note})" if note else ""))
        if s["top_dead_weights"]:
            lines.append(f"top {len(s['top_dead_weights'])} files by dead weights")
            w = max(len(str(t["dead_weights"])) for t in s["top_dead_weights"])
            for t in s["top_dead_weights"]:
                pct = f"{100 * t['share']:6.2f}%" if t["share"] is not None else "      -"
                lines.append(f"  {t['dead_weights']:>{w}}  {pct}  {escape(t['path'])}")
        if s["failed"]:
            shown = s["failed"][:FAILED_SHOWN]
            more = len(s["failed"]) - len(shown)
            lines.append("files that could not be analyzed" + (f" (first {len(shown)} of {len(s['failed'])})" if more else ""))
            lines.extend(f"  {f['kind']}: {escape(f['path'])}" for f in shown)
        if s["skipped"]:
            lines.append("skipped")
            lines.extend(f"  {escape(k['reason'])}: {escape(k['path'])}" for k in s["skipped"])
        return "\n".join(lines) + "\n"
