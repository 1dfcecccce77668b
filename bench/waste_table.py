"""Waste per rule on the committed samples and on the waste corpus, and what ``fix`` proves.

    python bench/waste_table.py                  # both tables, Markdown, on stdout
    python bench/waste_table.py --corpus-dir D   # keep the corpus models in D (default: a temp dir)

For each set of models (``sample_models/*.onnx``; the cases of ``sample_models/waste_corpus.py``,
exported here) and each waste rule (WS001-WS015, DT001, DT002): the findings, the waste they
total (``waste["weights"]``, ``["bytes"]``, ``["macs"]``; an unknown figure counts 0 and is
marked ``+?``), and, for a rule that has a fix, what ``onnxlint fix --select RULE`` (plus the
rules its fix needs, ``FIX_NEEDS``, minus what those alone remove) removes from every model of
the set: parameters
(``analyzer.fix.rewrite.count_params`` before and after) and MACs (``model_macs`` of the
analyzed model before and after).  The reduction is counted only when onnxruntime runs both
models to the same outputs (:func:`compare`, float32: 1e-5 relative); a model whose fixed
outputs differ is counted in the ``failed`` column instead.  The last row fixes every rule at once.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _rules():
    from analyzer.linter.registry import all_rules
    from sample_models.waste_corpus import WASTE_CODES

    have = {r.CODE: r for r in all_rules()}
    return [have[c] for c in WASTE_CODES if c in have], [c for c in WASTE_CODES if c not in have]


def _macs(path):
    import analyzer
    from analyzer.analyses.macs import model_macs

    return model_macs(analyzer.analyze(str(path)))


def compare(original, fixed, runs: int = 2) -> dict:
    """Run both models on the same seeded inputs (``analyzer.fix.feeds``) and compare every
    output (``analyzer.fix.compare``).  Unlike ``compare_models``, the fixed model may have
    dropped an input (WS003): it gets the inputs it still has."""
    import onnx

    from analyzer.fix.compare import compare_outputs, model_precision
    from analyzer.fix.feeds import input_dims, make_feeds
    from analyzer.fix.runtime import run_session, session

    s0, s1 = session(str(original)), session(str(fixed))
    names = [o.name for o in s0.get_outputs()]
    if sorted(names) != sorted(o.name for o in s1.get_outputs()):
        return {"ok": False, "why": "the outputs differ in name", "max_rel": None}
    inputs = s0.get_inputs()
    keep = {i.name for i in s1.get_inputs()}
    if not keep <= {i.name for i in inputs}:
        return {"ok": False, "why": "the fixed model wants an input the original has not", "max_rel": None}
    precision = model_precision(onnx.load(str(original), load_external_data=False))
    dims = input_dims(inputs)
    ok, worst = True, 0.0
    for run in range(runs):
        feeds = make_feeds(inputs, dims, run)
        got = run_session(s1, names, {k: v for k, v in feeds.items() if k in keep})
        for r in compare_outputs(names, run_session(s0, names, feeds), got, precision):
            ok &= bool(r["ok"])
            worst = max(worst, float(r["max_rel"]))
    return {"ok": ok, "why": None if ok else f"outputs differ (max rel {worst:.3g})", "max_rel": worst}


def _fix(path, codes, tmp, own=None):
    """Fix ``path`` for ``codes`` (None: every rule): (params removed, macs removed or None,
    outputs equal, fixed changes, refused changes), the changes counted for ``own`` only
    when given."""
    from analyzer.commands.fix import fix_file

    out = pathlib.Path(tmp) / (pathlib.Path(path).stem + "." + "_".join(codes or ["all"]) + ".onnx")
    rep = fix_file(str(path), str(out), codes=codes)
    mine = [c for c in rep.changes if own is None or c.rule == own]
    fixed = sum(1 for c in mine if c.status == "fixed")
    refused = sum(1 for c in mine if c.status != "fixed")
    if not any(c.status == "fixed" for c in rep.changes):
        return 0, 0, True, fixed, refused
    ok = compare(path, out)["ok"]
    m0, m1 = _macs(path), _macs(out)
    macs = None if m0 is None or m1 is None else m0 - m1
    return rep.params_before - rep.params_after, macs, ok, fixed, refused


def _fix_rule(path, rule, tmp):
    """What fixing ``rule``'s findings removes: with the rules its fix needs (``FIX_NEEDS``)
    first, minus what those alone remove."""
    needs = [c for c in getattr(rule, "FIX_NEEDS", ()) if c != rule.CODE]
    p, m, ok, fixed, refused = _fix(path, [rule.CODE] + needs, tmp, own=rule.CODE)
    if needs and ok:
        p0, m0, ok0, _, _ = _fix(path, needs, tmp)
        p, m, ok = p - p0, (None if m is None or m0 is None else m - m0), ok and ok0
    return p, m, ok, fixed, refused


def _fmt(n, unknown=False):
    return f"{n:,}" + (" +?" if unknown else "")


def table(paths, rules, tmp) -> str:
    import analyzer

    codes = [r.CODE for r in rules]
    rows = {c: {"findings": 0, "weights": 0, "bytes": 0, "macs": 0, "unknown": set(), "p": 0, "m": 0,
                "m_unknown": False, "failed": 0, "fixed": 0, "refused": 0} for c in codes}  # fmt: skip
    total = dict(rows[codes[0]]) if codes else {}
    total.update(unknown=set(), p=0, m=0, m_unknown=False, failed=0, fixed=0, refused=0)
    params = macs = 0
    for path in paths:
        import onnx

        from analyzer.fix.rewrite import count_params

        params += count_params(onnx.load(str(path), load_external_data=False))[0]
        m = _macs(path)
        macs += m or 0
        found = analyzer.lint(str(path), select=codes).findings
        for f in found:
            row = rows[f.rule]
            row["findings"] += 1
            for k in ("weights", "bytes", "macs"):
                v = (f.waste or {}).get(k)
                if v is None:
                    row["unknown"].add(k)
                else:
                    row[k] += int(v)
        for r in rules:
            if not callable(getattr(r, "fix_findings", None)) or not any(f.rule == r.CODE for f in found):
                continue
            p, mm, ok, fixed, refused = _fix_rule(path, r, tmp)
            row = rows[r.CODE]
            row["fixed"] += fixed
            row["refused"] += refused
            if not ok:
                row["failed"] += 1
                continue
            row["p"] += p
            if mm is None:
                row["m_unknown"] = True
            else:
                row["m"] += mm
        if found:
            p, mm, ok, fixed, refused = _fix(path, None, tmp)
            total["fixed"] += fixed
            total["refused"] += refused
            if not ok:
                total["failed"] += 1
            else:
                total["p"] += p
                total["m"] += mm or 0
                total["m_unknown"] |= mm is None
    lines = [
        "| rule | findings | wasted weights | bytes | MACs | fix: fixed / refused | fix: parameters removed | fix: MACs removed | fix failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rules:
        row = rows[r.CODE]
        has_fix = callable(getattr(r, "fix_findings", None))
        fix_cols = (f"{row['fixed']} / {row['refused']}", _fmt(row["p"]), _fmt(row["m"], row["m_unknown"]), str(row["failed"])) \
            if has_fix else ("no fix", "-", "-", "-")
        lines.append(f"| {r.CODE} {r.NAME} | {row['findings']} | {_fmt(row['weights'], 'weights' in row['unknown'])} | "
                     f"{_fmt(row['bytes'], 'bytes' in row['unknown'])} | {_fmt(row['macs'], 'macs' in row['unknown'])} | "
                     + " | ".join(fix_cols) + " |")  # fmt: skip
    tw = sum(rows[c]["weights"] for c in codes)
    tb = sum(rows[c]["bytes"] for c in codes)
    tm = sum(rows[c]["macs"] for c in codes)
    tf = sum(rows[c]["findings"] for c in codes)
    lines.append(f"| **all (fix every rule at once)** | {tf} | {_fmt(tw)} | {_fmt(tb)} | {_fmt(tm)} | "
                 f"{total['fixed']} / {total['refused']} | {_fmt(total['p'])} | {_fmt(total['m'], total['m_unknown'])} | "
                 f"{total['failed']} |")  # fmt: skip
    lines.append("")
    lines.append(f"{len(paths)} models, {params:,} parameters, {macs:,} MACs in all.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus-dir", help="write the corpus models here (default: a temporary folder)")
    args = ap.parse_args(argv)
    from sample_models.waste_corpus import build_all

    rules, missing = _rules()
    with tempfile.TemporaryDirectory(prefix="waste-table-") as tmp:
        corpus_dir = pathlib.Path(args.corpus_dir or (pathlib.Path(tmp) / "corpus"))
        corpus = sorted(build_all(corpus_dir).values())
        samples = sorted((REPO / "sample_models").glob("*.onnx"))
        fixdir = pathlib.Path(tmp) / "fixed"
        fixdir.mkdir()
        print(f"### Committed samples (`sample_models/*.onnx`, {len(samples)} models)\n")
        print(table(samples, rules, fixdir))
        print(f"\n### Waste corpus (`sample_models/waste_corpus.py`, {len(corpus)} models)\n")
        print(table(corpus, rules, fixdir))
    if missing:
        print(f"\nrules not present: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
