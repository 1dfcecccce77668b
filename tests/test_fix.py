"""``onnxlint fix`` (issue 7): every rewrite proven by execution in onnxruntime.

Ground truth is ``tests/oracle.py`` (onnxruntime, never the analyzer): the original and the
fixed model run on the same seeded random inputs and every output must agree within
``RTOL`` of ``max(1, max |output|)``.  Small onnx.helper models cover each geometry (grouped,
1-D, 3-D, a partially dead 7x7 kernel on a 3x3 map, ConvTranspose, a folded Pad, auto_pad,
evenly spaced live taps) and each refusal; the full DRLN x2 from both exporters is exported
once per session (``drln_exports``, shared with ``test_verify.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer import cli
from analyzer.commands.fix import fix_file
from tests import oracle as O

REPO = pathlib.Path(__file__).resolve().parent.parent
RTOL = 1e-5
OPSET = 17
N_BLOCKS = 20
TOTAL_DEAD = N_BLOCKS * (3 * 2048 + 6144)  # 245,760: 8 of 9 taps of the four attention convs


# --------------------------------------------------------------------------------------
# building small models


def make_model(nodes, inputs, outputs, inits, *, opset=OPSET, ir=8, **kw):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)
    m.ir_version = ir
    return onnx.shape_inference.infer_shapes(m)  # declares the outputs' shapes, as the checker wants


def conv_model(x_shape, w_shape, *, op="Conv", bias=True, seed=0, x_name="x", pre=(), post_relu=False, **attrs):
    """x -> [pre nodes] -> op(W, B) -> y.  ``pre`` nodes read ``x`` and write ``x_name``."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "W")
    inits = [w]
    ins = [x_name, "W"]
    if bias:
        out_ch = w_shape[0] if op == "Conv" else w_shape[1] * attrs.get("group", 1)
        inits.append(numpy_helper.from_array(rng.standard_normal(out_ch).astype(np.float32), "B"))
        ins.append("B")
    nodes = list(pre) + [helper.make_node(op, ins, ["c" if post_relu else "y"], name="conv", **attrs)]
    if post_relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"], name="relu"))
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def attention_model(channels=16, branch=4, pool="GlobalAveragePool", acts=("Relu", "Relu", "Relu"),
                    extra_concat=(), group=1, dilations=(3, 5, 7), seed=0):
    """DRLN's attention layer in small: pool, three dilated 3x3 branches (+ activation),
    Concat (with optional extra inputs, as ``("before"|"after", name)``), 3x3 fuse, sigmoid, mul."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 8, 8])
    if pool == "GlobalAveragePool":
        nodes.append(helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"))
    else:
        nodes.append(helper.make_node("ReduceMean", ["x"], ["p"], name="pool", axes=[2, 3], keepdims=1))
    cat_in = []
    for i, (d, act) in enumerate(zip(dilations, acts)):
        inits.append(numpy_helper.from_array(rng.standard_normal((branch, channels // group, 3, 3)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(rng.standard_normal(branch).astype(np.float32), f"b{i}"))
        out = f"c{i}"
        nodes.append(helper.make_node("Conv", ["p", f"w{i}", f"b{i}"], [out], name=f"branch{i}", dilations=[d, d],
                                      pads=[d] * 4, kernel_shape=[3, 3], group=group))
        if act:
            nodes.append(helper.make_node(act, [out], [f"a{i}"], name=f"act{i}"))
            out = f"a{i}"
        cat_in.append(out)
    n_extra = 0
    for where, name in extra_concat:
        inits.append(numpy_helper.from_array(rng.standard_normal((1, 2, 1, 1)).astype(np.float32), name))
        cat_in = [name] + cat_in if where == "before" else cat_in + [name]
        n_extra += 2
    nodes.append(helper.make_node("Concat", cat_in, ["cat"], name="concat", axis=1))
    fuse_in = branch * len(dilations) + n_extra
    inits.append(numpy_helper.from_array(rng.standard_normal((channels, fuse_in, 3, 3)).astype(np.float32), "wf"))
    nodes += [
        helper.make_node("Conv", ["cat", "wf"], ["f"], name="fuse", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["f"], ["s"], name="sigmoid"),
        helper.make_node("Mul", ["x", "s"], ["y"], name="mul"),
    ]
    return make_model(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def save(model, path, external=False) -> pathlib.Path:
    path = pathlib.Path(path)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".weights", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path


# --------------------------------------------------------------------------------------
# checks


def assert_same_outputs(original, fixed, dims=None, seeds=(0, 1)):
    s0, s1 = O.make_session(original), O.make_session(fixed)
    names = [o.name for o in s0.get_outputs()]
    assert names == [o.name for o in s1.get_outputs()]
    worst = 0.0
    for seed in seeds:
        feeds = O.random_inputs(s0, dims, seed)
        a, b = s0.run(None, feeds), s1.run(None, feeds)
        rel = [d / s for d, s in zip(O.max_abs_diffs(b, a), O.output_scale(a))]
        worst = max([worst] + rel)
    assert worst <= RTOL, f"fixed model differs: {worst:.3g}"
    return worst


def params(path) -> int:
    m = onnx.load(str(path))
    return sum(int(np.prod(t.dims)) for t in m.graph.initializer)


def node(model_or_path, name):
    m = onnx.load(str(model_or_path)) if not isinstance(model_or_path, onnx.ModelProto) else model_or_path
    return next(n for n in m.graph.node if n.name == name)


def attrs(n) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def weight_shape(path, name) -> list:
    m = onnx.load(str(path))
    return next(list(t.dims) for t in m.graph.initializer if t.name == name)


def fixed(tmp_path, model, name="m", codes=("DT001", "DT002"), external=False):
    src = save(model, tmp_path / f"{name}.onnx", external)
    out = tmp_path / f"{name}_fixed.onnx"
    rep = fix_file(src, out, codes)
    onnx.checker.check_model(str(out), full_check=True)
    return src, out, rep


def by_rule(rep, rule):
    return [c for c in rep.changes if c.rule == rule]


def check_removed_matches_findings(src, out, rep):
    """Report, parameter count and the analyzer's dead_weights all agree."""
    dead = sum(f.details["dead_weights"] for f in analyzer.lint(str(src), select=["DT001"]).findings)
    fixed_dt1 = [c for c in by_rule(rep, "DT001") if c.status == "fixed"]
    assert sum(c.params_removed for c in fixed_dt1) == dead
    assert params(src) - params(out) == rep.params_before - rep.params_after == dead


