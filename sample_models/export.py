"""Export a sample model to ONNX with either PyTorch exporter.

Usage::

    python -m sample_models.export --model drln --scale 2 --exporter dynamo --out drln_x2.onnx
    python -m sample_models.export --model drln-attention --exporter legacy --dynamic --out att.onnx

Exporters: ``dynamo`` is the default ``torch.onnx.export(..., dynamo=True)``, ``legacy`` is
``dynamo=False`` (TorchScript based). Both files target ONNX opset 17.

The dynamo exporter in torch 2.13 has no implementation below opset 18: asked for 17 it
exports at 18 and then tries the ONNX C version converter, which fails on ``ReduceMean``
(opset 18 moved ``axes`` from an attribute to an input) and keeps opset 18. So this module
asks dynamo for opset 18 and lowers the result to 17 with :func:`lower_opset_18_to_17`, a
small pass that rewrites exactly the op changes of opset 18 it knows and refuses anything else.

Weights layout: by default each exporter's own layout is kept: dynamo writes the weights to
``PATH.data`` beside ``PATH`` (it does so for every model size), legacy writes one file.
``--external-data`` / ``--no-external-data`` force one layout for either exporter.

Other post-processing, for reproducible files: dynamo's per-node
``pkg.torch.onnx.stack_trace`` metadata is dropped (it holds absolute source paths);
everything else the exporters write is kept.

Models, the options each takes (default) and the input shape; other options are rejected:

- ``drln``: scale, blocks (20), channels (64), reduction (16); input B x 3 x 32 x 32
- ``drln-attention``: channels (64), reduction (16); input B x C x 16 x 16
- ``rcan-attention``: channels (64), reduction (16); input B x C x 16 x 16
- ``conv-stack``: channels (16), blocks = depth (3); input B x C x 16 x 16
- ``eca-attention``: channels (64); input B x C x 16 x 16
- ``aspp``: channels = input channels (64), reduction (4), branch width = channels // reduction;
  input B x C x 28 x 28

B is 1 (2 when tracing a ``--dynamic`` export); height, width, batch and seed (0) can be set
for every model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import pathlib
import sys
import warnings

import onnx
import torch
from onnx import numpy_helper

from .blocks import ASPP, ECAAttention, PlainConvStack, RCANAttention
from .drln import DRLN, DRLNAttention

__all__ = ["MODELS", "EXPORTERS", "OPSET", "build_model", "export", "lower_opset_18_to_17", "main"]

OPSET = 17
EXPORTERS = ("dynamo", "legacy")
INPUT_NAME = "input"
OUTPUT_NAME = "output"

# Per model: default options (the keys are also the options it accepts besides
# height/width/batch/seed), and a factory taking the resolved options.
_DEFAULTS: dict[str, dict[str, int]] = {
    "drln": {"n_blocks": 20, "channels": 64, "reduction": 16, "height": 32, "width": 32},
    "drln-attention": {"channels": 64, "reduction": 16, "height": 16, "width": 16},
    "rcan-attention": {"channels": 64, "reduction": 16, "height": 16, "width": 16},
    "conv-stack": {"channels": 16, "n_blocks": 3, "height": 16, "width": 16},
    "eca-attention": {"channels": 64, "height": 16, "width": 16},
    "aspp": {"channels": 64, "reduction": 4, "height": 28, "width": 28},
}

_FACTORIES = {
    "drln": lambda o: DRLN(o["scale"], o["n_blocks"], o["channels"], o["reduction"]),
    "drln-attention": lambda o: DRLNAttention(o["channels"], o["reduction"]),
    "rcan-attention": lambda o: RCANAttention(o["channels"], o["reduction"]),
    "conv-stack": lambda o: PlainConvStack(o["channels"], o["n_blocks"]),
    "eca-attention": lambda o: ECAAttention(o["channels"]),
    "aspp": lambda o: ASPP(o["channels"], max(1, o["channels"] // o["reduction"])),
}

MODELS = tuple(_DEFAULTS)


def _resolve(model_name: str, scale: int, cfg: dict) -> dict:
    if model_name not in _DEFAULTS:
        raise ValueError(f"unknown model {model_name!r}; choose from {', '.join(MODELS)}")
    options = dict(_DEFAULTS[model_name], scale=scale, batch=1, seed=0)
    for key, value in cfg.items():
        if value is None:
            continue
        if key not in options:
            raise ValueError(f"model {model_name!r} does not take option {key!r}")
        options[key] = int(value)
    return options


def build_model(model_name: str, scale: int = 2, **cfg) -> tuple[torch.nn.Module, torch.Tensor]:
    """The seeded model (in eval mode) and its example input, exactly as :func:`export` uses them.

    ``cfg`` may hold ``n_blocks``, ``channels``, ``reduction``, ``height``, ``width``,
    ``batch`` and ``seed``; ``None`` values mean the model's default.
    """
    options = _resolve(model_name, scale, cfg)
    torch.manual_seed(options["seed"])
    model = _FACTORIES[model_name](options).eval()
    in_channels = 3 if model_name == "drln" else options["channels"]
    generator = torch.Generator().manual_seed(options["seed"] + 1)
    shape = (options["batch"], in_channels, options["height"], options["width"])
    return model, torch.rand(shape, generator=generator)


@contextlib.contextmanager
def _quiet():
    """Swallow the exporters' progress prints, warnings and log chatter; replay them on failure."""
    captured = io.StringIO()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _dynamo_proto(model, x, dynamic: bool) -> onnx.ModelProto:
    dynamic_shapes = None
    if dynamic:
        dim = torch.export.Dim
        dynamic_shapes = ({0: dim("batch"), 2: dim("height"), 3: dim("width")},)
    with _quiet():
        program = torch.onnx.export(
            model,
            (x,),
            dynamo=True,
            opset_version=18,  # the lowest it implements; lowered to 17 below
            verbose=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic_shapes,
        )
        proto = program.model_proto
    _drop_stack_traces(proto.graph)
    return lower_opset_18_to_17(proto)


