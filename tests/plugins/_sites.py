"""Folders that hold "installed" distributions: a package (or a module) and its
``*.dist-info`` (METADATA, entry_points.txt) side by side, which is all that
``importlib.metadata`` needs to find a distribution on ``sys.path``."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The example plugin (onnxlint_example_plugin/ and its dist-info) lives right here.
EXAMPLE_SITE = HERE
EXAMPLE_DIST = "onnxlint-example-plugin"
EXAMPLE_CODE = "XID001"
EXAMPLE_RULE_FILE = HERE / "onnxlint_example_plugin" / "xid001_identity_node.py"

GOOD_RULE = '''\
"""{code} test-rule: a rule for the tests.

## What it does
Nothing.

## Why is this bad?
It is not.

## How to fix
Nothing to fix.
"""
CODE = "{code}"
NAME = "test-rule"
SEVERITY = "warning"


def check(model, options=None):
    return []
'''


def write_plugin(site, dist: str, entry_points: dict, modules: dict, version="1.0") -> pathlib.Path:
    """Write the one-file modules ``modules`` (name -> source) and a distribution
    ``dist`` declaring ``entry_points`` (name -> value) in the group ``onnxlint.rules``
    into the folder ``site``; returns ``site``."""
    site = pathlib.Path(site)
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[onnxlint.rules]\n{lines}")
    return site


def rules_copy_with(tmp, rule_file) -> pathlib.Path:
    """A copy of the project's ``rules`` package in ``tmp/site/rules`` with the
    one-file rule ``rule_file`` dropped into it (the real rules/ is not touched);
    returns ``tmp/site``, which shadows the real package when first on sys.path."""
    site = pathlib.Path(tmp) / "site"
    shutil.copytree(ROOT / "rules", site / "rules", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(rule_file, site / "rules" / pathlib.Path(rule_file).name)
    return site


def run_onnxlint(*args, cwd, path=(), timeout=300):
    """``python -m analyzer ARGS`` in a subprocess with the folders ``path`` first on
    its sys.path (then the project): (exit code, stdout, stderr).  ``cwd`` also comes
    first (``python -m``): it must not hold another ``rules``."""
    env = {**os.environ}
    env.pop("NO_COLOR", None)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, path), str(ROOT)])
    p = subprocess.run(
        [sys.executable, "-m", "analyzer", *map(str, args)],
        cwd=str(cwd),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr
