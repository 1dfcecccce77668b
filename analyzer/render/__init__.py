"""Pure markup helpers shared by the HTML report (``analyzer.report.html``) and the
rules' own HTML hooks (``html_section`` in a rule package): escaping and number
formatting (:mod:`.markup`), generic SVG pieces (:mod:`.svg`: op boxes and arrows,
chains, fan-outs, bar charts, the page's shared defs), and the one type a hook
returns (:mod:`.section`).

Strings in, strings out: nothing here imports the rest of the project, so both
the report (above the rules) and the rules themselves may use it (the layer
contract in ``pyproject.toml``)."""
from __future__ import annotations
