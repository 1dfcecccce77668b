"""Where a conv's weight comes from: the initializer or node that computes it, and the
stored tensor behind DequantizeLinear / Cast / reshapes (so that dead bytes are counted in
the stored dtype).  Split from :mod:`analyzer.analyses.convs`, which re-exports it."""
from __future__ import annotations

MS = "com.microsoft"


def weight_source(model, w_key) -> str:
    if model.graph.is_initializer(w_key):
        return "initializer"
    attrs = model.graph.nx.nodes[w_key]
    if attrs.get("role") == "input":
        return "graph input"
    prod = model.graph.producer(w_key)
    if prod is None:
        return "undefined"
    src = f"computed by {prod.op_type} node {prod.id!r}"
    if prod.op_type in ("DequantizeLinear", "Identity", "Cast", "Reshape") and prod.inputs and prod.inputs[0] is not None:
        inner = prod.inputs[0]
        if model.graph.is_initializer(inner):
            src += f" from initializer {inner[2]!r}"
    return src


# ops a weight is computed through from its stored tensor, element for element
_STORED_THROUGH = {"DequantizeLinear", "Identity", "Cast", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten"}
MAX_STORED_STEPS = 16


def stored_weight(model, w_key):
    """The value a conv's weight is stored as: ``w_key`` itself, or, for a weight computed
    from a constant element for element (a QDQ model's DequantizeLinear of an int8
    initializer, a Cast of a float16 one, through Identity / Reshape / Transpose...), that
    constant's value key (an initializer or a Constant node's output).  Its dtype is the
    weight's stored dtype."""
    key = w_key
    for _ in range(MAX_STORED_STEPS):
        if model.graph.is_initializer(key):
            return key
        prod = model.graph.producer(key)
        if prod is None or prod.op_type not in _STORED_THROUGH or prod.domain not in ("", MS):
            return key
        if not prod.inputs or prod.inputs[0] is None:
            return key
        key = prod.inputs[0]
    return key


# -- NCHWc: the logical channel counts of a blocked conv --------------------------------
# ops a blocked tensor passes through with its channels unchanged (elementwise ops of the
# default domain run on blocked tensors as they are)