# --------------------------------------------------------------------------------------
# DT001 geometries


def test_drln_attention_small(tmp_path):
    src, out, rep = fixed(tmp_path, attention_model())
    assert [c.status for c in rep.changes] == ["fixed"] * 5
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)
    m = onnx.load(str(out))
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    assert len(convs) == 2  # one merged branch conv + the fuse conv
    for c in convs:
        a = attrs(c)
        assert a["kernel_shape"] == [1, 1] and a["pads"] == [0, 0, 0, 0] and a["dilations"] == [1, 1]
    merged = next(c for c in convs if c.input[0] == "p")
    assert weight_shape(out, merged.input[1]) == [12, 16, 1, 1]
    relu = next(n for n in m.graph.node if n.op_type == "Relu")
    assert list(relu.input) == [merged.output[0]] and list(relu.output) == ["cat"]  # the Concat's name is kept
    assert not any(n.op_type == "Concat" for n in m.graph.node)
    # the merge itself changes no parameter count
    assert [c.params_removed for c in by_rule(rep, "DT002")] == [0]
    # nothing left to find
    assert analyzer.lint(str(out)).findings == []


def test_grouped_conv(tmp_path):
    # group 4, 8 -> 8 channels, 5x5 dilation 2, pads 4 on a 2x3 map: live taps {2} x {1, 2, 3}
    model = conv_model([1, 8, 2, 3], [8, 2, 5, 5], group=4, dilations=[2, 2], pads=[4, 4, 4, 4], kernel_shape=[5, 5])
    src, out, rep = fixed(tmp_path, model)
    (c,) = rep.changes
    assert c.status == "fixed", c.reason
    a = attrs(node(out, "conv"))
    assert a["group"] == 4 and weight_shape(out, "W") == [8, 2, 1, 3]
    assert a["dilations"] == [1, 2] and a["pads"] == [0, 2, 0, 2]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_depthwise_conv_on_pooled_map(tmp_path):
    pre = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool")]
    model = conv_model([2, 6, 5, 5], [6, 1, 3, 3], group=6, pads=[1, 1, 1, 1], x_name="p", pre=pre)
    src, out, rep = fixed(tmp_path, model)
    assert weight_shape(out, "W") == [6, 1, 1, 1] and attrs(node(out, "conv"))["pads"] == [0, 0, 0, 0]
    assert_same_outputs(src, out)


