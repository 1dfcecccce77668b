"""MV024 tensor-payload: a stored tensor whose dims, data type and data disagree.

## What it does
Checks every TensorProto the model stores: initializers of the main graph and of every
If/Loop/Scan body, tensor attributes of every node (a Constant's ``value``), the values
and indices of sparse tensors, and model-local functions' attribute defaults:

* ``data_type`` UNDEFINED (0) or a code onnx does not define;
* a negative dim; an element count over 2**63 - 1;
* more than one data field set (``raw_data`` and ``float_data``...), or none for a
  tensor that has elements and no external data;
* data in a tensor with zero elements;
* a string tensor with ``raw_data``;
* a typed field that is not the one for the data type (``int32_data`` for a FLOAT);
* ``raw_data`` whose length is not elements x element size (shorter or longer), a
  typed field whose length is not the element count (twice that for complex types);
* an external tensor that also holds data in the file.

Large payloads that the lazy loader left in the file are measured by their recorded
length; nothing is read.  (External data whose length disagrees with the dims is refused
at load time: exit 2, kind ``external-data``.)

## Why is this bad?
The ONNX IR (onnx.proto, TensorProto): "dims: The shape of the tensor", each data field
is "For ... values" of given types, "raw_data ... must be in the same layout as the
corresponding numpy array ... Strings are not supported in raw_data", "when this field
is present, the data_type field MUST NOT be STRING or UNDEFINED", and externally stored
tensors keep their data outside.  ``onnx.checker`` fails with "Negative dimension
value", "Tensor dimension product overflow", "should contain one and only one value
field", "is 0-element but contains data!", "STRING data ... should not be stored in
raw_data field", "values of data_type '1' should be stored in field 'float_data' instead
of 'int32_data'", "raw_data size (20 bytes) is too small for the declared shape",
"setting data_type field ... to UNDEFINED is not allowed".  onnxruntime refuses to load
every one of them except several data fields (it reads ``raw_data`` and ignores the
rest, so the file means two things), also where the checker is silent (``raw_data`` or ``float_data``
longer than the dims say, an unknown data type): "raw_data size (28 bytes) does not
match expected size from shape and data type (24 bytes)", "data field count (7) does
not match expected count from shape (6)".

## Example
```
W: FLOAT dims [2, 3], raw_data of 20 bytes      # 6 floats need 24
```

## How to fix
Re-export the model, or rebuild the tensor from the intended array
(``onnx.numpy_helper.from_array(array, name)``), so that dims, data type and data agree.

## Details
``tensor``, ``where`` (``initializer``, ``attribute``, ``sparse_initializer``),
``graph``, ``node`` and ``attribute`` for a tensor attribute, ``problem``
(``data-type``, ``negative-dim``, ``overflow``, ``several-fields``, ``no-data``,
``zero-element-data``, ``string-raw-data``, ``wrong-field``, ``raw-data-length``,
``field-length``, ``external-with-data``), ``dims``, ``data_type``, ``expected`` and
``actual`` (bytes or values).
"""
from __future__ import annotations

CODE = "MV024"
NAME = "tensor-payload"
SEVERITY = "error"

MAX_COUNT = (1 << 63) - 1
_TYPED = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")


def _field_for(data_type):
    """(field, values per element) for a data type's typed storage, None when unknown."""
    from analyzer.io.proto import TensorProto as T

    if data_type in (T.FLOAT,):
        return "float_data", 1
    if data_type == T.COMPLEX64:
        return "float_data", 2
    if data_type == T.DOUBLE:
        return "double_data", 1
    if data_type == T.COMPLEX128:
        return "double_data", 2
    if data_type == T.INT64:
        return "int64_data", 1
    if data_type in (T.UINT32, T.UINT64):
        return "uint64_data", 1
    if data_type == T.STRING:
        return "string_data", 1
    if data_type in _SUBBYTE_TYPES():
        return "int32_data", None  # packed: length not checked
    return "int32_data", 1


