"""JUnit XML, the test report CI systems show (GitLab, Jenkins, Azure, CircleCI...):
one ``<testcase>`` per model file, a ``<failure>`` per finding (``type`` is the rule
code, the text the finding's full line), an ``<error>`` for a file that could not be
analyzed, and what was not checked plus the linter's notices in the test case's
``<system-out>`` (a partly checked file is not "skipped": what was checked passed or
failed).

Built with the standard library's ``xml.etree.ElementTree`` (it escapes ``& < > "``);
characters XML 1.0 cannot carry at all (control characters, lone surrogates) are
shown as escapes first, and the document is ASCII (other characters as character
references), so any console or file encoding keeps it intact.  Deterministic: no
timestamps, no durations.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from analyzer.render.markup import escape_controls

__all__ = ["render_junit", "xml_safe"]


def xml_safe(value) -> str:
    """A string XML 1.0 can carry: controls as ``\\xNN``, surrogates and the two
    non-characters U+FFFE/U+FFFF as ``\\uNNNN``."""
    s = escape_controls(str(value))
    if s.isascii():
        return s
    return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" else c for c in s)


def _where(f: dict) -> str:
    node = str(f.get("node") or "")
    return node if (f.get("graph") or "main") == "main" else f"{f.get('graph')}/{node}"


def render_junit(files) -> str:
    """``files``: per-file dicts as in ``check --format json`` (or scan's records)."""
    from analyzer.findings import unreported_unchecked
    from analyzer.report.text import coverage_text

    suite = ET.Element("testsuite", name="onnxlint")
    n_failed = n_errors = 0
    for fr in files:
        path = xml_safe(fr.get("path", ""))
        case = ET.SubElement(suite, "testcase", name=path, classname="onnxlint", file=path)
        if fr.get("status") == "error":
            n_errors += 1
            err = fr.get("error") or {}
            kind, message = xml_safe(err.get("kind", "error")), xml_safe(err.get("message", ""))
            ET.SubElement(case, "error", message=f"{kind}: {message}", type=kind).text = f"{path}: error: {kind}: {message}"
            continue
        findings = [f for f in fr.get("findings") or [] if isinstance(f, dict)]
        n_failed += bool(findings)
        for f in findings:
            rule, sev, msg = (xml_safe(f.get(k, "")) for k in ("rule", "severity", "message"))
            where = xml_safe(_where(f))
            failure = ET.SubElement(case, "failure", message=f"{rule} [{sev}] {where}: {msg}", type=rule)
            failure.text = f"{path}:{where}: {rule} [{sev}] {msg}"
        out = []
        rest = unreported_unchecked([u for u in fr.get("unchecked") or [] if isinstance(u, dict)], findings)
        if rest:
            out.append(f"not checked: {coverage_text(rest)}")
        out.extend(f"note: {xml_safe(n)}" for n in fr.get("notices") or [] if isinstance(n, str))
        if out:
            ET.SubElement(case, "system-out").text = "\n".join(xml_safe(line) for line in out)
    counts = {"tests": str(len(files)), "failures": str(n_failed), "errors": str(n_errors), "skipped": "0"}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name="onnxlint", **counts)
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii", xml_declaration=True).decode("ascii") + "\n"
