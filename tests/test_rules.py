"""The rule registry: the built-in rules are exactly the modules in ``rules/``, each
meets the rule contract and has its own test module under ``tests/rules/`` (tests
mirror the layout); selection; plugins found through the ``onnxlint.rules`` entry
point group, in this process (``tests/plugins/test_end_to_end.py`` runs them through
every command).  No test lists the rules: they come from the ``rules/`` folder."""
from __future__ import annotations

import importlib
import pathlib
import sys

import pytest

from analyzer.linter import registry
from analyzer.linter.registry import RuleLoadError
from tests.plugins._sites import EXAMPLE_CODE, EXAMPLE_DIST, EXAMPLE_SITE, GOOD_RULE, write_plugin

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
RULE_TESTS = ROOT / "tests" / "rules"
PLUGIN_MODULES = {"onnxlint_example_plugin", "two_rules", "bad_rule", "missing_module"}  # imported by the tests below


def folder_rules() -> list:
    """The rule modules in ``rules/``, from the folder listing alone."""
    out = []
    for p in sorted(RULES_DIR.iterdir()):
        if p.name.startswith(("_", ".")):
            continue
        if (p.is_dir() and (p / "__init__.py").is_file()) or (p.is_file() and p.suffix == ".py"):
            out.append(p.stem)
    return out


@pytest.fixture
def fresh_discovery():
    """Discovery runs again in this test, and once more (without what the test added)
    in the next user."""
    registry.discover.cache_clear()
    yield
    registry.discover.cache_clear()
    for name in [n for n in sys.modules if n.split(".")[0] in PLUGIN_MODULES]:
        del sys.modules[name]


def test_the_built_in_rules_are_the_modules_in_the_rules_folder():
    found = registry.discover()
    assert pathlib.Path(importlib.import_module("rules").__path__[0]).resolve() == RULES_DIR
    builtin = [c for c in registry.rule_codes() if registry.origin(c) == registry.BUILTIN]
    assert sorted(found.modules[c] for c in builtin) == sorted(f"rules.{m}" for m in folder_rules())
    assert builtin == sorted(builtin) and builtin == registry.rule_codes()[: len(builtin)]
    assert [m.CODE for m in registry.all_rules()] == registry.rule_codes()


@pytest.mark.parametrize("module", folder_rules())
def test_each_rule_meets_the_contract_and_has_its_own_test_module(module):
    rule = importlib.import_module(f"rules.{module}")
    assert registry.get_rule(rule.CODE) is rule and registry.get_rule(rule.CODE.lower()) is rule
    assert rule.ORIGIN == registry.origin(rule.CODE) == "built-in"
    assert rule.SEVERITY in ("info", "warning", "error") and callable(rule.check)
    assert module.startswith(rule.CODE.lower() + "_")
    doc = rule.__doc__
    assert doc.splitlines()[0].startswith(f"{rule.CODE} {rule.NAME}: ")
    for heading in ("## What it does", "## Why is this bad?", "## How to fix"):
        assert heading in doc, heading
    assert (RULE_TESTS / f"test_{module}.py").is_file(), f"tests/rules/test_{module}.py: one test module per rule"


def test_tests_mirror_the_layout():
    tests = sorted(p.stem[len("test_") :] for p in RULE_TESTS.glob("test_*.py"))
    assert tests == folder_rules()


def test_discovery_is_done_once():
    assert registry.discover() is registry.discover()


def test_select_and_ignore_by_code_and_prefix():
    codes = registry.rule_codes()
    assert [m.CODE for m in registry.select_rules()] == codes
    assert [m.CODE for m in registry.select_rules(["ALL"], codes[:1])] == codes[1:]
    prefix = codes[0][:2]
    assert [m.CODE for m in registry.select_rules([prefix.lower()])] == [c for c in codes if c.startswith(prefix)]
    with pytest.raises(KeyError):
        registry.select_rules(["ZZ9"])


def test_select_and_ignore_in_the_api():
    from tests.rules._conv_models import branches, lint

    m = branches([3, 5, 7])
    assert {f.rule for f in lint(m, select=["DT002"])} == {"DT002"}
    assert {f.rule for f in lint(m, ignore=["DT001"])} == {"DT002"}
    assert {f.rule for f in lint(m, select=["DT"])} == {"DT001", "DT002"}


