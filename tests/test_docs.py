"""The documentation: the README a first-time user reads, and the MkDocs site (issue 19).

* the site builds in strict mode (a broken link or anchor fails), offline, and loads nothing
  from the network when read;
* every rule has a page, generated from the rule's own docstring through the same function
  (``analyzer.linter.ruledoc.describe``) that ``onnxlint rules CODE`` and SARIF help use, and
  the page's text is what ``onnxlint rules CODE`` prints;
* the README keeps the two commands, ``.ci/run`` runs them, its relative links resolve, and it
  stays short.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from analyzer.cli import main
from analyzer.linter import ruledoc
from analyzer.linter.registry import BUILTIN, all_rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
CI_RUN = os.path.join(ROOT, ".ci", "run")
DOCS = os.path.join(ROOT, "docs")

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import mkdocs_hooks  # noqa: E402  (scripts/mkdocs_hooks.py, the site's rule-page generator)

sys.path.remove(os.path.join(ROOT, "scripts"))

BUILTIN_CODES = [r.CODE for r in all_rules() if getattr(r, "ORIGIN", BUILTIN) == BUILTIN]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- the site


def require_mkdocs():
    try:
        import mkdocs  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.fail("mkdocs is not installed: pip install -e '.[test]' (or '.[docs]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built in strict mode, once for this module. mkdocs is in the `test` extra (and
    `.ci/run` installs the `docs` extra), so a missing mkdocs is a failure, not a skip."""
    require_mkdocs()
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", os.path.join(ROOT, "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def test_strict_build_passes_and_has_every_page(site):
    for page in ("index.html", "usage/index.html", "output-formats/index.html", "ci/index.html", "rules/index.html"):
        assert (site / page).is_file(), page
    nav = read(os.path.join(ROOT, "mkdocs.yml"))
    for md in sorted(os.listdir(DOCS)):
        if md.endswith(".md"):
            assert f" {md}" in nav, f"docs/{md} is not in mkdocs.yml's nav"


