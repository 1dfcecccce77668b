"""The waste rules against a ground-truth corpus (issue 18): ``sample_models/waste_corpus.py``
builds ResNet-, MobileNet-, UNet- and transformer-like blocks in PyTorch, clean and with waste
planted (plus ONNX-level plants), exported with both exporters.

* every manifest item of a planted model is found by the rule it names;
* a planted model gets no other WS/DT finding than its manifest's and its ``allowed`` rules';
* a clean twin gets no WS/DT finding at all;
* every finding of a rule that has a fix is proven by execution, one finding at a time: the
  model is analyzed afresh, that finding alone is fixed (after the findings of the rules its
  fix needs, ``FIX_NEEDS``), onnxruntime runs both models on seeded random inputs (outputs
  within the float32 tolerance, 1e-5 relative), and the parameter count drops by exactly the
  finding's ``waste["weights"]``;
* ``onnxlint fix`` with every rule at once keeps the outputs and removes what the fixed
  findings claim at least.

A rule the corpus needs that does not exist fails ``test_every_waste_rule_exists`` and every
manifest item naming it: nothing here is skipped for a missing rule.
"""
from __future__ import annotations

import json
import os

import onnx
import pytest

import analyzer
from analyzer.linter.registry import all_rules, get_rule
from sample_models.waste_corpus import CASES, WASTE_CODES, build_all

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

PLANTED = [n for n, c in CASES.items() if c.expect]
CLEAN = [n for n, c in CASES.items() if not c.expect]


def _codes():
    have = {r.CODE for r in all_rules()}
    return [c for c in WASTE_CODES if c in have]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("waste_corpus"))


_FINDINGS: dict = {}


def findings_of(path):
    key = str(path)
    if key not in _FINDINGS:
        report = analyzer.lint(key, select=_codes())
        fr = report.files[0]
        assert fr.status == "ok", fr.error
        _FINDINGS[key] = list(fr.findings)
    return _FINDINGS[key]


def mentions(f, name) -> bool:
    text = json.dumps([f.node, f.message, f.related, f.details], default=str)
    return name in text


def matches(f, e) -> bool:
    return f.rule == e.rule and (e.op_type is None or f.op_type == e.op_type) and (e.name is None or mentions(f, e.name))


def describe(f) -> str:
    return f"{f.rule} {f.op_type} {f.node!r}: {f.message}"


def test_every_waste_rule_exists():
    have = {r.CODE for r in all_rules()}
    missing = [c for c in WASTE_CODES if c not in have]
    assert not missing, f"rules the waste corpus needs are missing: {missing}"


def test_corpus_models_are_valid(corpus):
    import numpy as np

    from analyzer.fix.runtime import session

    for name, path in corpus.items():
        onnx.checker.check_model(str(path), full_check=True)
        sess = session(str(path))
        feeds = {i.name: np.random.default_rng(0).standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
                 .astype(np.float32) for i in sess.get_inputs()}  # fmt: skip
        assert all(np.isfinite(o).all() for o in sess.run(None, feeds)), name
        assert os.path.getsize(path) < 100_000, name


@pytest.mark.parametrize("name", PLANTED)
def test_planted_waste_is_found(corpus, name):
    case = CASES[name]
    found = findings_of(corpus[name])
    missed = []
    for e in case.expect:
        hits = [f for f in found if matches(f, e)]
        if len(hits) < e.count:
            missed.append(f"{e.rule} {e.op_type or '*'} {e.name or ''} x{e.count} ({e.why}): {len(hits)} found")
    assert not missed, "planted waste not found:\n  " + "\n  ".join(missed) + "\nfindings:\n  " + "\n  ".join(
        describe(f) for f in found)


@pytest.mark.parametrize("name", PLANTED)
def test_planted_model_has_no_unplanted_finding(corpus, name):
    case = CASES[name]
    extra = [f for f in findings_of(corpus[name]) if f.rule not in case.allowed and not any(matches(f, e) for e in case.expect)]
    assert not extra, "findings nothing was planted for:\n  " + "\n  ".join(describe(f) for f in extra)


@pytest.mark.parametrize("name", CLEAN)
def test_clean_twin_has_no_finding(corpus, name):
    found = findings_of(corpus[name])
    assert not found, "findings on a clean model:\n  " + "\n  ".join(describe(f) for f in found)


