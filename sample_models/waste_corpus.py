"""A ground-truth corpus for the waste rules (WS001-WS015, DT001, DT002): small PyTorch blocks,
each in a *clean* version and a *planted* version that carries known waste, plus ONNX-level
plants for what PyTorch cannot express.

Blocks (8 channels, 16x16 inputs, so that export, lint, fix and onnxruntime stay fast):

* ``resnet``: conv-BN-ReLU-conv-BN + identity skip, ReLU;
* ``mobilenet``: inverted residual (1x1 expand, 3x3 depthwise, 1x1 project, each with BN)
  and a squeeze-excitation head (global pool, 1x1 convs, sigmoid);
* ``unet``: conv, MaxPool down, conv, nearest Resize up, skip Concat, ConvTranspose, conv;
* ``transformer``: pre-LayerNorm single-head attention (Q/K/V MatMul, Softmax) and an MLP
  (Linear-GELU-Linear) on 16 tokens of width 8, both with residuals.

A *planted* block is the clean block with waste added in PyTorch such that it survives the
export (each plant is listed in the block's manifest with the rule that must find it):
zeroed conv output channels (one of them the only input of the next conv's channel),
BatchNormalization kept beside its conv (the legacy exporter run with
``do_constant_folding=False`` does not fuse it), a per-channel Mul/Add after a conv,
``x * 1.0`` / ``x / 1.0`` / ``x + 0.0``, Reshape and Cast round trips, a tensor computed
from buffers on every call, a weight beyond float16's range,
a pool whose outer window only reads padding, a dilated conv on a 1x1 map, an upsample whose
samples a strided slice throws away.  PyTorch's exporters fuse consecutive Transposes and
merge identical expressions (both exporters run CSE), and drop unused parameters, so the
``*_onnx`` cases add at the ONNX level (``onnx.helper`` edits of an exported model): an unused
initializer, an unused node, an unused graph input, an unused opset import, a duplicated
initializer, a duplicated node, and a Transpose followed by its inverse.

Exports: ``legacy`` is ``torch.onnx.export(..., dynamo=False)`` at opset 17; ``dynamo`` is the
default ``dynamo=True`` exporter at opset 18 (its optimiser on, as users run it).  A clean block
is exported as users do (legacy with constant folding: BatchNorm fused; dynamo optimised).  A
planted ResNet, MobileNet or transformer block's legacy export turns constant folding off so
that the planted BatchNorm and the constant subgraph survive (what a model exported with
``do_constant_folding=False`` looks like; it also leaves every Linear's weight Transpose in
the transformer: listed in its manifest).  The dynamo optimiser removes some plants (it folds
BatchNorm and constants, drops ``* 1.0``, ``/ 1.0``, ``+ 0.0`` and the Reshape round trip; it
keeps the Cast round trip): each dynamo manifest lists what survives.

Every manifest item is ``Expect(rule, op_type, name=None, count=1)``: the rule must report at
least ``count`` findings whose node has that op type (``op_type=None``: any), and, when
``name`` is given, whose node, related nodes or details mention ``name``.  ``allowed`` lists
rules that may also report on the planted model as a consequence of a plant (a zeroed
ConvTranspose channel reaches the next conv through a Concat: WS011 does not follow it today,
but may).  The clean twin must get no finding at
all from the WS and DT rules.

    python -m sample_models.waste_corpus OUT_DIR      # write every case, print its ops
"""
from __future__ import annotations

import contextlib
import io
import logging
import pathlib
import sys
import warnings
from dataclasses import dataclass, field

__all__ = ["BLOCKS", "CASES", "WASTE_CODES", "Case", "Expect", "build_all", "build_case", "export"]

CHANNELS, SIZE = 8, 16
WASTE_CODES = tuple(f"WS{i:03d}" for i in range(1, 16)) + ("DT001", "DT002")
INPUT_NAME, OUTPUT_NAME = "input", "output"


@dataclass(frozen=True)
class Expect:
    rule: str
    op_type: str | None = None
    name: str | None = None
    count: int = 1
    why: str = ""


@dataclass
class Case:
    name: str  # e.g. "resnet_planted_legacy"
    block: str
    planted: bool
    exporter: str  # legacy | dynamo
    expect: list = field(default_factory=list)
    allowed: tuple = ()
    onnx_plants: bool = False


