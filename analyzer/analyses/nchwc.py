"""onnxruntime's NCHWc layout (``com.microsoft.nchwc``): a blocked conv stores its weight
with channels padded to the CPU's block size, so the logical channel counts come from the
ReorderInput / ReorderOutput around it.  Split from :mod:`analyzer.analyses.convs`."""
from __future__ import annotations

NCHWC = "com.microsoft.nchwc"


_NCHWC_SAME_CHANNELS = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Upsample"}
_ELEMENTWISE = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "Add", "Sum", "Mul", "Sub", "Div", "Identity",
                "Max", "Min", "Elu", "Selu", "Softplus", "PRelu"}  # fmt: skip
MAX_NCHWC_STEPS = 64


def _nchwc_logical_weight(model, op, x_key, w_shape, group):
    """The weight shape of an NCHWc conv without its block padding: output channels as the
    tensor's readers see them, input channels as its writer made them (unpadded stored
    counts when they cannot be found)."""
    oc, ic = w_shape[0], w_shape[1]
    found_oc = _nchwc_readers_channels(model, op.outputs[0] if op.outputs else None, 0)
    if found_oc is not None and 0 < found_oc <= oc and (group == 1 or found_oc % group == 0):
        oc = found_oc
    found_ic = _nchwc_writer_channels(model, x_key, 0)
    if group == 1 and found_ic is not None and 0 < found_ic <= ic:
        ic = found_ic
    return (oc, ic) + tuple(w_shape[2:])


def _nchwc_readers_channels(model, key, depth):
    """The logical channel count of blocked tensor ``key``: a ReorderOutput's ``channels``
    downstream (through pools, elementwise ops, and NCHWc convs that add it to their own
    output: their ``Sum`` input)."""
    if key is None or depth > MAX_NCHWC_STEPS:
        return None
    for user, _pos in model.graph.consumers(key):
        if user.domain == NCHWC and user.op_type == "ReorderOutput":
            c = user.attrs.get("channels")
            if isinstance(c, int) and not isinstance(c, bool):
                return c
        elif (user.domain == NCHWC and (user.op_type in _NCHWC_SAME_CHANNELS or user.op_type == "Conv" and _pos == 3)
              or user.domain == "" and user.op_type in _ELEMENTWISE):
            found = _nchwc_readers_channels(model, user.outputs[0] if user.outputs else None, depth + 1)
            if found is not None:
                return found
    return None


def _nchwc_writer_channels(model, key, depth):
    """The logical channel count of the input of an NCHWc conv: what ReorderInput read, what
    the blocked conv upstream computes, or the stored count of a plain NCHW tensor."""
    if key is None or depth > MAX_NCHWC_STEPS:
        return None
    prod = model.graph.producer(key)
    if prod is None or prod.domain != NCHWC:
        if prod is not None and prod.domain == "" and prod.op_type in _ELEMENTWISE:
            for inp in prod.inputs:
                if inp is not None and _is_blocked(model, inp):
                    return _nchwc_writer_channels(model, inp, depth + 1)
        shape = model.shape(key)
        return shape[1] if shape is not None and len(shape) >= 2 and isinstance(shape[1], int) else None
    if prod.op_type == "ReorderInput":
        shape = model.shape(prod.inputs[0]) if prod.inputs and prod.inputs[0] is not None else None
        if shape is None or len(shape) < 3:
            return None
        c = shape[-1] if prod.attrs.get("channels_last") else shape[1]
        return c if isinstance(c, int) else None
    if prod.op_type in _NCHWC_SAME_CHANNELS:
        return _nchwc_writer_channels(model, prod.inputs[0] if prod.inputs else None, depth + 1)
    if prod.op_type == "Conv":
        found = _nchwc_readers_channels(model, key, 0)
        if found is not None:
            return found
    shape = model.shape(key)
    return shape[1] if shape is not None and len(shape) >= 2 and isinstance(shape[1], int) else None


def _is_blocked(model, key):
    prod = model.graph.producer(key)
    return prod is not None and prod.domain == NCHWC and prod.op_type != "ReorderOutput"