def compare(original, fixed, runs: int = 2):
    """Outputs of both models on the same seeded inputs (``analyzer.fix.feeds``), compared by
    ``analyzer.fix.compare`` (float32: 1e-5 relative).  ``compare_models`` would feed the fixed
    model every input of the original: this gives it only those it still has (WS003 removes
    one).  Returns (ok, worst relative difference)."""
    from analyzer.fix.compare import compare_outputs, model_precision
    from analyzer.fix.feeds import input_dims, make_feeds
    from analyzer.fix.runtime import run_session, session

    s0, s1 = session(str(original)), session(str(fixed))
    names = [o.name for o in s0.get_outputs()]
    assert sorted(names) == sorted(o.name for o in s1.get_outputs()), "the fixed model's outputs are not the original's"
    inputs = s0.get_inputs()
    keep = {i.name for i in s1.get_inputs()}
    assert keep <= {i.name for i in inputs}, "the fixed model wants an input the original has not"
    precision = model_precision(onnx.load(str(original), load_external_data=False))
    dims = input_dims(inputs)
    ok, worst = True, 0.0
    for run in range(runs):
        feeds = make_feeds(inputs, dims, run)
        got = run_session(s1, names, {k: v for k, v in feeds.items() if k in keep})
        for r in compare_outputs(names, run_session(s0, names, feeds), got, precision):
            ok &= bool(r["ok"])
            worst = max(worst, float(r["max_rel"]))
    return ok, worst


def _fixable(code):
    return callable(getattr(get_rule(code), "fix_findings", None))


def prove_each_finding(path, code):
    """Fix every finding of ``code`` in ``path`` alone; returns the failures (strings), the
    number of findings proven, and the findings that declare no safe rewrite
    (``details["exact_rewrite"] is False``) and that fix refuses."""
    import tempfile

    from analyzer.fix.rewrite import count_params, rewrite_model
    from analyzer.fix.write import write_model
    from analyzer.io.load import load
    from analyzer.model import analyze_loaded

    rule = get_rule(code)
    needs = [get_rule(c) for c in getattr(rule, "FIX_NEEDS", ())]
    n = len(list(rule.check(analyzer.analyze(str(path)), {})))
    failures, proven, declared = [], 0, []
    for i in range(n):
        loaded = load(str(path), lazy=False)
        am = analyze_loaded(loaded, str(path))
        mine = list(rule.check(am, {}))
        f = mine[i]
        first = [g for r in needs for g in r.check(am, {})]
        before, _ = count_params(am.model)
        result = rewrite_model(am, first + [f], [(r.CODE, r.fix_findings) for r in needs] + [(code, rule.fix_findings)])
        changes = [c for c in result.changes if c.rule == code]
        if f.details.get("exact_rewrite") is False and all(c.status != "fixed" for c in changes):
            declared.append(describe(f))  # the finding says there is no safe rewrite, and fix agrees
            continue
        if not changes or any(c.status != "fixed" for c in changes):
            why = next((c.reason for c in changes if c.status != "fixed"), "no change recorded")
            failures.append(f"{describe(f)}: not fixed ({why})")
            continue
        after, _ = count_params(am.model)
        expected = int((f.waste or {}).get("weights") or 0)
        fixed_first = {c.node for c in result.changes if c.rule != code and c.status == "fixed"}
        expected += sum(int((g.waste or {}).get("weights") or 0) for g in first if g.node in fixed_first)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "fixed.onnx")
            write_model(am.model, loaded, out, result.externalize, original=str(path))
            onnx.checker.check_model(out, full_check=True)
            ok, worst = compare(path, out)
        if not ok or worst > 1e-5:
            failures.append(f"{describe(f)}: fixing it changes the outputs (max rel {worst:.3g})")
        elif before - after != expected:
            failures.append(f"{describe(f)}: fixing it removes {before - after} parameters, waste says {expected}")
        else:
            proven += 1
    return failures, proven, declared


@pytest.mark.parametrize("name", PLANTED)
def test_each_finding_is_proven_by_its_fix(corpus, name):
    codes = sorted({f.rule for f in findings_of(corpus[name]) if _fixable(f.rule)})
    failures = []
    for code in codes:
        failures += prove_each_finding(corpus[name], code)[0]
    assert not failures, "\n  ".join(["findings their fix does not prove:"] + failures)


@pytest.mark.parametrize("name", PLANTED)
def test_fix_everything_keeps_outputs(corpus, name, tmp_path):
    from analyzer.commands.fix import fix_file

    out = tmp_path / "fixed.onnx"
    rep = fix_file(str(corpus[name]), str(out))
    ok, worst = compare(corpus[name], out)
    assert ok and worst <= 1e-5, worst
    assert rep.params_after <= rep.params_before
    fixed = [c for c in rep.changes if c.status == "fixed"]
    assert rep.params_before - rep.params_after == sum(c.params_removed for c in fixed)