# ---------------------------------------------------------------------------------------
# PyTorch blocks


def _modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    def _bn(c):
        bn = nn.BatchNorm2d(c)
        with torch.no_grad():  # non-trivial statistics (and no two equal buffers: the
            bn.running_mean.uniform_(-0.5, 0.5)  # legacy exporter would share them)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        return bn

    class ResNetBlock(nn.Module):
        def __init__(self, c=CHANNELS, planted=False):
            super().__init__()
            self.planted = planted
            self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), _bn(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), _bn(c)
            self.head = nn.Conv2d(c, c, 1)
            if planted:
                with torch.no_grad():
                    self.head.weight[2:4] = 0.0  # WS010: output channels 2, 3 read nothing
                    self.conv2.weight[0, 0, 1, 1] = 1.0e6  # WS015: beyond float16's 65504
                    # WS010 + WS011: conv1's output channel 5 is zero, BN makes it -1, ReLU 0:
                    # conv2's weights for its input channel 5 only ever multiply zero
                    self.conv1.weight[5] = 0.0
                    self.bn1.running_mean[5], self.bn1.bias[5] = 0.0, -1.0

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            y = F.relu(y + x)
            y = self.head(y)
            if self.planted:
                y = y * 1.0  # WS007: Mul by one
            return y

    class MobileNetBlock(nn.Module):
        def __init__(self, c=CHANNELS, expand=2, planted=False):
            super().__init__()
            h = c * expand
            self.planted = planted
            self.expand, self.bn1 = nn.Conv2d(c, h, 1, bias=False), _bn(h)
            self.dw, self.bn2 = nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), _bn(h)
            self.project, self.bn3 = nn.Conv2d(h, c, 1, bias=False), _bn(c)
            # squeeze-excitation; planted: a dilated 3x3 on the pooled 1x1 map (DT001)
            k, d = (3, 2) if planted else (1, 1)
            self.se1 = nn.Conv2d(c, 4, k, padding=d * (k // 2), dilation=d)
            self.se2 = nn.Conv2d(4, c, 1)
            self.pool = nn.MaxPool2d(3, stride=1, padding=1)

        def forward(self, x):
            y = F.relu(self.bn1(self.expand(x)))
            y = F.relu(self.bn2(self.dw(y)))
            y = self.bn3(self.project(y))
            if self.planted:
                y = y.to(torch.float64).to(torch.float32)  # WS008: lossless Cast round trip
                y = y.reshape(1, CHANNELS, SIZE * SIZE).reshape(1, CHANNELS, SIZE, SIZE)  # WS008
            s = F.adaptive_avg_pool2d(y, 1)
            if self.planted:
                s = self.pool(s)  # WS013: a 3x3 max pool on a 1x1 map: 8 of 9 window cells are padding
            s = torch.sigmoid(self.se2(F.relu(self.se1(s))))
            return x + y * s

    class UNetBlock(nn.Module):
        def __init__(self, c=CHANNELS, planted=False):
            super().__init__()
            self.planted = planted
            self.enc = nn.Conv2d(c, c, 3, padding=1)
            self.down = nn.Conv2d(c, 2 * c, 3, padding=1)
            self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
            self.dec = nn.Conv2d(4 * c, c, 3, padding=1)
            self.skip = nn.Conv2d(c, c, 1, stride=2) if planted else None
            if planted:  # WS012: a per-channel affine after the first conv
                self.gamma = nn.Parameter(torch.linspace(0.5, 1.5, c).reshape(c, 1, 1))
                self.beta = nn.Parameter(torch.linspace(-0.5, 0.5, c).reshape(c, 1, 1))
            if planted:
                with torch.no_grad():
                    self.up.weight[:, 1] = 0.0  # WS010: ConvTranspose output channel 1 reads nothing
                    self.up.bias[1] = 0.0

        def forward(self, x):
            e = self.enc(x)
            if self.planted:
                e = e * self.gamma + self.beta
            e = F.relu(e)
            d = F.relu(self.down(F.max_pool2d(e, 2)))
            u1 = F.interpolate(d, scale_factor=2.0, mode="nearest")
            u2 = self.up(d)
            if self.planted:
                # WS014: upsampled x2, then every second sample kept: the upsample is discarded
                d2 = F.interpolate(e, scale_factor=2.0, mode="nearest")[:, :, ::2, ::2]
                # WS014: the input upsampled x2, then a stride-2 1x1 conv reads every second sample
                d3 = self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))
                e = e + d2 + d3
                u2 = torch.cat([u2], dim=1)  # a Concat of one input: both exporters drop it
                e = e + 0.0  # WS007: Add zero
            return self.dec(torch.cat([e, u1, u2], dim=1))

    class TransformerBlock(nn.Module):
        def __init__(self, d=CHANNELS, tokens=SIZE, planted=False):
            super().__init__()
            self.planted = planted
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            with torch.no_grad():  # distinct values: the legacy exporter shares equal
                for ln in (self.ln1, self.ln2):  # initializers through Identity nodes
                    ln.weight.uniform_(0.5, 1.5)
                    ln.bias.uniform_(-0.5, 0.5)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.scale = d ** -0.5
            if planted:
                self.register_buffer("pos", torch.linspace(0, 1, tokens * d).reshape(tokens, d))
                with torch.no_grad():
                    self.fc2.weight[0, 0] = -7.0e4  # WS015: beyond float16's range

        def forward(self, x):  # x: 1 x tokens x d
            h = self.ln1(x)
            q, k, v = self.q(h), self.k(h), self.v(h)
            a = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)
            if self.planted:
                a = a / 1.0  # WS007: Div by one
            x = x + self.o(a @ v)
            if self.planted:
                x = x + torch.sin(self.pos) * 0.1  # WS009: computed from a buffer on every call
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    return {"resnet": ResNetBlock, "mobilenet": MobileNetBlock, "unet": UNetBlock, "transformer": TransformerBlock}


