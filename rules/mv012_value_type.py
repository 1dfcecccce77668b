"""MV012 value-type: a graph input or output without a type, or a declared tensor type whose element type is UNDEFINED.

## What it does
* ``missing-type``: an input or output of the main graph with no ``type`` (or a
  ``type`` with none of its fields set);
* ``undefined-elem-type``: a tensor type (also inside a sequence, optional or map
  type, and a sparse tensor type) with ``elem_type`` 0 (UNDEFINED), declared for a
  graph input, graph output or ``value_info`` entry, in the main graph or any
  If/Loop/Scan body.

Bodies' inputs and outputs without a type are not reported: onnx.checker and
onnxruntime both accept them (their types follow from the node holding the body).
A main-graph input or output whose *shape* is missing is not reported: onnx.checker
requires it, but onnx.proto makes the shape optional and onnxruntime runs the model.

## Why is this bad?
onnx.proto (ValueInfoProto.type) makes the type mandatory for the inputs and
outputs of the top-level graph.  onnxruntime refuses an input without a
type ("Model input (x) does not have type information.") and any declared
UNDEFINED element type, anywhere ("Invalid tensor data type 0."); ``onnx.checker``
rejects the missing type ("Field 'type' of 'value_info' is required but missing.") but
lets an UNDEFINED output or value_info pass -- a model it accepts and onnxruntime
cannot load.

## Example
```
graph(x: float32[2]) -> (y)            # y has no type
value_info t: tensor(UNDEFINED)[2]
```

## How to fix
Declare the types: run ``onnx.shape_inference.infer_shapes`` (it fills the types it
can infer), or set ``elem_type`` to the tensor's real type; delete a ``value_info``
entry rather than leaving its type UNDEFINED.

## Details
``kind``, ``tensor``, ``graph``, ``declared_in`` (``input``, ``output`` or ``value_info``),
``index``.
"""
from __future__ import annotations

CODE = "MV012"
NAME = "value-type"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import MAIN, graph_protos, shown, type_kind, undefined_elem_type, value_finding, where

    rule = sys.modules[__name__]
    for path, proto in graph_protos(model):
        for declared_in, infos in (("input", proto.input), ("output", proto.output), ("value_info", proto.value_info)):
            for index, vi in enumerate(infos):
                name = text(vi.name)
                details = {"declared_in": declared_in, "index": index}
                if not vi.HasField("type") or type_kind(vi.type) is None:
                    if path == MAIN and declared_in != "value_info":
                        yield value_finding(rule, path, name,
                                            f"graph {declared_in} {shown(name)} has no type: the type of a graph's "
                                            f"inputs and outputs is required (onnx.checker rejects it"
                                            + (", onnxruntime refuses to load it)" if declared_in == "input" else ")"),
                                            {"kind": "missing-type", **details})
                    continue
                if undefined_elem_type(vi.type):
                    yield value_finding(rule, path, name,
                                        f"{declared_in.replace('_', ' ')} {shown(name)}{where(path)} declares element "
                                        "type UNDEFINED (0): onnxruntime refuses to load the model",
                                        {"kind": "undefined-elem-type", **details})
