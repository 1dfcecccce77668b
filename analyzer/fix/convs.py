"""Conv / ConvTranspose nodes as a rewrite sees them: :class:`ConvState` (resolved
attributes and the weight's values), read from a node's tap analysis, and written back
as node attributes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper

from analyzer.fix.records import Refused

__all__ = ["ConvState", "conv_attrs", "conv_state", "write_conv"]

# the attributes a rewritten conv sets again (auto_pad / output_shape become explicit pads)
_GEOMETRY_ATTRS = ("kernel_shape", "strides", "dilations", "pads", "group", "auto_pad", "output_shape", "output_padding")


@dataclass
class ConvState:
    """One conv as it will be written: resolved attributes, weight values."""

    op_type: str
    input: str
    weight_name: str
    weight: np.ndarray
    bias: str | None
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple  # ONNX layout: begins then ends
    group: int
    output_padding: tuple | None  # ConvTranspose only
    external: bool  # the weight was stored as external data

    def config(self):
        return (self.op_type, self.input, self.kernel, self.strides, self.dilations, self.pads, self.group,
                self.output_padding, str(self.weight.dtype), self._in_channels())

    def _in_channels(self):
        return int(self.weight.shape[0] if self.op_type == "ConvTranspose" else self.weight.shape[1])

    def describe(self) -> dict:
        return {
            "kernel_shape": list(self.kernel),
            "dilations": list(self.dilations),
            "strides": list(self.strides),
            "pads": list(self.pads),
            "group": self.group,
            "weight_shape": list(self.weight.shape),
            "input": self.input,
        }


def conv_state(rw, ct) -> ConvState:
    """The conv of tap analysis ``ct`` as it is (dead taps and all), with resolved pads and a
    folded Pad; its weight read through rewriter ``rw`` (Refused unless an initializer)."""
    op = ct.op
    if op.op_type not in ("Conv", "ConvTranspose"):
        raise Refused(f"{op.op_type} is not rewritten (only Conv and ConvTranspose)")
    w_name = ct.weight_key[2]
    weight, external = rw.initializer(w_name)
    bias = op.inputs[2][2] if len(op.inputs) > 2 and op.inputs[2] is not None else None
    return ConvState(
        op_type=op.op_type, input=ct.input_key[2], weight_name=w_name, weight=weight, bias=bias,
        kernel=tuple(ct.kernel_shape), strides=tuple(ct.strides), dilations=tuple(ct.dilations),
        pads=tuple(ct.pads_begin) + tuple(ct.pads_end), group=ct.group,
        output_padding=tuple(ct.output_padding) if ct.transpose else None, external=external,
    )  # fmt: skip


def conv_attrs(s: ConvState) -> dict:
    """The node attributes that express ``s``."""
    d = {
        "kernel_shape": list(s.kernel),
        "strides": list(s.strides),
        "dilations": list(s.dilations),
        "pads": list(s.pads),
        "group": int(s.group),
    }
    if s.op_type == "ConvTranspose" and s.output_padding and any(s.output_padding):
        d["output_padding"] = list(s.output_padding)
    return d


def write_conv(node, s: ConvState) -> str:
    """Make ``node`` compute ``s`` (input and geometry attributes); returns the input it read
    before (which may have lost its last reader)."""
    old_input = node.input[0]
    node.input[0] = s.input
    keep = [a for a in node.attribute if a.name not in _GEOMETRY_ATTRS]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.extend(helper.make_attribute(k, v) for k, v in conv_attrs(s).items())
    return old_input