def test_conv1d(tmp_path):
    # length-2 input, k=7, pads 4/4: taps 1..5 read data
    src, out, rep = fixed(tmp_path, conv_model([1, 3, 2], [4, 3, 7], pads=[4, 4]))
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [4, 3, 5] and a["pads"] == [3, 3] and a["kernel_shape"] == [5]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_partially_dead_7x7_on_3x3(tmp_path):
    src, out, rep = fixed(tmp_path, conv_model([1, 4, 3, 3], [5, 4, 7, 7], pads=[3, 3, 3, 3]))
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [5, 4, 5, 5] and a["pads"] == [2, 2, 2, 2]
    assert rep.changes[0].params_removed == 5 * 4 * (49 - 25)
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_asymmetric_pads_and_stride(tmp_path):
    src, out, rep = fixed(tmp_path, conv_model([1, 2, 3, 5], [3, 2, 7, 5], pads=[3, 2, 1, 2], strides=[2, 3]))
    assert rep.changes[0].status == "fixed", rep.changes[0].reason
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_conv3d(tmp_path):
    src, out, rep = fixed(tmp_path, conv_model([1, 2, 1, 4, 4], [3, 2, 3, 3, 3], pads=[1, 1, 1, 1, 1, 1]))
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [3, 2, 1, 3, 3] and a["pads"] == [0, 1, 1, 0, 1, 1]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_evenly_spaced_live_taps_become_dilation(tmp_path):
    # one input position, stride 2, pads 4: taps 0, 2, 4 read it (at outputs 2, 1, 0)
    src, out, rep = fixed(tmp_path, conv_model([1, 2, 1], [3, 2, 5], strides=[2], pads=[4, 4]))
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [3, 2, 3] and a["dilations"] == [2] and a["pads"] == [4, 4]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_conv_transpose(tmp_path):
    # 1x1 input, 3x3 kernel, pads 1: only the centre tap writes inside the output
    src, out, rep = fixed(tmp_path, conv_model([1, 4, 1, 1], [4, 6, 3, 3], op="ConvTranspose", pads=[1, 1, 1, 1]))
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [4, 6, 1, 1] and a["pads"] == [0, 0, 0, 0]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_conv_transpose_strided_grouped_output_padding(tmp_path):
    model = conv_model([1, 4, 2, 2], [4, 3, 5, 5], op="ConvTranspose", group=2, strides=[2, 2], pads=[3, 3, 3, 3],
                       output_padding=[1, 1])
    src, out, rep = fixed(tmp_path, model)
    assert rep.changes[0].status == "fixed", rep.changes[0].reason
    a = attrs(node(out, "conv"))
    assert weight_shape(out, "W") == [4, 3, 4, 4] and a["pads"] == [2, 2, 3, 3] and a["output_padding"] == [1, 1]
    assert_same_outputs(src, out)
    check_removed_matches_findings(src, out, rep)


