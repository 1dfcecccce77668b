"""Deterministic graph-heavy models for the scale bench and its tests (issue 20, part 2).

- :func:`chain` — ``n`` Relu nodes one after the other (1,000,000 nodes: a 25 MB file).
- :func:`branching_dag` — ``n`` nodes where each Add reads the previous value and one
  from about half-way back (fan-out up to ~2, long-range edges, no subgraphs).
- :func:`decoder` — a PyTorch transformer decoder (pre-LayerNorm, causal self-attention,
  GELU MLP; ``layers`` 24 by default, hidden 64, 4 heads, vocabulary 256) exported with
  either exporter, batch and sequence length dynamic, random (seeded) weights.

:func:`cached` writes a model once into a cache directory and returns its path.

    python bench/models.py DIR            # writes the three models (both decoder exports) to DIR
"""
from __future__ import annotations

import io
import tempfile
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DECODER = {"layers": 24, "hidden": 64, "heads": 4, "vocab": 256, "max_len": 512}


def chain(n: int):
    """``n`` Relus in a chain, input ``[1, 8, 4, 4]`` (float)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"n{i}") for i in range(n)]
    x = helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1, 8, 4, 4])
    y = helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, [1, 8, 4, 4])
    return helper.make_model(helper.make_graph(nodes, "chain", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])


def branching_dag(n: int):
    """``n`` nodes: a Relu, then Adds where node ``i`` reads ``v[i]`` and ``v[i // 2]``:
    values of the first half feed two nodes each, edges span the whole graph."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["v0"], ["v1"], name="n0")]
    for i in range(1, n):
        nodes.append(helper.make_node("Add", [f"v{i}", f"v{i // 2}"], [f"v{i + 1}"], name=f"n{i}"))
    x = helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1, 8, 4, 4])
    y = helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, [1, 8, 4, 4])
    return helper.make_model(helper.make_graph(nodes, "branching", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])


def _decoder_module(layers: int, hidden: int, heads: int, vocab: int, max_len: int):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.ln2 = nn.LayerNorm(hidden)
            self.up = nn.Linear(hidden, 4 * hidden)
            self.down = nn.Linear(4 * hidden, hidden)

        def forward(self, x, mask):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(hidden, dim=-1)
            q = q.reshape(b, t, heads, hidden // heads).transpose(1, 2)
            k = k.reshape(b, t, heads, hidden // heads).transpose(1, 2)
            v = v.reshape(b, t, heads, hidden // heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (hidden // heads) ** 0.5)
            att = torch.softmax(att + mask, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, hidden)
            x = x + self.proj(y)
            return x + self.down(nn.functional.gelu(self.up(self.ln2(x))))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, hidden)
            self.pos = nn.Embedding(max_len, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln = nn.LayerNorm(hidden)
            self.head = nn.Linear(hidden, vocab, bias=False)

        def forward(self, ids):
            t = ids.shape[1]
            pos = torch.arange(t, device=ids.device)
            x = self.tok(ids) + self.pos(pos)
            mask = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.ln(x))

    return Decoder()


def decoder(exporter: str = "legacy", layers: int = DECODER["layers"], seed: int = 0):
    """The transformer decoder as a ModelProto (opset 17 for legacy, 18 for dynamo), input
    ``ids`` int64 ``[batch, seq]``, output ``logits`` ``[batch, seq, vocab]``."""
    import onnx
    import torch

    from sample_models.export import _drop_stack_traces, _quiet

    cfg = dict(DECODER, layers=layers)
    torch.manual_seed(seed)
    model = _decoder_module(**cfg).eval()
    ids = torch.randint(0, cfg["vocab"], (2, 7), generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad(), _quiet():
        if exporter == "dynamo":
            dim = torch.export.Dim
            program = torch.onnx.export(
                model, (ids,), dynamo=True, opset_version=18, input_names=["ids"], output_names=["logits"],
                dynamic_shapes=({0: dim("batch"), 1: dim("seq", max=cfg["max_len"])},),
            )
            proto = program.model_proto
            _drop_stack_traces(proto.graph)
            return proto
        if exporter != "legacy":
            raise ValueError(f"exporter must be 'legacy' or 'dynamo', got {exporter!r}")
        buffer = io.BytesIO()
        torch.onnx.export(
            model, (ids,), buffer, dynamo=False, opset_version=17, input_names=["ids"], output_names=["logits"],
            dynamic_axes={"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
        )
    return onnx.load_model_from_string(buffer.getvalue())


MODELS = {
    "chain-1M": lambda: chain(1_000_000),
    "dag-100k": lambda: branching_dag(100_000),
    "decoder-legacy": lambda: decoder("legacy"),
    "decoder-dynamo": lambda: decoder("dynamo"),
}


def cached(name: str, cache_dir: str) -> str:
    """The path of model ``name`` (a key of :data:`MODELS`) in ``cache_dir``, written on first use."""
    import onnx

    path = os.path.join(cache_dir, f"{name}.onnx")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        proto = MODELS[name]()
        tmp = path + ".tmp"
        onnx.save_model(proto, tmp)  # one file: the decoders' weights are small
        os.replace(tmp, path)
    return path


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "onnxlint-scale-models")
    for name in MODELS:
        print(cached(name, out), os.path.getsize(cached(name, out)))
