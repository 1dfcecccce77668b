"""Models with planted weight-level waste (WS010-WS012) and the execution proofs their tests
share.  Ground truth is onnxruntime: a fix (one finding alone through the rule's own
``fix_findings``, then all of them through ``fix_file``) must keep every output within 1e-5
relative on seeded random inputs and drop the parameter count by exactly the reported
``waste["weights"]``; a zero channel must be a constant when the op runs."""
from __future__ import annotations

import glob
import io
import os
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.fix.rewrite import count_params
from tests.rules._waste_graph_models import fix_one

F = TensorProto.FLOAT
RTOL = 1e-5
CODES = ("WS010", "WS011", "WS012")


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def arr(shape, seed, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def make_model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def lint(model, code):
    rep = analyzer.lint(model, select=[code])
    (fr,) = rep.files
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if f.rule == code]


# -- execution ----------------------------------------------------------------------------


def session(model):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


_NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
       "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8,
       "tensor(int8)": np.int8}  # fmt: skip


def feeds_for(sess, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        t = _NP.get(i.type)
        if t is None:
            return None
        if np.issubdtype(t, np.floating):
            out[i.name] = rng.standard_normal(shape).astype(t)
        elif t is np.bool_:
            out[i.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            out[i.name] = rng.integers(0, 4, shape).astype(t)
    return out


def assert_same_outputs(original, fixed, seeds=(0, 1), rtol=RTOL):
    s0, s1 = session(original), session(fixed)
    names = [o.name for o in s0.get_outputs()]
    assert names == [o.name for o in s1.get_outputs()]
    for seed in seeds:
        feeds = feeds_for(s0, seed)
        for name, a, b in zip(names, s0.run(names, feeds), s1.run(names, feeds)):
            scale = max(1.0, float(np.max(np.abs(a)))) if a.size else 1.0
            assert a.shape == b.shape, name
            assert float(np.max(np.abs(a - b))) <= rtol * scale, (name, float(np.max(np.abs(a - b))))


def prove_each(model, code):
    """Every finding fixed alone: valid model, same outputs, parameters down by its waste."""
    found = lint(model, code)
    before, _ = count_params(model)
    for i in range(len(found)):
        fixed, f, change = fix_one(model, code, i)
        assert change.status == "fixed", change.reason
        assert change.params_removed == f.waste["weights"]
        onnx.checker.check_model(fixed, full_check=True)
        assert before - count_params(fixed)[0] == f.waste["weights"], (f.node, f.waste)
        assert_same_outputs(model, fixed)
    return found


def prove_fix_file(model, code):
    """``fix_file`` with CODE selected: every finding fixed, drop = summed waste, outputs equal."""
    from analyzer.commands.fix import fix_file

    found = lint(model, code)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "fixed.onnx")
        onnx.save(model, src)
        rep = fix_file(src, out, codes=(code,))
        fixed = onnx.load(out)
    assert [c.status for c in rep.changes if c.rule == code] == ["fixed"] * len(found)
    assert rep.params_before - rep.params_after == sum(f.waste["weights"] for f in found)
    assert_same_outputs(model, fixed)
    assert lint(fixed, code) == []
    return fixed


def op_output(model, tensor, seed=0):
    """Run ``model`` with ``tensor`` exposed as an output; its value on seeded inputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.output.append(helper.make_empty_tensor_value_info(tensor))
    s = session(m)
    return s.run([tensor], feeds_for(s, seed))[0]


def constant_channels(model, tensor, axis=1, seeds=(0, 1)):
    """Channels of ``tensor`` (along ``axis``) whose value is one constant, the same on every
    position and every seeded input (by execution)."""
    runs = [np.moveaxis(op_output(model, tensor, s), axis, 0) for s in seeds]
    out = set()
    for c in range(runs[0].shape[0]):
        vals = np.concatenate([r[c].reshape(-1) for r in runs])
        if np.all(vals == vals[0]):
            out.add(c)
    return out


# -- models -------------------------------------------------------------------------------


def conv_chain(zero=(1, 3), bias1=None, pads2=(0, 0, 0, 0), middle=("bn", "relu"), consumer_bias=True,
               extra_reader=False, seed=0):
    """x[1,4,10,10] -> Conv1(W1[8,4,3,3] with filters ``zero`` zeroed, pads 1) -> middle ops ->
    Conv2(W2[6,8,3,3], ``pads2``) -> y.  ``middle``: "bn", "relu", "mul" (per-channel), "add"
    (per-channel), "sigmoid"; ``extra_reader``: the last middle tensor is also an output."""
    W1 = arr((8, 4, 3, 3), seed)
    W1[list(zero)] = 0
    b1 = arr(8, seed + 1) if bias1 is None else np.asarray(bias1, np.float32)
    inits = [init("W1", W1), init("b1", b1), init("W2", arr((6, 8, 3, 3), seed + 2))]
    nodes = [helper.make_node("Conv", ["x", "W1", "b1"], ["t0"], name="conv1", pads=[1, 1, 1, 1])]
    cur = "t0"
    for i, m in enumerate(middle):
        out = f"t{i + 1}"
        if m == "bn":
            names = [f"bn_{k}" for k in ("scale", "B", "mean", "var")]
            inits += [init(names[0], arr(8, seed + 3)), init(names[1], arr(8, seed + 4)),
                      init(names[2], arr(8, seed + 5)), init(names[3], arr(8, seed + 6, positive=True))]  # fmt: skip
            nodes.append(helper.make_node("BatchNormalization", [cur] + names, [out], name=f"bn{i}"))
        elif m in ("mul", "add"):
            inits.append(init(f"k{i}", arr((8, 1, 1), seed + 7 + i)))
            nodes.append(helper.make_node(m.capitalize(), [cur, f"k{i}"], [out], name=f"{m}{i}"))
        else:
            nodes.append(helper.make_node({"relu": "Relu", "sigmoid": "Sigmoid"}[m], [cur], [out], name=f"{m}{i}"))
        cur = out
    ins = [cur, "W2"] + (["b2"] if consumer_bias else [])
    if consumer_bias:
        inits.append(init("b2", arr(6, seed + 9)))
    nodes.append(helper.make_node("Conv", ins, ["y"], name="conv2", pads=list(pads2)))
    outs = [vi("y", None)] + ([vi(cur, None)] if extra_reader else [])
    return make_model(nodes, [vi("x", [1, 4, 10, 10])], outs, inits)


def affine_after(producer="Conv", ops=("bn",), bias=True, extra_reader=False, seed=0, trans_b=0):
    """x -> producer (Conv 4->8 3x3 / ConvTranspose 4->8 group 2 / Gemm 5->8 / MatMul 5->8) ->
    ``ops`` ("bn", "mul", "add", "mul_scalar") -> y."""
    inits, nodes = [], []
    if producer == "Conv":
        x, w_shape, attrs, c = vi("x", [1, 4, 6, 6]), (8, 4, 3, 3), {"pads": [1, 1, 1, 1]}, (8, 1, 1)
    elif producer == "ConvTranspose":
        x, w_shape, attrs, c = vi("x", [1, 4, 5, 5]), (4, 4, 3, 3), {"group": 2, "strides": [2, 2]}, (8, 1, 1)
    elif producer == "Gemm":
        x, w_shape, attrs, c = vi("x", [3, 5]), ((8, 5) if trans_b else (5, 8)), {"transB": trans_b, "alpha": 0.5, "beta": 2.0}, (8,)
    else:
        x, w_shape, attrs, c = vi("x", [3, 5]), (5, 8), {}, (8,)
    inits.append(init("W", arr(w_shape, seed)))
    ins = ["x", "W"]
    if bias and producer != "MatMul":
        inits.append(init("b", arr(8, seed + 1)))
        ins.append("b")
    nodes.append(helper.make_node(producer, ins, ["p"], name="producer", **attrs))
    cur = "p"
    for i, m in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"a{i}"
        if m == "bn":
            names = [f"bn{i}_{k}" for k in ("scale", "B", "mean", "var")]
            inits += [init(names[0], arr(8, seed + 2)), init(names[1], arr(8, seed + 3)),
                      init(names[2], arr(8, seed + 4)), init(names[3], arr(8, seed + 5, positive=True))]  # fmt: skip
            nodes.append(helper.make_node("BatchNormalization", [cur] + names, [out], name=f"bn{i}", epsilon=1e-3))
        elif m == "mul_scalar":
            inits.append(init(f"k{i}", np.array([1.5], np.float32)))
            nodes.append(helper.make_node("Mul", [f"k{i}", cur], [out], name=f"mul{i}"))
        else:
            inits.append(init(f"k{i}", arr(c, seed + 6 + i)))
            nodes.append(helper.make_node(m.capitalize(), [cur, f"k{i}"], [out], name=f"{m}{i}"))
        cur = out
    outs = [vi("y", None)] + ([vi("p", None)] if extra_reader else [])
    return make_model(nodes, [x], outs, inits)


def torch_resnet_block(prune=(), legacy=True, seed=0):
    """A ResNet-style block exported by torch: Conv->BN->ReLU->Conv(pads 0)->BN->ReLU, BN
    statistics randomised (so the legacy exporter keeps BN with do_constant_folding=False);
    ``prune``: filters of the first conv zeroed."""
    import torch

    torch.manual_seed(seed)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
            self.c2, self.b2 = torch.nn.Conv2d(8, 8, 1), torch.nn.BatchNorm2d(8)

        def forward(self, x):
            return torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))

    m = Block().eval()
    with torch.no_grad():
        for bn in (m.b1, m.b2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
        for p in prune:
            m.c1.weight[p] = 0
    x = torch.randn(1, 4, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if legacy:
            f = io.BytesIO()
            torch.onnx.export(m, (x,), f, dynamo=False, do_constant_folding=False, input_names=["x"], output_names=["y"])
            return onnx.load_from_string(f.getvalue())
        return torch.onnx.export(m, (x,), dynamo=True, optimize=False, verbose=False).model_proto


def onnx_test_graphs():
    return sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))