def _legacy_proto(model, x, dynamic: bool, upscales: bool) -> onnx.ModelProto:
    dynamic_axes = None
    if dynamic:
        out_axes = {0: "batch", 2: "out_height", 3: "out_width"} if upscales else {0: "batch", 2: "height", 3: "width"}
        dynamic_axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: out_axes}
    buffer = io.BytesIO()
    with _quiet():
        torch.onnx.export(
            model,
            (x,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
        )
    return onnx.load_model_from_string(buffer.getvalue())


def _drop_stack_traces(graph: onnx.GraphProto) -> None:
    for node in graph.node:
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
        for attr in node.attribute:
            for sub in [attr.g, *attr.graphs]:
                _drop_stack_traces(sub)


# ---------------------------------------------------------------------------------------
# opset 18 -> 17

_REDUCE_OPS_CHANGED_IN_18 = {
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
    "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare",
}  # fmt: skip


def lower_opset_18_to_17(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite an opset-18 model as opset 17, in place; returns it.

    1. A model already at opset 17 is returned unchanged; another version raises ``ValueError``.
    2. Ops whose ai.onnx schema is the same at 17 and 18 are kept as they are.
    3. ``Reduce*`` (except ``ReduceSum``, unchanged since 13): the ``axes`` input, which must be
       a constant (initializer or ``Constant``), becomes the ``axes`` attribute;
       ``noop_with_empty_axes`` (new in 18) is dropped when it is 0 and refused when it is 1.
    4. ``Pad`` without the (new) ``axes`` input is unchanged in meaning and kept.
    5. Any other op that changed in opset 18 (``Split``, ``Resize``, ``ScatterND``, ...) raises
       ``NotImplementedError``: the pass never guesses.
    Constants left without a consumer are removed. Subgraphs and local functions are not supported.
    """
    version = {o.domain: o.version for o in model.opset_import}.get("", None)
    if version == OPSET:
        return model
    if version != 18:
        raise ValueError(f"expected an opset-18 model, got ai.onnx opset {version}")
    if len(model.functions):
        raise NotImplementedError("models with local functions are not supported")
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                constants[node.output[0]] = value

    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise NotImplementedError(f"node {node.name!r} ({node.op_type}) has a subgraph")
        if onnx.defs.get_schema(node.op_type, 18).since_version == onnx.defs.get_schema(node.op_type, 17).since_version:
            continue
        if node.op_type in _REDUCE_OPS_CHANGED_IN_18:
            _lower_reduce(node, constants)
        elif node.op_type == "Pad" and (len(node.input) < 4 or not node.input[3]):
            pass
        else:
            raise NotImplementedError(f"cannot lower {node.op_type} (node {node.name!r}) from opset 18 to 17")

    _remove_unused_constants(graph)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = OPSET
    return model


def _lower_reduce(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> None:
    attrs = {a.name: a for a in node.attribute}
    noop = attrs.pop("noop_with_empty_axes", None)
    axes_name = node.input[1] if len(node.input) > 1 else ""
    if noop is not None and noop.i == 1 and not axes_name:
        raise NotImplementedError(f"{node.op_type} {node.name!r}: noop_with_empty_axes=1 has no opset-17 form")
    if axes_name:
        if axes_name not in constants:
            raise NotImplementedError(f"{node.op_type} {node.name!r}: axes input {axes_name!r} is not a constant")
        axes = [int(a) for a in numpy_helper.to_array(constants[axes_name]).reshape(-1)]
        if not axes and not (noop is not None and noop.i == 1):
            axes_attr = None  # empty axes with noop 0: reduce over all axes, the opset-17 default
        elif not axes:
            raise NotImplementedError(f"{node.op_type} {node.name!r}: empty axes with noop_with_empty_axes=1")
        else:
            axes_attr = onnx.helper.make_attribute("axes", axes)
        del node.input[1:]
        if axes_attr is not None:
            attrs["axes"] = axes_attr
    del node.attribute[:]
    node.attribute.extend(attrs[name] for name in sorted(attrs))


def _remove_unused_constants(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    used.update(out.name for out in graph.output)
    kept_inits = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    kept_nodes = [n for n in graph.node if not (n.op_type == "Constant" and n.output[0] not in used)]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    names = {init.name for init in graph.initializer} | {o for n in graph.node for o in n.output}
    names.update(i.name for i in graph.input)
    kept_info = [vi for vi in graph.value_info if vi.name in names]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)


# ---------------------------------------------------------------------------------------


def _save(proto: onnx.ModelProto, path: pathlib.Path, external_data: bool) -> None:
    data_path = path.with_name(path.name + ".data")
    # onnx appends to an existing external-data file, so never leave a stale one behind.
    if data_path.exists():
        data_path.unlink()
    if external_data:
        onnx.save_model(
            proto,
            path,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_path.name,
            size_threshold=1024,
        )
    else:
        onnx.save_model(proto, path)


def export(
    model_name: str,
    out_path,
    exporter: str,
    scale: int = 2,
    dynamic: bool = False,
    *,
    external_data: bool | None = None,
    **cfg,
) -> pathlib.Path:
    """Export ``model_name`` to ``out_path`` (opset 17); returns the model file's path.

    ``exporter`` is ``"dynamo"`` or ``"legacy"``. ``dynamic`` makes batch, height and width of
    the 4-D input dynamic. ``external_data``: ``None`` keeps the exporter's own layout (dynamo:
    weights in ``<out_path>.data``; legacy: one file), ``True``/``False`` force one. ``cfg`` as
    in :func:`build_model`.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    path = pathlib.Path(out_path)
    if dynamic and cfg.get("batch") is None:
        # torch.export specializes a traced batch of 1 in some ops (Conv1d in ECA); trace with 2.
        cfg = dict(cfg, batch=2)
    model, x = build_model(model_name, scale, **cfg)
    with torch.no_grad():
        if exporter == "dynamo":
            proto = _dynamo_proto(model, x, dynamic)
        else:
            proto = _legacy_proto(model, x, dynamic, upscales=model_name == "drln")
    if external_data is None:
        external_data = exporter == "dynamo"
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(proto, path, external_data)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_models.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default="drln")
    parser.add_argument("--exporter", choices=EXPORTERS, default="dynamo")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output .onnx path")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), default=2, help="DRLN upscaling factor")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch, height and width")
    parser.add_argument("--blocks", type=int, dest="n_blocks", help="DRLN blocks / conv-stack depth")
    parser.add_argument("--channels", type=int)
    parser.add_argument("--reduction", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seed", type=int)
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--external-data", dest="external_data", action="store_true", default=None,
                        help="weights in OUT.data beside the model (dynamo's default)")
    layout.add_argument("--no-external-data", dest="external_data", action="store_false",
                        help="one self-contained file (legacy's default)")
    args = parser.parse_args(argv)
    cfg = {k: getattr(args, k) for k in ("n_blocks", "channels", "reduction", "height", "width", "batch", "seed")}
    try:
        path = export(args.model, args.out, args.exporter, args.scale, args.dynamic,
                      external_data=args.external_data, **cfg)
    except ValueError as error:
        parser.error(str(error))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