def _SUBBYTE_TYPES():
    global _SUBBYTE
    if _SUBBYTE is None:
        from analyzer.io.proto import TensorProto as T

        _SUBBYTE = frozenset(getattr(T, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2") if hasattr(T, n))
    return _SUBBYTE


def _known_types():
    """The ONNX data types the installed onnx knows (made once: asked twice per tensor)."""
    global _KNOWN
    if _KNOWN is None:
        from analyzer.io.proto import TensorProto

        _KNOWN = frozenset(int(v) for v in TensorProto.DataType.values()) - {0}
    return _KNOWN


_SUBBYTE = None
_KNOWN = None


def problems(loc):
    """``[(problem, message, details)]`` for one :class:`rules._validity_attrs.TensorLocation`."""
    from analyzer.io.proto import TensorProto
    from analyzer.io.tensors import expected_nbytes

    t = loc.tensor
    out = []
    dt = int(t.data_type)
    dims = [int(d) for d in t.dims]
    base = {"dims": dims[:64], "data_type": dt}
    if dt == 0:
        out.append(("data-type", "data_type is UNDEFINED", base))
    elif dt not in _known_types():
        out.append(("data-type", f"data_type {dt} is not an ONNX data type", base))
    neg = [d for d in dims if d < 0]
    if neg:
        out.append(("negative-dim", f"negative dim(s) {neg[:8]} in dims {dims[:16]}", base))
        return out
    n = 1
    for d in dims:
        n *= d
        if n > MAX_COUNT:
            break
    if n > MAX_COUNT:
        out.append(("overflow", f"dims {dims[:16]} hold more than 2**63 - 1 elements", base))
        return out
    external = t.data_location == TensorProto.EXTERNAL
    lazy = loc.lazy
    fields = [f for f in _TYPED if len(getattr(t, f))]
    has_raw = t.HasField("raw_data")
    if lazy is not None:  # the payload cut out of the proto by the lazy loader
        if lazy.field == "raw_data":
            has_raw = True
        elif lazy.field not in fields:
            fields.append(lazy.field)
    if has_raw:
        fields = ["raw_data"] + fields
    if external:
        if fields:
            out.append(("external-with-data", f"stored as external data but also holds {', '.join(fields)} in the file", base))
        return out
    if len(fields) > 1:
        out.append(("several-fields", f"{len(fields)} data fields set ({', '.join(fields)}); a tensor holds its data in one", base))
        return out
    if n == 0:
        if fields:
            out.append(("zero-element-data", f"has zero elements (dims {dims[:16]}) but holds data in {fields[0]}", base))
        return out
    if not fields:
        out.append(("no-data", f"dims {dims[:16]} ({n} elements) but no data", {**base, "expected": n}))
        return out
    if dt == 0 or dt not in _known_types():
        return out
    field = fields[0]
    if field == "raw_data":
        if dt == TensorProto.STRING:
            out.append(("string-raw-data", "a STRING tensor with raw_data (strings are stored in string_data)", base))
            return out
        size = lazy.length if lazy is not None and not t.HasField("raw_data") else len(t.raw_data)
        expected = expected_nbytes(t)
        if expected is not None and expected >= 0 and size != expected:
            out.append(("raw-data-length", f"raw_data has {size} bytes, dims {dims[:16]} of {TensorProto.DataType.Name(dt)} need {expected}",
                        {**base, "expected": expected, "actual": size}))
        return out
    want, per = _field_for(dt)
    if field != want:
        out.append(("wrong-field", f"{TensorProto.DataType.Name(dt)} values are stored in {field}; that type's field is {want}", {**base, "field": field, "expected_field": want}))
        return out
    if per is None:
        return out
    if lazy is not None and not len(getattr(t, field)):
        size = lazy.length // (8 if field == "double_data" else 4)
    else:
        size = len(getattr(t, field))
    expected = n * per
    if size != expected:
        out.append(("field-length", f"{field} has {size} values, dims {dims[:16]} of {TensorProto.DataType.Name(dt)} need {expected}",
                    {**base, "expected": expected, "actual": size}))
    return out


def check(model, options=None):
    import sys

    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    for loc in va.located_tensors(model):
        for problem, message, details in problems(loc):
            yield va.tensor_finding(rule, loc, message, {**details, "problem": problem})
    for sp, loc in va.located_tensors(model, sparse=True):
        for part, tensor in (("values", sp.values), ("indices", sp.indices)):
            sub = va.TensorLocation(tensor, loc.graph, f"{loc.what} {part}", loc.where, loc.op, loc.attribute)
            if part == "indices" or not sub.name:
                sub.name = f"{va.text(sp.values.name)} ({part})"
            for problem, message, details in problems(sub):
                yield va.tensor_finding(rule, sub, message, {**details, "problem": problem, "sparse_part": part})
