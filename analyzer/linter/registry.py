"""Rule registry.  One module per rule; each defines CODE, NAME, SEVERITY, a
docstring (its documentation: What it does / Why is this bad? / Example / How to
fix / Details) and ``check(model) -> iterable of Finding``."""
from __future__ import annotations

from importlib import import_module

__all__ = ["RULE_MODULES", "all_rules", "get_rule", "select_rules"]

# code -> module name; importing a rule module is cheap (no onnx/numpy at import time).
RULE_MODULES = {
    "DT001": "rules.dt001_dead_conv_taps",
    "DT002": "rules.dt002_collapsed_branches",
    "SH001": "rules.sh001_value_info_mismatch",
}


def get_rule(code: str):
    return import_module(RULE_MODULES[code.upper()])


def all_rules():
    return [get_rule(c) for c in RULE_MODULES]


def _matches(code: str, selectors) -> bool:
    """ruff-style selectors: a full code (DT001), a prefix (DT), or ALL."""
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def select_rules(select=None, ignore=None):
    """Rules chosen by ``select`` (default: all) minus ``ignore``.  Raises KeyError
    naming a selector that matches no rule."""
    select = [s.strip().upper() for s in (select or ["ALL"]) if s.strip()]
    ignore = [s.strip().upper() for s in (ignore or []) if s.strip()]
    for s in select + ignore:
        if s != "ALL" and not any(c.startswith(s) for c in RULE_MODULES):
            raise KeyError(s)
    codes = [c for c in RULE_MODULES if _matches(c, select) and not _matches(c, ignore)]
    return [get_rule(c) for c in codes]