def test_conv_transpose_output_shape(tmp_path):
    model = conv_model([1, 2, 1, 1], [2, 3, 3, 3], op="ConvTranspose", output_shape=[1, 1])
    src, out, rep = fixed(tmp_path, model)
    a = attrs(node(out, "conv"))
    assert "output_shape" not in a and weight_shape(out, "W") == [2, 3, 1, 1]
    assert_same_outputs(src, out)


def test_folded_pad_node_goes(tmp_path):
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    pre = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
           helper.make_node("Pad", ["p", "pads"], ["pp"], name="pad", mode="constant")]
    model = conv_model([1, 4, 6, 6], [5, 4, 3, 3], x_name="pp", pre=pre)
    model.graph.initializer.append(pads)
    src, out, rep = fixed(tmp_path, model)
    m = onnx.load(str(out))
    assert [n.op_type for n in m.graph.node] == ["GlobalAveragePool", "Conv"]
    assert node(m, "conv").input[0] == "p" and "pads" not in {t.name for t in m.graph.initializer}
    assert_same_outputs(src, out)


def test_auto_pad_same(tmp_path):
    src, out, rep = fixed(tmp_path, conv_model([1, 3, 1, 2], [4, 3, 3, 3], auto_pad="SAME_UPPER"))
    a = attrs(node(out, "conv"))
    assert "auto_pad" not in a and a["kernel_shape"] == [1, 3]
    assert_same_outputs(src, out)


def test_float16(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float16), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1])
    model = make_model([conv], [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 3, 1, 1])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)], [w])
    src = save(model, tmp_path / "h.onnx")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "f.onnx"), "--verify", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["totals"]["params_removed"] == 96 and d["totals"]["bytes_removed"] == 192
    assert d["verification"]["precision"] == "float16" and d["verification"]["rtol"] == 1e-2
    assert_same_outputs(src, tmp_path / "f.onnx")


# --------------------------------------------------------------------------------------
# DT001 refusals


def _refusal(tmp_path, model, rule="DT001"):
    src, out, rep = fixed(tmp_path, model)
    refused = [c for c in rep.changes if c.rule == rule and c.status == "refused"]
    assert refused, rep.changes
    assert_same_outputs(src, out)  # the model is still written, unchanged where refused
    return refused[0].reason


def test_refuses_uneven_live_taps(tmp_path):
    # length 2, k=4, stride 3, pads 2/3: taps 0, 2, 3 read data
    assert "not evenly spaced" in _refusal(tmp_path, conv_model([1, 2, 2], [3, 2, 4], strides=[3], pads=[2, 3]))


def test_refuses_negative_pads(tmp_path):
    # length 3, k=2, dilation 3, pads 1/0: tap 0 reads index -1, tap 1 index 2: would need pad -2
    assert "negative" in _refusal(tmp_path, conv_model([1, 2, 3], [3, 2, 2], dilations=[3], pads=[1, 0]))


def test_refuses_no_live_tap(tmp_path):
    assert "bias alone" in _refusal(tmp_path, conv_model([1, 2, 1], [3, 2, 1], strides=[2], pads=[1, 0]))


def test_refuses_conv_transpose_same_with_output_padding(tmp_path):
    # onnx infers n*stride + output_padding here, onnxruntime computes n*stride: no rewrite can satisfy both
    model = conv_model([1, 2, 1, 1], [2, 1, 1, 3], op="ConvTranspose", strides=[1, 2], auto_pad="SAME_UPPER",
                       output_padding=[0, 1])
    assert "disagree" in _refusal(tmp_path, model)


def test_refuses_shared_weight(tmp_path):
    model = conv_model([1, 4, 1, 1], [4, 4, 3, 3], pads=[1, 1, 1, 1], post_relu=True)
    model.graph.node.append(helper.make_node("Conv", ["y", "W"], ["y2"], name="conv2", pads=[1, 1, 1, 1]))
    model.graph.output.append(helper.make_tensor_value_info("y2", TensorProto.FLOAT, None))
    assert "shared" in _refusal(tmp_path, onnx.shape_inference.infer_shapes(model))