def test_strict_mode_catches_a_broken_link(tmp_path):
    """The CI build would fail on a broken link: strict mode really is on for anchors and pages."""
    require_mkdocs()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) and [no anchor](#nowhere)\n")
    (tmp_path / "mkdocs.yml").write_text(
        read(os.path.join(ROOT, "mkdocs.yml")).split("\nhooks:")[0] + "\nvalidation:\n  anchors: warn\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    assert "missing.md" in proc.stderr and "nowhere" in proc.stderr


def test_site_builds_without_a_network(tmp_path):
    """Offline: the strict build in a network namespace with no interface but loopback
    (``unshare -rn``, where the kernel allows unprivileged user namespaces)."""
    require_mkdocs()
    import shutil

    if not shutil.which("unshare") or subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode:
        pytest.skip("unshare -rn is not available here: cannot cut the network for the build")
    proc = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "out" / "rules" / "DT001" / "index.html").is_file()


def test_site_loads_nothing_from_the_network(site):
    """Offline: no script, stylesheet, font or image from another host in any page."""
    external = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    pages = list(site.rglob("*.html"))
    assert len(pages) > len(BUILTIN_CODES)
    for page in pages:
        hits = external.findall(page.read_text(encoding="utf-8"))
        assert not hits, (page, hits)


def test_every_rule_has_a_page_and_an_index_entry(site):
    index = (site / "rules" / "index.html").read_text(encoding="utf-8")
    assert len(BUILTIN_CODES) >= 40
    for code in BUILTIN_CODES:
        rd = ruledoc.rule_doc(code)
        page = site / "rules" / code / "index.html"
        assert page.is_file(), code
        html = page.read_text(encoding="utf-8")
        assert f"{code} {rd.name}" in html
        for heading in ("What it does", "Why is this bad?", "How to fix"):
            assert f">{heading}</h2>" in html, (code, heading)
        assert f'href="{code}/"' in index, code
    assert [rd.code for rd in mkdocs_hooks.builtin_rule_docs()] == BUILTIN_CODES


# ------------------------------------------- rule pages, `rules CODE`, SARIF: one source


def _page_body(page: str, code: str) -> str:
    marker = mkdocs_hooks.DOC_MARKER.format(code=code)
    assert page.count(marker) == 1
    return page.split(marker, 1)[1].strip("\n")


@pytest.mark.parametrize("code", BUILTIN_CODES)
def test_rule_page_is_what_rules_code_prints(code, capsys):
    rd = ruledoc.rule_doc(code)
    page = mkdocs_hooks.rule_page(rd)
    assert page.startswith(f"# {code} {rd.name}\n")
    assert f"| default severity | {rd.severity} |" in page
    assert f"| fix | {'yes' if rd.fixable else 'no'}" in page
    assert main(["rules", code]) == 0
    out = capsys.readouterr().out
    header, body = out.split("\n\n", 1)
    assert header == f"{code} {rd.name} (default severity: {rd.severity}; built-in)"
    assert body.rstrip("\n") == _page_body(page, code)
    assert main(["rules", code, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["doc"] == _page_body(page, code)


def test_index_lists_every_rule_with_its_summary():
    docs = mkdocs_hooks.builtin_rule_docs()
    index = mkdocs_hooks.index_page(docs)
    for rd in docs:
        row = next(line for line in index.splitlines() if line.startswith(f"| [{rd.code}]({rd.code}.md) |"))
        assert f"| {rd.name} | {rd.severity} | {'yes' if rd.fixable else 'no'} |" in row
        assert rd.summary.replace("|", "\\|") in row


def test_cli_sarif_and_site_read_the_same_function(monkeypatch, capsys, tmp_path):
    """Change what `describe` returns and all three outputs change with it."""
    from analyzer.findings import Report
    from analyzer.report.sarif import render_sarif

    real = ruledoc.describe

    def fake(rule):
        rd = real(rule)
        doc = f"{rd.code} {rd.name}: summary from the one source.\n\n## What it does\nmarker-{rd.code}"
        return ruledoc.RuleDoc(**{**rd.__dict__, "doc": doc})

    monkeypatch.setattr(ruledoc, "describe", fake)
    sarif = json.loads(render_sarif(Report()))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    for code in BUILTIN_CODES:
        assert rules[code]["help"]["text"].endswith(f"marker-{code}")
        assert rules[code]["shortDescription"]["text"] == "summary from the one source."
        assert rules[code]["fullDescription"]["text"] == f"marker-{code}"
        assert main(["rules", code]) == 0
        assert capsys.readouterr().out.rstrip().endswith(f"marker-{code}")
    pages = {rd.code: mkdocs_hooks.rule_page(rd) for rd in mkdocs_hooks.builtin_rule_docs()}
    assert all(_page_body(p, c).endswith(f"marker-{c}") for c, p in pages.items())
    monkeypatch.undo()
    sarif = json.loads(render_sarif(Report()))
    for r in sarif["runs"][0]["tool"]["driver"]["rules"]:
        if r["id"] in BUILTIN_CODES:
            assert r["help"]["text"] == ruledoc.rule_doc(r["id"]).doc


# ---------------------------------------------------------------- the README


def _two_commands():
    text = read(README)
    section = text.split("## Set-up and the two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    return commands


def test_readme_has_the_two_commands_verbatim():
    main_job, tests = _two_commands()
    assert main_job == "pip install -e . && onnxlint check sample_models/"
    assert tests == (
        "pip install torch==2.13.0 && pip install -e '.[test]' && lint-imports && python -m pytest -q tests/"
    )


def _normalize(line: str) -> str:
    line = re.sub(r"\bpython3\b", "python", line.strip())
    line = line.replace("python -m pip", "pip").replace(" --quiet", "")
    return " ".join(line.split())


def test_ci_runs_the_readme_commands_in_order():
    ci = [_normalize(line) for line in read(CI_RUN).splitlines()]
    main_job, tests = _two_commands()
    assert any(line.startswith("onnxlint check sample_models/") for line in ci)
    pos = -1
    for step in tests.split("&&"):
        step = _normalize(step)
        later = [i for i, line in enumerate(ci) if line == step and i > pos]
        assert later, f".ci/run does not run the README's step {step!r} (after line {pos})"
        pos = later[0]
    assert any(line.startswith("mkdocs build --strict") for line in ci), ".ci/run must build the site"


def _anchors(md_text: str) -> set:
    from markdown.extensions.toc import slugify

    text = re.sub(r"```.*?```", "", md_text, flags=re.S)
    return {slugify(re.sub(r"[`*]", "", h), "-") for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_relative_links_resolve():
    text = read(README)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert len(links) >= 15
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = os.path.join(ROOT, path) if path else README
        assert os.path.exists(target), f"README links {link!r}: {path} does not exist"
        if anchor:
            assert anchor in _anchors(read(target)), f"README links {link!r}: no such heading"


def test_readme_is_short_and_points_to_the_docs():
    text = read(README)
    assert len(text.splitlines()) < 300
    for page in sorted(os.listdir(DOCS)):
        if page.endswith(".md") and page != "index.md":
            assert f"(docs/{page})" in text or f"(docs/{page}#" in text, f"README has no pointer to docs/{page}"
    assert "THREATS.md" not in text and "rev: v0.1.0" not in text
