"""The layout contract of README "Architecture": imports point down the layers of
pyproject.toml, no import cycle anywhere, and no rule code named outside rules/."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import grimp
import networkx as nx
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_layer_contract_holds():
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency (setup.cfg [test])"
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout


@pytest.mark.parametrize("package", ["analyzer", "rules"])
def test_no_import_cycles(package):
    graph = grimp.build_graph(package, cache_dir=None)
    g = nx.DiGraph()
    for m in graph.modules:
        for imported in graph.find_modules_directly_imported_by(m):
            # a package and its own submodules (``from pkg import sub``) are one unit
            if not (imported.startswith(m + ".") or m.startswith(imported + ".")):
                g.add_edge(m, imported)
    cycles = []
    for c in nx.simple_cycles(g):
        cycles.append(c)
        if len(cycles) >= 5:
            break
    assert not cycles, cycles


def test_no_rule_code_outside_rules():
    from analyzer.linter.registry import all_rules

    codes = [m.CODE for m in all_rules()]
    assert codes
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, codes)) + r")\b")
    hits = []
    for root, _dirs, files in os.walk(os.path.join(REPO, "analyzer")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as fh:
                    for i, line in enumerate(fh, 1):
                        if pattern.search(line):
                            hits.append(f"{os.path.relpath(path, REPO)}:{i}: {line.strip()}")
    assert not hits, "\n".join(hits[:20])


def test_check_imports_no_torch_or_onnxruntime():
    code = (
        "import sys; from analyzer.cli import main; main(['check', 'sample_models/drln_attention_dynamo.onnx']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnxruntime')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-2000:] + proc.stderr[-2000:]