def test_refuses_computed_weight(tmp_path):
    model = conv_model([1, 4, 1, 1], [4, 4, 3, 3], pads=[1, 1, 1, 1])
    w = model.graph.initializer[0]
    const = helper.make_node("Constant", [], ["Wc"], name="const", value=w)
    model.graph.node.insert(0, const)
    node(model, "conv").input[1] = "Wc"
    del model.graph.initializer[0]
    assert "not an initializer" in _refusal(tmp_path, model)


def test_refuses_weight_that_is_a_graph_input(tmp_path):
    model = conv_model([1, 4, 1, 1], [4, 4, 3, 3], pads=[1, 1, 1, 1])
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 4, 3, 3]))
    assert "graph input" in _refusal(tmp_path, model)


# --------------------------------------------------------------------------------------
# DT002


def test_merge_keeps_other_concat_inputs(tmp_path):
    model = attention_model(extra_concat=[("before", "e0"), ("after", "e1")])
    src, out, rep = fixed(tmp_path, model)
    (merge,) = by_rule(rep, "DT002")
    assert merge.status == "fixed", merge.reason
    m = onnx.load(str(out))
    cat = next(n for n in m.graph.node if n.op_type == "Concat")
    assert cat.output[0] == "cat" and cat.input[0] == "e0" and cat.input[2] == "e1" and len(cat.input) == 3
    assert_same_outputs(src, out)


def test_merge_without_activation(tmp_path):
    src, out, rep = fixed(tmp_path, attention_model(acts=(None, None, None)))
    assert by_rule(rep, "DT002")[0].status == "fixed"
    m = onnx.load(str(out))
    assert [n.output[0] for n in m.graph.node if n.op_type == "Conv" and n.input[0] == "p"] == ["cat"]
    assert_same_outputs(src, out)


@pytest.mark.parametrize(
    "kw, why",
    [
        ({"acts": ("Relu", "Sigmoid", "Relu")}, "same activation"),
        ({"group": 2}, "group 2"),
        ({"extra_concat": [("after", "e1")], "dilations": (3, 5, 7)}, None),  # adjacent: merged
    ],
)
def test_merge_refusals(tmp_path, kw, why):
    src, out, rep = fixed(tmp_path, attention_model(**kw))
    (merge,) = by_rule(rep, "DT002")
    if why is None:
        assert merge.status == "fixed"
    else:
        assert merge.status == "refused" and why in merge.reason
        assert all(c.status == "fixed" for c in by_rule(rep, "DT001"))
    assert_same_outputs(src, out)


def test_select(tmp_path):
    src = save(attention_model(), tmp_path / "a.onnx")
    rep = fix_file(src, tmp_path / "only1.onnx", ("DT001",))
    assert {c.rule for c in rep.changes} == {"DT001"}
    assert sum(n.op_type == "Conv" for n in onnx.load(str(tmp_path / "only1.onnx")).graph.node) == 4
    rep = fix_file(src, tmp_path / "only2.onnx", ("DT002",))
    (merge,) = rep.changes
    assert merge.status == "refused" and "select DT001 too" in merge.reason


def test_merge_on_aspp_sample_refused_not_adjacent(tmp_path):
    out = tmp_path / "aspp.onnx"
    rep = fix_file(REPO / "sample_models" / "aspp_dynamo.onnx", out)
    (merge,) = by_rule(rep, "DT002")
    assert merge.status == "refused" and "not adjacent" in merge.reason
    assert [c.status for c in by_rule(rep, "DT001")] == ["fixed"]
    assert_same_outputs(REPO / "sample_models" / "aspp_dynamo.onnx", out)


def test_dynamic_model_fix_holds_at_every_size(tmp_path, capsys):
    """Rewrites are decided on the declared (symbolic) shapes: exact at any bound size."""
    src = REPO / "sample_models" / "drln_attention_dynamic_dynamo.onnx"
    out = tmp_path / "dyn.onnx"
    rc = cli.main(["fix", str(src), "-o", str(out), "--verify", "--input-shape", "input=2,64,5,7"])
    assert rc == 0 and "verify: outputs match" in capsys.readouterr().out
    for dims in ({"batch": 1, "height": 16, "width": 16}, {"batch": 3, "height": 5, "width": 9}):
        assert_same_outputs(src, out, dims)


