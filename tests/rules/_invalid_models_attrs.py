"""Builders of small malformed models for the validity rules MV020-MV049, and the ground
truth helpers: does onnxruntime refuse the model (at load or at run), does onnx's checker
(full check) refuse it."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 17


def model(nodes, inputs, outputs, inits=(), opset=OPSET, sparse=()):
    g = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    g.sparse_initializer.extend(list(sparse))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def vi(name, dtype=T.FLOAT, shape=None):
    return h.make_tensor_value_info(name, dtype, shape)


def out(name, dtype=T.FLOAT, rank=0):
    """A graph output of rank ``rank`` with symbolic dims (onnx's checker wants a shape)."""
    return h.make_tensor_value_info(name, dtype, [f"{name}_d{i}" for i in range(rank)])


def conv(attrs=None, wshape=(4, 3, 3, 3), xshape=(1, 3, 8, 8), op="Conv", weight=True):
    """``op`` on x[xshape] with weight W[wshape] (pools: no weight)."""
    inits = []
    ins = ["x"]
    if weight:
        inits.append(nh.from_array(np.ones(wshape, np.float32), "W"))
        ins.append("W")
    n = h.make_node(op, ins, ["y"], name="conv", **(attrs or {}))
    return model([n], [vi("x", T.FLOAT, list(xshape))], [out("y", T.FLOAT, len(xshape))], inits)


def unary(op, attrs=None, xshape=(2, 3), dtype=T.FLOAT, out_dtype=None, extra_inits=(), extra_inputs=(), opset=OPSET, name="n"):
    n = h.make_node(op, ["x", *[i.name for i in extra_inits], *extra_inputs], ["y"], name=name, **(attrs or {}))
    return model([n], [vi("x", dtype, list(xshape))], [out("y", out_dtype or dtype, len(xshape))], extra_inits, opset)


def raw_tensor(name="w", dtype=T.FLOAT, dims=(2, 3), **fields):
    t = T()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    for k, v in fields.items():
        if k == "raw_data":
            t.raw_data = v
        else:
            getattr(t, k).extend(v)
    return t


def with_initializer(t, out_dtype=T.FLOAT):
    n = h.make_node("Identity", [t.name], ["y"], name="id")
    return model([n], [], [out("y", out_dtype, len(t.dims))], [t])


def with_constant(t, out_dtype=T.FLOAT):
    n = h.make_node("Constant", [], ["y"], name="const", value=t)
    return model([n], [], [out("y", out_dtype, len(t.dims))])


def in_scan_body(inner_node, inner_inits=(), xshape=(1, 3, 8, 8)):
    """A Scan whose body applies ``inner_node`` (reading 'xi', writing 'yi') to each slice
    of x along axis 0; the body's inputs: state s, slice xi."""
    body = h.make_graph(
        [h.make_node("Identity", ["s"], ["s_out"], name="keep"), inner_node],
        "body",
        [vi("s", T.FLOAT, [1]), vi("xi", T.FLOAT, list(xshape[1:]))],
        [vi("s_out", T.FLOAT, [1]), out("yi", T.FLOAT, len(xshape) - 1)],
        list(inner_inits),
    )
    scan = h.make_node("Scan", ["s0", "x"], ["s_final", "y"], name="scan", num_scan_inputs=1, body=body)
    return model(
        [scan],
        [vi("s0", T.FLOAT, [1]), vi("x", T.FLOAT, list(xshape))],
        [vi("s_final", T.FLOAT, [1]), out("y", T.FLOAT, len(xshape))],
    )


def in_if_branch(inner_node, inner_inits=(), out_name="yi"):
    """An If (cond input) whose then-branch holds ``inner_node`` writing ``out``."""
    then = h.make_graph([inner_node], "then", [], [vi(out_name, T.FLOAT, [1, 3, 8, 8])], list(inner_inits))
    other = h.make_graph([h.make_node("Identity", ["x"], ["z"], name="other")], "else", [], [vi("z", T.FLOAT, [1, 3, 8, 8])])
    n = h.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)
    return model([n], [vi("c", T.BOOL, []), vi("x", T.FLOAT, [1, 3, 8, 8])], [vi("y", T.FLOAT, [1, 3, 8, 8])])


# -- ground truth --------------------------------------------------------------------
def ort_rejects(m, feeds=None) -> str | None:
    """onnxruntime's error message when it refuses to load or run ``m``; None when it runs."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    try:
        s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as e:
        return str(e) or type(e).__name__
    if feeds is None:
        feeds = {}
        for i in s.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
                     "tensor(double)": np.float64}.get(i.type, np.float32)  # fmt: skip
            feeds[i.name] = np.ones(shape, dtype)
    try:
        s.run(None, feeds)
    except Exception as e:
        return str(e) or type(e).__name__
    return None


def checker_rejects(m, full_check=True) -> str | None:
    try:
        onnx.checker.check_model(m, full_check=full_check)
    except Exception as e:
        return str(e) or type(e).__name__
    return None


def findings(m, code):
    """The findings of rule ``code`` on model ``m`` (analyzed from memory)."""
    import analyzer

    rep = analyzer.lint(m, select=[code])
    fr = rep.files[0]
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if f.rule == code]


def findings_from_file(m, code, tmp_path, name="m.onnx"):
    import analyzer

    p = tmp_path / name
    p.write_bytes(m.SerializeToString())
    fr = analyzer.lint(str(p), select=[code]).files[0]
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if f.rule == code]


def valid_corpus():
    """(path, reason-skipped or None) for every model the validity rules must accept:
    the committed samples, the onnx wheel's backend test models and onnxruntime's bundled
    models; a file onnx's checker (full check) or onnxruntime refuses is skipped."""
    import glob
    import os

    import onnxruntime

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = sorted(glob.glob(os.path.join(root, "sample_models", "*.onnx")))
    paths += sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))
    paths += sorted(glob.glob(os.path.dirname(onnxruntime.__file__) + "/**/*.onnx", recursive=True))
    return paths