# --- plugins, in this process ---------------------------------------------------------------------


def test_the_example_plugin_is_discovered_after_the_built_in_rules(fresh_discovery, monkeypatch):
    builtin = registry.rule_codes()
    registry.discover.cache_clear()
    monkeypatch.syspath_prepend(str(EXAMPLE_SITE))
    assert registry.rule_codes() == builtin + [EXAMPLE_CODE]
    rule = registry.get_rule(EXAMPLE_CODE)
    assert rule.__name__ == "onnxlint_example_plugin.xid001_identity_node"
    assert rule.ORIGIN == registry.origin(EXAMPLE_CODE) == f"plugin {EXAMPLE_DIST} 0.1.0"
    assert registry.select_rules(["XI"]) == [rule]
    assert rule not in registry.select_rules(None, [EXAMPLE_CODE])
    assert "onnxlint_example_plugin.xid001_identity_node" in registry.rule_module_names()


def test_plugins_are_sorted_by_code_and_may_name_an_object(fresh_discovery, monkeypatch, tmp_path):
    source = GOOD_RULE.format(code="XB001") + (
        "\n\nclass Rule:\n"
        '    """XA001 as-object: a rule that is a class, named by module:attribute."""\n\n'
        '    CODE = "XA001"\n    NAME = "as-object"\n    SEVERITY = "info"\n\n'
        "    @staticmethod\n    def check(model, options=None):\n        return []\n"
    )
    site = write_plugin(tmp_path, "onnxlint-two-rules", {"XB001": "two_rules", "XA001": "two_rules:Rule"}, {"two_rules": source}, version="2.5")
    monkeypatch.syspath_prepend(str(site))
    codes = registry.rule_codes()
    assert codes[-2:] == ["XA001", "XB001"]
    assert registry.get_rule("XA001").NAME == "as-object" and registry.origin("XA001") == "plugin onnxlint-two-rules 2.5"


@pytest.mark.parametrize(
    "entry_points, source, expected",
    [
        ({"XBR001": "bad_rule"}, 'raise RuntimeError("boom\\nsecond line")\n', "cannot be imported: RuntimeError: boom second line"),
        ({"XBR001": "bad_rule"}, GOOD_RULE.format(code="XBR001").replace('SEVERITY = "warning"', 'SEVERITY = "fatal"'), "SEVERITY must be one of"),
        ({"XBR001": "bad_rule"}, GOOD_RULE.format(code="XBR001").replace('NAME = "test-rule"\n', ""), "missing required attribute(s) NAME"),
        ({"XBR001": "bad_rule"}, GOOD_RULE.format(code="XBR001").split('"""\n', 1)[1], "has no docstring"),
        ({"XBR001": "bad_rule"}, GOOD_RULE.format(code="xbr001"), "CODE must be letters then digits"),
        ({"XBR002": "bad_rule"}, GOOD_RULE.format(code="XBR001"), "entry point name 'XBR002' is not the rule's CODE 'XBR001'"),
        ({"SH001": "bad_rule"}, GOOD_RULE.format(code="SH001"), "rule code SH001 is already defined by rule module 'rules.sh001"),
    ],
    ids=["raises", "severity", "missing", "no-doc", "code", "name", "clash"],
)
def test_a_plugin_that_cannot_be_loaded_raises_one_line_naming_it(fresh_discovery, monkeypatch, tmp_path, entry_points, source, expected):
    monkeypatch.syspath_prepend(str(write_plugin(tmp_path, "onnxlint-bad", entry_points, {"bad_rule": source})))
    with pytest.raises(RuleLoadError) as e:
        registry.rule_codes()
    assert str(e.value).startswith("plugin 'onnxlint-bad': ") and "\n" not in str(e.value)
    assert expected in str(e.value)


def test_cli_turns_a_load_error_into_one_line_exit_2(fresh_discovery, monkeypatch, tmp_path, capsys):
    from analyzer.cli import main

    monkeypatch.syspath_prepend(str(write_plugin(tmp_path, "onnxlint-bad", {"XBR001": "missing_module"}, {})))
    assert main(["rules"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("onnxlint: error: plugin 'onnxlint-bad': entry point XBR001 = missing_module cannot be imported")
    assert len(err.strip().splitlines()) == 1