# --------------------------------------------------------------------------------------
# files: external data, atomicity, the input untouched, metadata


def _digest(paths):
    return {str(p): (hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest(), os.stat(p).st_mtime_ns) for p in paths}


def test_external_data_layout_and_input_untouched(tmp_path):
    model = attention_model(channels=32)
    model.metadata_props.add(key="author", value="me")
    model.doc_string = "doc"
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = save(model, src_dir / "att.onnx", external=True)
    before = _digest([src, src_dir / "att.onnx.weights"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "fixed.onnx"
    rc = cli.main(["fix", str(src), "-o", str(out)])
    assert rc == 0
    assert _digest([src, src_dir / "att.onnx.weights"]) == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert {os.stat(p).st_mode & 0o777 for p in out_dir.iterdir()} == {0o666 & ~umask}  # not mkstemp's 0600
    m = onnx.load(str(out), load_external_data=False)
    locations = {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"fixed.onnx.data"}
    assert all(t.data_location == TensorProto.EXTERNAL for t in m.graph.initializer)
    assert {p.key: p.value for p in m.metadata_props} == {"author": "me"} and m.doc_string == "doc"
    assert m.opset_import == model.opset_import and m.ir_version == model.ir_version
    onnx.checker.check_model(str(out), full_check=True)
    assert_same_outputs(src, out)


def test_single_file_stays_single_file(tmp_path):
    src = save(attention_model(), tmp_path / "a.onnx")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "b.onnx")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx"]


def test_refuses_to_overwrite_input(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    src = save(attention_model(), tmp_path / "in" / "a.onnx", external=True)
    files = [src, src.with_name("a.onnx.weights")]
    before = _digest(files)
    os.symlink(src, tmp_path / "link.onnx")
    for target in (src, tmp_path / "link.onnx", files[1]):
        assert cli.main(["fix", str(src), "-o", str(target)]) == 2
        assert "overwrite" in capsys.readouterr().err
    assert _digest(files) == before


def test_failed_check_leaves_nothing(tmp_path, monkeypatch, capsys):
    src = save(attention_model(), tmp_path / "a.onnx", external=True)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    real = onnx.checker.check_model

    def broken(target, full_check=False):  # the output fails, the input passes
        if str(target) == str(src):
            return real(target, full_check=full_check)
        raise onnx.checker.ValidationError("simulated")

    monkeypatch.setattr(onnx.checker, "check_model", broken)
    assert cli.main(["fix", str(src), "-o", str(out_dir / "f.onnx")]) == 2
    assert "invalid-output" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


# --------------------------------------------------------------------------------------
# command line


def test_cli_json_report(tmp_path, capsys):
    src = save(attention_model(), tmp_path / "a.onnx")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "b.onnx"), "--format", "json", "--verify"]) == 0
    d = json.loads(capsys.readouterr().out)
    t = d["totals"]
    # every rule with a fix has a total; on this model only the tap rules change anything
    assert {k: v for k, v in t["fixed"].items() if v} == {"DT001": 4, "DT002": 1}
    assert not any(t["refused"].values())
    assert t["params_removed"] == t["params_removed_by_changes"] == params(src) - params(tmp_path / "b.onnx") > 0
    assert t["bytes_removed"] == 4 * t["params_removed"]
    assert d["verification"]["ok"] is True and d["verification"]["outputs"][0]["max_rel"] <= RTOL
    for c in d["changes"]:
        assert {"rule", "node", "status", "params_removed", "bytes_removed"} <= set(c)


