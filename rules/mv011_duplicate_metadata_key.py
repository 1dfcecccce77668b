"""MV011 duplicate-metadata-key: a key repeated in the model's metadata_props.

## What it does
Reports each key that appears more than once in ``model.metadata_props``.

## Why is this bad?
onnx.proto (ModelProto.metadata_props): "Named metadata values; keys should be
distinct."  ``onnx.checker`` rejects the model ("Your model has duplicate keys in
metadata_props.").  Readers disagree on which value wins: onnxruntime's
``ModelMetadata.custom_metadata_map`` keeps one, a tool that scans the list may see
the other -- and onnxlint's own suppressions live in this metadata.

## Example
```
metadata_props: [("author", "a"), ("author", "b")]
```

## How to fix
Keep one entry per key (``onnx.helper.set_model_props`` replaces the whole list).

## Details
``key``, ``count``, ``values`` (the first few values, cut to 80 characters).
"""
from __future__ import annotations

CODE = "MV011"
NAME = "duplicate-metadata-key"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import finding, shown

    rule = sys.modules[__name__]
    values: dict = {}
    for p in model.model.metadata_props:
        values.setdefault(text(p.key), []).append(text(p.value))
    for key, vals in values.items():
        if len(vals) < 2:
            continue
        yield finding(rule, node=f"<metadata {key}>", details={"key": key, "count": len(vals),
                                                                "values": [v[:80] for v in vals[:4]]},
                      message=f"metadata key {shown(key)} appears {len(vals)} times: keys must be distinct "
                      "(onnx.checker rejects the model)")
