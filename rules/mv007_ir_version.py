"""MV007 ir-version: an IR version that contradicts the model's opset imports.

## What it does
Reports a model whose ``ir_version`` is below 3 but which has ``opset_import``
entries: operator sets were introduced with IR version 3, so such a file claims a
format in which its own opset imports do not exist.

(The other IR-version problems stop the analysis before any rule runs: a model with
no ``ir_version`` is error kind ``not-onnx``, one newer than the installed onnx
supports is ``unsupported``; both exit 2.  An IR version older than the opset's
release -- IR 3 with opset 17 -- is accepted by both onnx.checker and onnxruntime,
and is not reported.)

## Why is this bad?
``onnx.checker`` rejects it ("model with IR version < 3 cannot have opset_import
specified"), and onnxruntime reads the file with IR 1/2 rules: it binds nodes to the
opset-1 operators and fails ("Could not find an implementation for Relu(1)").

## Example
```
ir_version: 2
opset_import: [("", 17)]
```

## How to fix
Set ``ir_version`` to the version the exporter wrote for that opset
(``onnx.helper.find_min_ir_version_for`` gives the minimum, ``onnx.IR_VERSION`` the
newest).

## Details
``ir_version``, ``opset_imports`` (the number of entries).
"""
from __future__ import annotations

CODE = "MV007"
NAME = "ir-version"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import finding

    rule = sys.modules[__name__]
    m = model.model
    ir = int(m.ir_version)
    if 0 < ir < 3 and len(m.opset_import):
        yield finding(rule, node="<model>", details={"ir_version": ir, "opset_imports": len(m.opset_import)},
                      message=f"ir_version {ir} has no operator sets (they came with IR version 3), yet the model "
                      f"imports {len(m.opset_import)}: onnx.checker rejects it and onnxruntime binds its nodes to opset 1")