def test_cli_text_verify_bench(tmp_path, capsys):
    src = save(attention_model(), tmp_path / "a.onnx")
    rc = cli.main(["fix", str(src), "-o", str(tmp_path / "b.onnx"), "--verify", "--bench", "--bench-runs", "3"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "DT001 fixed" in text and "DT002 fixed" in text and "verify: outputs match" in text
    assert "bench: original" in text and "speed-up x" in text


def test_cli_failed_verification_exits_2(tmp_path, monkeypatch, capsys):
    """A wrong rewrite (simulated: the sliced weights are scaled) must be caught by --verify."""
    from rules.dt001_dead_conv_taps import fix as dt001_fix

    real = dt001_fix.slice_dead_taps

    def wrong(rw, ct, old):
        state = real(rw, ct, old)
        state.weight = state.weight * 1.01
        return state

    monkeypatch.setattr(dt001_fix, "slice_dead_taps", wrong)
    src = save(attention_model(), tmp_path / "a.onnx")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "b.onnx"), "--verify"]) == 2
    assert "OUTPUTS DIFFER" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["fix", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "not-found" in capsys.readouterr().err
    src = save(attention_model(), tmp_path / "a.onnx")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "o.onnx"), "--select", "XX9"]) == 2
    assert not (tmp_path / "o.onnx").exists()


def test_cli_without_onnxruntime(tmp_path, monkeypatch, capsys):
    src = save(attention_model(), tmp_path / "a.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "o.onnx"), "--verify"]) == 2
    assert capsys.readouterr().err.strip() == "onnxruntime is not installed: pip install 'onnxlint[verify]'"
    assert not (tmp_path / "o.onnx").exists()
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "o.onnx")]) == 0  # no onnxruntime needed


