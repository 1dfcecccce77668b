"""Rule registry: the rules are discovered, not listed by hand.

Discovery contract
------------------
* **Built-in rules**: every module or package directly under the ``rules`` package
  (``pkgutil.iter_modules(rules.__path__)``) whose name does not start with ``_``.
  Dropping one file ``rules/xy001_something.py`` adds a rule; nothing else is edited.
* **Plugin rules**: every entry point of the group ``onnxlint.rules`` (as flake8
  plugins do), declared by an installed distribution, e.g. in its pyproject.toml::

      [project.entry-points."onnxlint.rules"]
      XID001 = "my_pkg.my_rule"

  The entry point's name must be the rule's CODE; its value names a module, or
  ``module:attribute`` for an object (a module, a class or an instance) that has
  the attributes below.
* **Every rule** (module or object) defines ``CODE`` (letters then digits,
  e.g. ``XY001``; unique among all rules), ``NAME`` (kebab-case), ``SEVERITY``
  (``info``, ``warning`` or ``error``), a docstring (its documentation: the first line
  is ``CODE name: summary``, then ``## What it does`` / ``## Why is this bad?`` /
  ``## Example`` / ``## How to fix`` / ``## Details`` sections) and
  ``check(model, options) -> iterable of Finding`` (``analyzer.findings.Finding``;
  ``model`` is an ``analyzer.model.AnalyzedModel``).
* **Optional hooks** (looked up with ``getattr``; a rule without them still works):
  ``READS_WEIGHTS`` (True for a rule that reads weight values, within a budget it
  documents; every other rule costs the graph only, never the weights), ``OPTIONS``
  (option name -> description; values come from
  ``[tool.onnxlint.rules.CODE]`` in the configuration, as integers; see
  ``analyzer.linter.config``), ``html_section(findings, all_findings, page)`` (the
  rule's own part of the HTML report; see ``analyzer.report.html``) and
  ``fix_findings(rewriter, findings)`` (``onnxlint fix``; see ``analyzer.fix.rewrite``; with
  ``FIX_NEEDS``, the codes whose fixes must run first when ``verify`` proves one finding
  through its fix) and
  ``verify_findings(findings, model, harness) -> list of dicts`` (``onnxlint verify``:
  each finding confirmed, refuted, inconclusive or skipped by execution; the
  ``analyzer.fix.runtime.Harness`` gives it feeds, sessions and tolerances) and
  ``check_unchecked(model, records, options) -> iterable of Finding`` (coverage: the
  records of what was not checked, ``analyzer.graph.coverage.Unchecked``; see below).
* **Coverage**: a rule declares what it could not check with
  ``model.record_unchecked(kind, message, source=CODE, op=op, reason=...)`` (the shape
  engine records unknown operators and the like itself).  Every output format shows the
  records.  After every selected rule's ``check`` has run, the runner calls each
  selected rule's ``check_unchecked`` hook with all records so far, before the model's
  own suppressions (``onnxlint:ignore``) apply, so its findings can be suppressed;
  then once more with the records the suppressions left (stale entries of rules that
  ran), whose findings no suppression hides.  A finding that reports a record carries
  its ``key`` as ``details["unchecked"]`` (``analyzer.findings.UNCHECKED_DETAIL``) so
  that the formats show it once.
* **Cheap import**: importing a rule must not import onnx, numpy or networkx
  (import them inside ``check``): ``onnxlint rules`` and ``--version`` stay light.
* **Order**: built-in rules sorted by code, then plugin rules sorted by code.
* **Origin**: each rule gets ``ORIGIN``: ``"built-in"`` or
  ``"plugin <distribution> <version>"`` (``origin(code)``; ``onnxlint rules`` shows it).
* **Failures**: a rule or plugin that cannot be imported, lacks a required attribute,
  or defines a code another rule already has raises ``RuleLoadError``, which every
  command reports as one line (``onnxlint: error: plugin 'NAME': ...``), exit 2.
* Discovery runs once per process (``discover()`` is cached; ``discover.cache_clear()``
  for tests).  Scan workers are processes of their own and discover the same rules
  from the same ``sys.path``.
"""
from __future__ import annotations

import functools
import re

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "RuleLoadError",
    "all_rules",
    "discover",
    "get_rule",
    "origin",
    "rule_codes",
    "rule_module_names",
    "select_rules",
]

ENTRY_POINT_GROUP = "onnxlint.rules"
BUILTIN = "built-in"
BUILTIN_PACKAGE = "rules"
REQUIRED = ("CODE", "NAME", "SEVERITY", "check")
_SEVERITIES = ("info", "warning", "error")  # analyzer.findings.SEVERITIES, without importing it
_CODE = re.compile(r"[A-Z]+[0-9]+\Z")


