"""MV005 unsorted-nodes: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import assert_reported, assert_valid_not_reported, cases_for

CODE = "MV005"


@pytest.mark.parametrize("case", cases_for(CODE))
def test_reports_the_invalid_models(case):
    assert_reported(case)


def test_silent_on_valid_near_misses():
    assert_valid_not_reported([CODE])


def test_body_reading_a_later_outer_value_names_the_holder():
    found = assert_reported("body-reads-later-outer-value")  # once in each branch
    assert sorted(f.graph for f in found) == ["main/if.else_branch", "main/if.then_branch"]
    assert all(f.details["holder"]["node"] == "if" and f.details["tensor"] == "t" for f in found)


def test_file_order_shortcut_holds_only_for_sorted_models():
    """MV005 skips the walk over every input when each graph's topological order is its file
    order; each unsorted case (main, body, function, a body reading a later outer value)
    must fail that test, and the valid models pass it."""
    import analyzer
    from rules._validity import graphs_in_file_order
    from tests.rules._invalid_models import CASES, VALID

    for name, (build, code, _) in CASES.items():
        if code == CODE:
            assert not graphs_in_file_order(analyzer.analyze(build())), name
    sorted_ok = [name for name, build in VALID.items() if graphs_in_file_order(analyzer.analyze(build()))]
    assert sorted_ok  # the shortcut is taken on valid models
