"""MV015 ref-attr-outside-function: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import assert_reported, assert_valid_not_reported, cases_for

CODE = "MV015"


@pytest.mark.parametrize("case", cases_for(CODE))
def test_reports_the_invalid_models(case):
    assert_reported(case)


def test_silent_on_valid_near_misses():
    assert_valid_not_reported([CODE])


def test_attributed_ops_are_the_nodes_with_attributes_in_walk_order():
    """attributed_ops (what the graph builder noted) lists exactly the nodes with an
    attribute, in graph.all_ops() order (main graph, If/Loop/Scan bodies, function bodies)."""
    import analyzer
    from rules._validity import attributed_ops
    from tests.rules._invalid_models import CASES

    seen = 0
    for name, case in CASES.items():
        try:
            am = analyzer.analyze(case[0]())
        except Exception:  # noqa: BLE001 - a model the graph refuses has no ops to list
            continue
        expected = [op for op in am.graph.all_ops() if len(op.proto.attribute)]
        assert attributed_ops(am) == expected, name
        seen += bool(expected) and any(op.graph != "main" for op in expected)
    assert seen  # some case has attributed nodes outside the main graph
