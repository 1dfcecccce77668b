"""What a rule's HTML hook returns, and what it may ask of the page.

A rule package may define::

    def html_section(findings, all_findings, page) -> HtmlSection | None

``analyzer.report.html`` calls it (through the rule registry) once per analyzed
file for every rule, in rule order: ``findings`` are the rule's findings in that
file (possibly none: the hook still gives its stat tiles, CSS and legend, so every
file shows the same tiles), ``all_findings`` every finding of the file (a rule may
draw on another's), ``page`` the page's helpers for that file (duck-typed, below).
``None`` means "no section of my own": the findings go into the page's generic
findings table, as for a rule without a hook.

``page`` offers: ``page.anchor(f)`` (the element id a finding's card or row must
carry: the bar chart and other views link to it), ``page.card_header(f)`` (the
standard card header: code, severity, node, graph, message), ``page.table(fs)`` (the
generic findings table, rows anchored), ``page.max_cards`` (how many cards with
diagrams a section should draw per file; list the rest with ``page.table``),
``page.single`` (a one-file report).
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HtmlSection"]


@dataclass
class HtmlSection:
    """One rule's part of one file's section of the HTML report.

    ``stats``: tiles for the file's stats row, each ``(value, label)`` or ``(value,
    label, extra)``, after the findings count, in rule order.  ``html``: the
    section's markup (headings, cards...), placed after the file's generic views,
    sections ordered by ``(order, rule order)``; lower ``order`` first (a section
    that summarizes other rules' findings comes before their cards).  ``css``:
    stylesheet chunks the markup needs; the page includes each distinct chunk once,
    in section order (they are hashed into the page's Content-Security-Policy).
    ``legend``: blocks for the legend at the top of the page, each distinct block
    once.  ``node_weights``: for a finding with ``waste`` (keyed by ``id(finding)``),
    the weights of the node(s) its waste is part of; the page shows the waste as a
    share of them (``node_kind`` names those nodes, e.g. "layers")."""

    stats: list = field(default_factory=list)
    html: str = ""
    css: tuple = ()
    legend: tuple = ()
    order: int = 0
    node_weights: dict = field(default_factory=dict)
    node_kind: str = ""