BLOCKS = ("resnet", "mobilenet", "unet", "transformer")
_INPUT_SHAPES = {"resnet": (1, CHANNELS, SIZE, SIZE), "mobilenet": (1, CHANNELS, SIZE, SIZE),
                 "unet": (1, CHANNELS, SIZE, SIZE), "transformer": (1, SIZE, CHANNELS)}  # fmt: skip


def build_module(block: str, planted: bool, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    m = _modules()[block](planted=planted).eval()
    torch.manual_seed(seed + 1)
    return m, torch.randn(*_INPUT_SHAPES[block])


# ---------------------------------------------------------------------------------------
# Manifests


def _E(*a, **k):
    return Expect(*a, **k)


_PLANTED = {
    ("resnet", "legacy"): {"expect": [
        _E("WS012", "BatchNormalization", count=2, why="conv1/conv2 + BatchNormalization (not fused: no constant folding)"),
        _E("WS010", "Conv", "head", why="head conv output channels 2, 3 zeroed"),
        _E("WS010", "Conv", "conv1", why="conv1 output channel 5 zeroed"),
        _E("WS011", "Conv", "conv2", why="conv2's input channel 5 is ReLU(BN(0)) = 0"),
        _E("WS015", None, "conv2", why="conv2.weight[0, 0, 1, 1] = 1e6"),
        _E("WS007", "Mul", why="y * 1.0"),
    ]},
    ("resnet", "dynamo"): {"expect": [
        _E("WS010", "Conv", count=2, why="conv1 channel 5, head channels 2, 3 zeroed (the optimiser folds the "
           "BatchNorms and drops * 1.0)"),
        _E("WS011", "Conv", why="conv2's input channel 5 is ReLU(0) = 0"),
        _E("WS015", None, "conv2", why="conv2.weight[0, 0, 1, 1] = 1e6"),
    ]},
    ("mobilenet", "legacy"): {"expect": [
        _E("WS012", "BatchNormalization", count=3, why="three BatchNormalization after their convs"),
        _E("WS008", "Cast", why="float32 -> float64 -> float32"),
        _E("WS008", "Reshape", why="reshape to (1, C, HW) and back"),
        _E("WS013", "MaxPool", why="3x3 max pool, padding 1, on the pooled 1x1 map"),
        _E("DT001", "Conv", "se1", why="3x3 dilation-2 conv on the pooled 1x1 map"),
    ]},
    ("mobilenet", "dynamo"): {"expect": [
        _E("WS008", "Cast", why="float32 -> float64 -> float32 (the optimiser keeps it; drops the Reshape pair)"),
        _E("WS013", "MaxPool", why="3x3 max pool, padding 1, on the pooled 1x1 map"),
        _E("DT001", "Conv", "se1", why="3x3 dilation-2 conv on the pooled 1x1 map"),
    ]},
    ("unet", "legacy"): {"expect": [
        _E("WS010", "ConvTranspose", "up", why="ConvTranspose output channel 1 zeroed (weights and bias)"),
        _E("WS012", None, why="enc conv * gamma + beta, per channel"),
        _E("WS014", "Resize", count=2, why="nearest x2 upsample, then [::2, ::2] / a stride-2 1x1 conv"),
        _E("WS007", "Add", why="e + 0.0 (the legacy exporter drops the Concat of one tensor)"),
    ], "allowed": ("WS011",)},
    ("unet", "dynamo"): {"expect": [
        _E("WS010", "ConvTranspose", "up", why="ConvTranspose output channel 1 zeroed (weights and bias)"),
        _E("WS012", None, why="enc conv * gamma + beta, per channel"),
        _E("WS014", "Resize", count=2, why="nearest x2 upsample, then [::2, ::2] / a stride-2 1x1 conv"),
    ], "allowed": ("WS011",)},
    ("transformer", "legacy"): {"expect": [
        _E("WS007", "Div", why="a / 1.0"),
        _E("WS009", None, "pos", why="sin(pos) * 0.1 from a buffer, computed every call"),
        _E("WS015", None, "fc2", why="fc2.weight[0, 0] = -7e4"),
        _E("WS009", "Transpose", count=6, why="export artefact: without constant folding every Linear's weight "
           "is transposed at run time"),
    ]},
    ("transformer", "dynamo"): {"expect": [
        _E("WS015", "MatMul", why="fc2.weight[0, 0] = -7e4 (the optimiser folds sin(pos) and drops / 1.0)"),
    ]},
}

# ONNX-level plants, added to the clean legacy export (names are fixed, so the manifest names them)
_ONNX_PLANTS = [
    _E("WS001", None, "plant_unused_weight", why="an initializer nothing reads"),
    _E("WS002", None, "plant_unused_node", why="a node whose output nothing reads"),
    _E("WS003", None, "plant_unused_input", why="a graph input nothing reads"),
    _E("WS004", None, "plant.unused.domain", why="an opset import no node uses"),
    _E("WS005", None, "plant_dup_weight", why="an initializer equal to another one"),
    _E("WS006", None, "plant_dup_node", why="a node computing what another node computes"),
    _E("WS008", "Transpose", "plant_transpose", why="a Transpose followed by its inverse"),
]


def _cases() -> list:
    cases = []
    for block in BLOCKS:
        for exporter in ("legacy", "dynamo"):
            cases.append(Case(f"{block}_clean_{exporter}", block, False, exporter))
            spec = _PLANTED[(block, exporter)]
            cases.append(Case(f"{block}_planted_{exporter}", block, True, exporter, list(spec["expect"]),
                              tuple(spec.get("allowed", ()))))  # fmt: skip
    for block in ("mobilenet", "transformer"):
        cases.append(Case(f"{block}_onnx", block, False, "legacy", list(_ONNX_PLANTS), onnx_plants=True))
    return cases


CASES = {c.name: c for c in _cases()}


# ---------------------------------------------------------------------------------------
# Export


@contextlib.contextmanager
def _quiet():
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "torch._dynamo", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, lv in zip(loggers, levels):
                lg.setLevel(lv)


def export(module, x, exporter: str, fold: bool = True):
    """The module as an ``onnx.ModelProto``: legacy at opset 17, dynamo (optimised) at 18."""
    import onnx
    import torch

    with torch.no_grad(), _quiet():
        if exporter == "legacy":
            buf = io.BytesIO()
            torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=17, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], do_constant_folding=fold)  # fmt: skip
            return onnx.load_model_from_string(buf.getvalue())
        prog = torch.onnx.export(module, (x,), dynamo=True, opset_version=18, input_names=[INPUT_NAME],
                                 output_names=[OUTPUT_NAME], verbose=False)  # fmt: skip
        proto = prog.model_proto
    for node in proto.graph.node:  # absolute source paths: not reproducible
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    return proto