def test_check_and_fix_import_no_onnxruntime_or_torch(tmp_path):
    src = save(attention_model(), tmp_path / "a.onnx")
    code = (
        "import sys\nfrom analyzer import cli\n"
        f"cli.main(['check', {str(src)!r}])\n"
        f"assert cli.main(['fix', {str(src)!r}, '-o', {str(tmp_path / 'b.onnx')!r}]) == 0\n"
        "bad = [m for m in ('onnxruntime', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------------------
# the full DRLN x2, both exporters


@pytest.fixture(scope="session")
def drln_exports(tmp_path_factory):
    """``get(kind)`` -> path of the full DRLN x2 (1x3x16x16) exported by ``kind``, once per session
    (the files live in a fixed folder of the session's base temp dir, so test_verify.py reuses them)."""
    root = tmp_path_factory.getbasetemp() / "issue7_drln"
    root.mkdir(exist_ok=True)
    cached = {}

    def get(kind):
        out = root / f"drln_x2_{kind}.onnx"
        done = root / f"{kind}.done"
        if not done.exists():
            from sample_models.export import export

            export("drln", out, kind, scale=2, n_blocks=N_BLOCKS, channels=64, height=16, width=16)
            done.write_text("ok")
        cached[kind] = out
        return out

    yield get
    # ~140 MB per export: do not leave them in pytest's kept base temp dirs
    for out in cached.values():
        for p in (out, out.with_name(out.name + ".data"), root / f"{out.stem.split('_')[-1]}.done"):
            p.unlink(missing_ok=True)


@pytest.fixture
def big_out(tmp_path):
    out = tmp_path / "drln_fixed.onnx"
    yield out
    for p in (out, out.with_name(out.name + ".data")):
        p.unlink(missing_ok=True)


@pytest.mark.parametrize("kind", ["dynamo", "legacy"])
def test_drln_full(kind, drln_exports, big_out, capsys):
    src = drln_exports(kind)
    out = big_out
    rc = cli.main(["fix", str(src), "-o", str(out), "--format", "json", "--verify"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    t = d["totals"]
    # the tap rules fix every finding; the legacy export's Identity (WS007) goes too, no weights
    assert (t["fixed"]["DT001"], t["fixed"]["DT002"]) == (80, 20) and not any(t["refused"].values())
    assert {k for k, v in t["fixed"].items() if v} <= {"DT001", "DT002", "WS007"}
    assert t["params_removed"] == t["params_removed_by_changes"] == TOTAL_DEAD == 245_760
    assert params(src) - params(out) == TOTAL_DEAD
    assert [c["params_removed"] for c in d["changes"] if c["rule"] == "DT002"] == [0] * 20
    assert d["verification"]["ok"] and d["verification"]["outputs"][0]["max_rel"] <= RTOL
    # layout: dynamo keeps its weights beside the model, legacy stays one file
    assert (out.with_name(out.name + ".data")).exists() == (kind == "dynamo")
    onnx.checker.check_model(str(out), full_check=True)
    # ground truth by execution, independent of analyzer.commands.verify
    assert_same_outputs(src, out)
    # each attention Concat's output name still exists, now produced by ReLU(one 64->12 1x1 conv)
    m = onnx.load(str(out))
    producer = {o: n for n in m.graph.node for o in n.output}
    dt2 = [c for c in d["changes"] if c["rule"] == "DT002"]
    assert len({c["after"]["concat_output"] for c in dt2}) == 20
    for c in dt2:
        relu = producer[c["after"]["concat_output"]]
        assert relu.op_type == "Relu" and producer[relu.input[0]].name == c["merged_node"]
        assert c["after"]["weight_shape"] == [12, 64, 1, 1]
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    merged = [n for n in m.graph.node if n.op_type == "Conv" and inits.get(n.input[1]) == [12, 64, 1, 1]]
    assert len(merged) == 20 and all(attrs(n)["pads"] == [0, 0, 0, 0] for n in merged)
    fuse = [n for n in m.graph.node if n.op_type == "Conv" and inits.get(n.input[1]) == [64, 12, 1, 1]]
    assert len(fuse) == 20
    assert not [n for n in m.graph.node if n.op_type == "Conv" and inits.get(n.input[1], [0])[0] == 4]
    # the fixed model has nothing left to report
    assert analyzer.lint(str(out)).findings == []


# --------------------------------------------------------------------------------------
# random geometries: whatever fix does must be exact (ground truth: onnxruntime)

import onnxruntime as ort  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def conv_configs(draw):
    rank = draw(st.integers(1, 2))
    transpose = draw(st.booleans())
    group = draw(st.sampled_from([1, 2]))
    cin, cout = 2 * group, draw(st.integers(1, 2)) * group
    n = [draw(st.integers(1, 4)) for _ in range(rank)]
    k = [draw(st.integers(1, 5)) for _ in range(rank)]
    s = [draw(st.integers(1, 3)) for _ in range(rank)]
    d = [draw(st.integers(1, 3)) for _ in range(rank)]
    attrs = {"kernel_shape": k, "strides": s, "dilations": d, "group": group}
    mode = draw(st.sampled_from(["pads", "pads", "SAME_UPPER", "SAME_LOWER"]))
    if mode == "pads":
        attrs["pads"] = [draw(st.integers(0, 6)) for _ in range(2 * rank)]
    else:
        attrs["auto_pad"] = mode
    if transpose:
        attrs["output_padding"] = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
        w = [cin, cout // group] + k
    else:
        w = [cout, cin // group] + k
    return [1, cin] + n, w, "ConvTranspose" if transpose else "Conv", attrs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conv_configs())
def test_random_geometry_fix_is_exact(tmp_path_factory, cfg):
    from hypothesis import assume

    x_shape, w_shape, op, a = cfg
    tmp = tmp_path_factory.mktemp("rnd")
    try:
        model = conv_model(x_shape, w_shape, op=op, **a)
        src = save(model, tmp / "m.onnx")
        so = ort.SessionOptions()
        so.log_severity_level = 4
        sess = ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"x": np.ones(x_shape, np.float32)})[0]
    except Exception:
        assume(False)  # not a conv onnx and onnxruntime both accept
    assume(list(y.shape) == [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim])
    rep = fix_file(src, tmp / "f.onnx")
    assert_same_outputs(src, tmp / "f.onnx")
    if any(c.status == "fixed" for c in rep.changes):
        check_removed_matches_findings(src, tmp / "f.onnx", rep)
