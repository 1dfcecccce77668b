"""The finding: its message, details and fix hint."""
from __future__ import annotations

from analyzer.findings import Finding

from .declared import CONTRADICTIONS, LongShape, int_or_none, plain_shape, rank

__all__ = ["make_finding"]

MAX_DIMS_IN_MESSAGE = 4
MAX_RANK_IN_MESSAGE = 16
MAX_DIM_TEXT = 80
MAX_DIM_TEXT_IN_DETAILS = 256


def _dtype_name(elem_type):
    """``analyzer.model.dtype_name`` (the names ``onnxlint shapes`` prints), imported
    on first use: rule modules import nothing heavy at import time."""
    from analyzer.model import dtype_name

    return dtype_name(elem_type)


def _proto_dtype_name(elem_type) -> str:
    from analyzer.io.proto import TensorProto

    try:
        return TensorProto.DataType.Name(int(elem_type))
    except ValueError:
        return str(int(elem_type))


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _dim_text(d) -> str:
    return "?" if d is None else _cut(str(d), MAX_DIM_TEXT)


def _type_text(dtype, shape) -> str:
    name = _dtype_name(dtype) or "?"
    if shape is None:
        return f"{name} (shape undeclared)"
    if isinstance(shape, LongShape) or len(shape) > MAX_RANK_IN_MESSAGE:
        return f"{name} of rank {rank(shape)}"
    return f"{name}[{', '.join(_dim_text(d) for d in shape)}]"


def _json_dim(d):
    return _cut(str(d), MAX_DIM_TEXT_IN_DETAILS) if isinstance(d, str) else d


def _json_shape(shape):
    if shape is None or isinstance(shape, LongShape):
        return None
    return [_json_dim(d) for d in shape]


def _producer(model, key):
    """The node that computes ``key``: its producer, or for a body's formal input the
    Loop/Scan that binds it."""
    graph = model.graph
    op = graph.producer(key)
    if op is None:
        sub = graph.subgraphs.get(key[1])
        if sub is not None and sub.owner is not None and key in sub.input_keys:
            op = graph.ops.get(sub.owner)
    return op


def make_finding(rule_code, rule_name, model, path, declared_in, index, key, d_shape, d_dtype, info, found, kinds) -> Finding:
    """The finding of rule ``rule_code`` (``rule_name``) for one declaration."""
    from analyzer.io.load import shown

    shape = plain_shape(info.shape)
    dtype = int_or_none(info.dtype)
    name = key[2]
    op = _producer(model, key)
    kind = kinds[0]
    severity = "error" if CONTRADICTIONS.intersection(kinds) else "warning"
    d_rank = rank(d_shape)
    dims = [
        {"axis": axis, "declared": a, "inferred": _json_dim(b), "kind": k}
        for k, detail in found
        if detail is not None
        for axis, a, b in [detail]
    ]
    details = {
        "tensor": name,
        "graph": path,
        "declared_in": declared_in,
        "output_index": index,
        "producer": {"node": op.id, "op_type": op.op_type, "graph": op.graph} if op is not None else None,
        "kind": kind,
        "kinds": list(kinds),
        "declared_shape": _json_shape(d_shape),
        "inferred_shape": _json_shape(shape),
        "declared_rank": d_rank,
        "inferred_rank": None if shape is None else len(shape),
        "declared_dtype": _dtype_name(d_dtype),
        "inferred_dtype": _dtype_name(dtype),
        "declared_elem_type": d_dtype,
        "inferred_elem_type": dtype,
        "dims": dims,
    }

    # What is wrong, most serious first.
    what = []
    if "rank" in kinds:
        what.append(f"rank {d_rank} declared, {len(shape)} proven")
    if "dtype" in kinds:
        what.append(f"element type {_dtype_name(d_dtype) or d_dtype} declared, {_dtype_name(dtype) or dtype} proven")
    contradicted = [d for d in dims if d["kind"] == "dim"]
    symbolic = [d for d in dims if d["kind"] == "static-vs-symbolic"]
    what += _dims_text(contradicted, lambda d: f"dim {d['axis']} is {d['inferred']}, not {d['declared']}")
    if symbolic:
        what += _dims_text(
            symbolic,
            lambda d: f"dim {d['axis']} is {_cut(str(d['inferred']), MAX_DIM_TEXT)}, not always {d['declared']}",
        )
        what.append("those sizes change with the model's inputs, so the declaration holds for one input size only")

    where = "" if path == "main" else f" in graph {shown(path)}"
    made_by = f" (computed by {op.op_type} {shown(op.id)})" if op is not None else ""
    graph_ref, for_g = ("model.graph", "") if path == "main" else ("g", f", g the GraphProto of {shown(path)}")
    redo = "re-export the model with these axes dynamic" if kind == "static-vs-symbolic" else "re-export the model"
    if declared_in == "output":
        subject = f"graph output {index} {shown(name)}{where}{made_by} is declared"
        repairs = []
        if "dtype" in kinds:
            repairs.append(f"set its elem_type to onnx.TensorProto.{_proto_dtype_name(dtype)}")
        if CONTRADICTIONS.intersection(kinds) - {"dtype"} or "static-vs-symbolic" in kinds:
            repairs.append(
                f"clear its shape ({graph_ref}.output[{index}].type.tensor_type.ClearField('shape'){for_g}) "
                "and run onnx.shape_inference.infer_shapes"
            )
        fix = f"{redo}, or {' and '.join(repairs)}"
    else:
        subject = f"value_info of {shown(name)}{where}{made_by} declares"
        fix = f"{redo}, or regenerate value_info: delete it (del {graph_ref}.value_info[:]{for_g}) and run onnx.shape_inference.infer_shapes"
    message = (
        f"{subject} {_type_text(d_dtype, d_shape)}, shape propagation proves {_type_text(dtype, shape)}: "
        f"{'; '.join(what)}. Fix: {fix}"
    )
    return Finding(
        rule=rule_code,
        name=rule_name,
        severity=severity,
        node=op.id if op is not None else name,
        node_index=op.index if op is not None else -1,
        graph=op.graph if op is not None else path,
        op_type=op.op_type if op is not None else "",
        message=message,
        details=details,
    )


def _dims_text(dims, fmt):
    out = [fmt(d) for d in dims[:MAX_DIMS_IN_MESSAGE]]
    if len(dims) > MAX_DIMS_IN_MESSAGE:
        out.append(f"{len(dims) - MAX_DIMS_IN_MESSAGE} more dim(s)")
    return out