def plant_onnx(model):
    """Add the ONNX-level waste of ``_ONNX_PLANTS`` to ``model`` (in place; returns it)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    readers: dict = {}
    for n in g.node:
        for name in n.input:
            readers.setdefault(name, []).append(n)
    # WS001: an initializer nothing reads
    g.initializer.append(numpy_helper.from_array(np.arange(24, dtype=np.float32).reshape(4, 6), "plant_unused_weight"))
    # WS003: a graph input nothing reads
    g.input.append(helper.make_tensor_value_info("plant_unused_input", TensorProto.FLOAT, [1, 4]))
    # WS004: an opset import no node uses
    model.opset_import.append(helper.make_opsetid("plant.unused.domain", 1))
    # WS005: of two float initializers of the same shape, read by single nodes that compute
    # different things (their other inputs differ), the second gets the first one's values
    by_dims: dict = {}
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT and int(np.prod(t.dims or [1])) >= 16 and len(readers.get(t.name, [])) == 1:
            by_dims.setdefault(tuple(t.dims), []).append(t)

    def others(t):
        return sorted(n for n in readers[t.name][0].input if n != t.name)

    first, second = next((a, b) for ts in by_dims.values() for i, a in enumerate(ts) for b in ts[i + 1:]
                         if others(a) != others(b))  # fmt: skip
    second_name = second.name
    second.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first).copy(), "plant_dup_weight"))
    for n in readers[second_name]:
        n.input[list(n.input).index(second_name)] = "plant_dup_weight"
    # WS006: a node computing what another node computes: the producer of a tensor with two
    # readers is cloned, and one reader reads the clone
    outputs = {o.name for o in g.output}
    for n in list(g.node):
        out = n.output[0] if n.output else ""
        if n.op_type == "Constant" or out in outputs or len(readers.get(out, [])) < 2 or len(n.output) != 1:
            continue
        clone = onnx.NodeProto()
        clone.CopyFrom(n)
        clone.name, clone.output[0] = "plant_dup_node", "plant_dup_node_out"
        g.node.insert(list(g.node).index(n) + 1, clone)
        reader = readers[out][-1]
        reader.input[list(reader.input).index(out)] = "plant_dup_node_out"
        break
    else:
        raise RuntimeError("no tensor with two readers to duplicate")
    # WS008: Transpose + inverse Transpose on the graph input, feeding its readers
    inp = g.input[0].name
    rank = len(g.input[0].type.tensor_type.shape.dim)
    perm = [0] + list(range(1, rank))[::-1]
    inv = [perm.index(i) for i in range(rank)]
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == inp:
                n.input[i] = "plant_transpose_back"
    g.node.insert(0, helper.make_node("Transpose", ["plant_transpose_t"], ["plant_transpose_back"],
                                      name="plant_transpose_inverse", perm=inv))  # fmt: skip
    g.node.insert(0, helper.make_node("Transpose", [inp], ["plant_transpose_t"], name="plant_transpose", perm=perm))
    # WS002: a node whose output nothing reads
    g.node.append(helper.make_node("Relu", [inp], ["plant_unused_node_out"], name="plant_unused_node"))
    onnx.checker.check_model(model, full_check=True)
    return model


# planted blocks whose legacy export runs without constant folding (BatchNorm, a constant subgraph)
_NO_FOLDING = ("resnet", "mobilenet", "transformer")


def build_case(case: Case):
    """The case's ``onnx.ModelProto``."""
    module, x = build_module(case.block, case.planted)
    fold = not (case.planted and case.block in _NO_FOLDING)
    model = export(module, x, case.exporter, fold=fold)
    if case.onnx_plants:
        plant_onnx(model)
    return model


def build_all(out_dir, names=None) -> dict:
    """Write every case (or ``names``) to ``out_dir/<name>.onnx``; returns {name: path}."""
    import onnx

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, case in CASES.items():
        if names is not None and name not in names:
            continue
        p = out / f"{name}.onnx"
        onnx.save_model(build_case(case), str(p))
        paths[name] = p
    return paths


def main(argv=None) -> int:
    import onnx

    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.strip().splitlines()[-1].strip())
        return 2
    for name, p in build_all(argv[0], argv[1:] or None).items():
        m = onnx.load(str(p))
        print(f"{name}: {p.stat().st_size} bytes, {len(m.graph.node)} nodes:", " ".join(n.op_type for n in m.graph.node))
    return 0


if __name__ == "__main__":
    sys.exit(main())
