"""MV006 opset-import: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import assert_reported, assert_valid_not_reported, cases_for

CODE = "MV006"


@pytest.mark.parametrize("case", cases_for(CODE))
def test_reports_the_invalid_models(case):
    assert_reported(case)


def test_silent_on_valid_near_misses():
    assert_valid_not_reported([CODE])


def test_known_opsets_do_not_read_the_whole_schema_history():
    """A model importing opsets onnx knows is checked from the registry's version map: the
    table of every schema's since_version (tens of ms, on every check) is left unread."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sample = os.path.join(root, "sample_models", "conv_stack_legacy.onnx")
    code = ("import sys, analyzer; from rules import _validity as v; "
            f"r = analyzer.lint({sample!r}, select=['MV']); "
            "assert r.files[0].status == 'ok', r.files[0].status; print(v._MAX is None)")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_too_new_still_reads_the_table():
    from rules import _validity as v

    newest = v.known_max_version("")
    assert not v.beyond_known("", newest) and v.beyond_known("", newest + 1)
    assert v.beyond_known("ai.onnx.ml", v.known_max_version("ai.onnx.ml") + 1)