class RuleLoadError(Exception):
    """A rule that cannot be loaded: ``str()`` is one line naming the plugin (or the
    built-in module) and what is wrong."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = " ".join(str(message).split())  # one line, whatever the cause said
        super().__init__(f"{source}: {self.message}")


class _Discovered:
    __slots__ = ("rules", "origins", "modules")

    def __init__(self):
        self.rules: dict = {}  # code -> rule (module or object), in list order
        self.origins: dict = {}  # code -> "built-in" | "plugin <dist> <version>"
        self.modules: dict = {}  # code -> module name it was imported from


def _validate(rule, source: str, expect_code=None) -> str:
    missing = [a for a in REQUIRED if not hasattr(rule, a)]
    if missing:
        raise RuleLoadError(source, f"missing required attribute(s) {', '.join(missing)}")
    code, name, severity = rule.CODE, rule.NAME, rule.SEVERITY
    if not isinstance(code, str) or not _CODE.match(code):
        raise RuleLoadError(source, f"CODE must be letters then digits (e.g. 'XY001'), got {code!r}")
    if expect_code is not None and expect_code != code:
        raise RuleLoadError(source, f"entry point name {expect_code!r} is not the rule's CODE {code!r}")
    if not isinstance(name, str) or not name:
        raise RuleLoadError(source, f"NAME must be a non-empty string, got {name!r}")
    if severity not in _SEVERITIES:
        raise RuleLoadError(source, f"SEVERITY must be one of {', '.join(_SEVERITIES)}, got {severity!r}")
    if not callable(rule.check):
        raise RuleLoadError(source, "check is not callable")
    doc = getattr(rule, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        raise RuleLoadError(source, "has no docstring (the rule's documentation)")
    return code


def _import_error(e: BaseException) -> str:
    return f"cannot be imported: {type(e).__name__}: {e}"


def _builtin_rules():
    """(module name, module) of every rule module under the ``rules`` package."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(BUILTIN_PACKAGE)
    out = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modname = f"{BUILTIN_PACKAGE}.{info.name}"
        source = f"rule module {modname!r}"
        try:
            mod = importlib.import_module(modname)
        except Exception as e:
            raise RuleLoadError(source, _import_error(e)) from e
        out.append((source, modname, mod))
    return out


def _plugin_entry_points():
    from importlib.metadata import entry_points

    def key(ep):  # by code, then distribution: of two plugins with one code, the second is blamed
        dist = getattr(ep, "dist", None)
        return ep.name, (dist.metadata["Name"] or "") if dist is not None else "", ep.value

    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=key)


def _plugin_source(ep) -> tuple:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    label = dist_name or ep.value.split(":")[0].split(".")[0]
    return f"plugin {label!r}", f"plugin {label} {version}" if version else f"plugin {label}"


@functools.cache
def discover() -> _Discovered:
    """Every rule, built-in then plugins, each group sorted by code; raises RuleLoadError."""
    found = _Discovered()
    builtin = []
    for source, modname, mod in _builtin_rules():
        builtin.append((_validate(mod, source), source, modname, mod))
    sources = {}
    for code, source, modname, mod in sorted(builtin, key=lambda t: t[0]):
        if code in found.rules:
            raise RuleLoadError(source, f"rule code {code} is already defined by {sources[code]}")
        found.rules[code], found.origins[code], found.modules[code] = mod, BUILTIN, modname
        sources[code] = source
    plugins = []
    for ep in _plugin_entry_points():
        source, origin_text = _plugin_source(ep)
        try:
            rule = ep.load()
        except Exception as e:
            raise RuleLoadError(source, f"entry point {ep.name} = {ep.value} {_import_error(e)}") from e
        code = _validate(rule, source, expect_code=ep.name)
        plugins.append((code, source, origin_text, ep.value.split(":")[0], rule))
    for code, source, origin_text, modname, rule in plugins:  # already by code (= entry point name)
        if code in found.rules:
            raise RuleLoadError(source, f"rule code {code} is already defined by {sources[code]}")
        found.rules[code], found.origins[code], found.modules[code] = rule, origin_text, modname
        sources[code] = source
    for code, rule in found.rules.items():
        try:
            rule.ORIGIN = found.origins[code]
        except (AttributeError, TypeError):
            pass  # an object that refuses new attributes: origin(code) still knows
    return found


def __getattr__(name):
    # The hand-kept ``RULE_MODULES`` dict this module used to have (code -> module
    # name), now computed by discovery; kept for code not yet moved to rule_codes().
    if name == "RULE_MODULES":
        return dict(discover().modules)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rule_codes() -> list:
    """Every rule's code, in list order (built-in by code, then plugins by code)."""
    return list(discover().rules)


def rule_module_names() -> list:
    """The module each rule comes from (for a forkserver to preload)."""
    return list(dict.fromkeys(discover().modules.values()))


def origin(code: str) -> str:
    return discover().origins[code.upper()]


def get_rule(code: str):
    """The rule with this code; KeyError when there is none."""
    return discover().rules[code.upper()]


def all_rules():
    return list(discover().rules.values())


def _matches(code: str, selectors) -> bool:
    """ruff-style selectors: a full code (XY001), a prefix (XY), or ALL."""
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def select_rules(select=None, ignore=None):
    """Rules chosen by ``select`` (default: all) minus ``ignore``.  Raises KeyError
    naming a selector that matches no rule."""
    codes = rule_codes()
    select = [s.strip().upper() for s in (select or ["ALL"]) if s.strip()]
    ignore = [s.strip().upper() for s in (ignore or []) if s.strip()]
    for s in select + ignore:
        if s != "ALL" and not any(c.startswith(s) for c in codes):
            raise KeyError(s)
    return [get_rule(c) for c in codes if _matches(c, select) and not _matches(c, ignore)]
