"""WS005 duplicate-initializer: byte-identical weights read by different nodes; the fix rewires
the copy's readers to the first and removes it, proven in onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from tests.rules._waste_graph_models import (
    duplicated_conv,
    lint,
    make_model,
    prove_each,
    prove_fix_file,
    vi,
    weight,
)


def model(same=True, dtype=np.float32):
    w = weight("W1", [4, 4], dtype=dtype)
    w2 = onnx.TensorProto()
    w2.CopyFrom(w)
    w2.name = "W2"
    if not same:
        arr = numpy_helper.to_array(w).copy()
        arr[0, 0] += 1
        w2 = numpy_helper.from_array(arr, "W2")
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["a"], name="mm1"),
             helper.make_node("MatMul", ["z", "W2"], ["b"], name="mm2"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add")]  # fmt: skip
    et = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return make_model(nodes, [vi("x", [2, 4], et), vi("z", [2, 4], et)], [vi("y", [2, 4], et)], [w, w2, weight("V", [4, 4], 9)])


def test_duplicate_found_and_unified():
    m = model()
    (f,) = lint(m, "WS005")
    assert f.node == "W2" and f.details["kept"] == "W1" and f.details["shape"] == [4, 4]
    assert f.waste == {"weights": 16, "bytes": 64, "macs": 0}
    assert len(f.details["sha256"]) == 64 and f.details["skipped_over_budget"] == 0
    prove_each(m, "WS005")
    fixed = prove_fix_file(m, "WS005")
    assert [t.name for t in fixed.graph.initializer] == ["W1", "V"]


def test_float16_bytes():
    (f,) = lint(model(dtype=np.float16), "WS005")
    assert f.waste == {"weights": 16, "bytes": 32, "macs": 0}


def test_one_different_element_is_not_a_duplicate():
    assert lint(model(same=False), "WS005") == []


def test_budget_skips_and_says_so():
    import analyzer
    from analyzer.model import analyze
    from rules import ws005_duplicate_initializer as ws005

    am = analyze(model())
    assert list(ws005.check(am, {"max-read-bytes": 10})) == []
    (rec,) = [u for u in am.unchecked if u.source == "WS005"]
    assert rec.count == 2 and "budget" in rec.message
    assert analyzer  # imported for the API


def test_copy_read_only_by_a_duplicate_node_is_ws006s():
    assert lint(duplicated_conv(), "WS005") == []
    assert lint(duplicated_conv(), "WS006")[0].waste["weights"] == 108
