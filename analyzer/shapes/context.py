"""What a shape function sees of one node: :class:`Ctx`, its inputs' infos and
attributes, and the setter of its outputs (which enforces the rank, dim and value
bounds)."""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

from analyzer.shapes.dims import MAX_DIM, MAX_RANK
from analyzer.shapes.registry import MAX_TRACKED_ELEMENTS, ShapeError, TensorInfo

__all__ = ["Ctx"]

_NO_BINDINGS = MappingProxyType({})  # attribute values of no function call (read-only, shared)


class Ctx:
    """What a shape function sees of one node.

    One is made per op evaluation, and its input accessors run a few times per op:
    they are measured hot (bench/phases.py), so they read the value-node dicts
    directly instead of going through :meth:`_Engine.info`."""

    __slots__ = ("engine", "op", "_bindings", "_inputs", "_nodes")

    def __init__(self, engine, op, attr_bindings=None):  # engine: the running _Engine
        self.engine = engine
        self.op = op
        self._bindings = attr_bindings or _NO_BINDINGS
        self._inputs = op.inputs
        self._nodes = engine._nodes

    @property
    def node(self):
        """The NodeProto."""
        return self.op.proto

    @property
    def opset(self):
        return self.engine.opset_for(self.op.domain)

    # inputs
    @property
    def n_inputs(self):
        return len(self._inputs)

    @property
    def n_outputs(self):
        return len(self.op.outputs)

    def has_input(self, i) -> bool:
        return i < len(self._inputs) and self._inputs[i] is not None

    def info(self, i) -> TensorInfo:
        inputs = self._inputs
        if i < len(inputs):
            key = inputs[i]
            if key is not None:
                inf = self._nodes[key].get("info")
                if inf is not None:
                    return inf
        return TensorInfo()

    def present(self):
        """The positions of the present inputs and their infos (two lists)."""
        nodes = self._nodes
        idx, infos = [], []
        for i, key in enumerate(self._inputs):
            if key is not None:
                idx.append(i)
                inf = nodes[key].get("info")
                infos.append(inf if inf is not None else TensorInfo())
        return idx, infos

    def shape(self, i):
        return self.info(i).shape

    def dtype(self, i):
        return self.info(i).dtype

    def value(self, i):
        return self.info(i).value

    def sym(self, i):
        """A 1-D integer vector's entries as dims (ints or symbols), or None."""
        inf = self.info(i)
        if inf.sym is not None:
            return list(inf.sym)
        v = inf.value
        if v is not None and v.dtype.kind in "iu" and v.ndim <= 1:
            return [int(x) for x in v.reshape(-1)]
        return None

    def ints(self, i):
        """A constant integer input as a list of Python ints, or None."""
        s = self.sym(i)
        if s is None or not all(isinstance(x, int) for x in s):
            return None
        return s

    def attr(self, name, default=None):
        # an attribute referring to the caller's (ref_attr_name) takes the bound value
        return self.op.attr_in(name, default, self._bindings)

    def can_fold(self, numel) -> bool:
        """Whether a constant result of ``numel`` elements may be computed (call before
        materializing it: broadcasting two small constants can make a huge one)."""
        if numel is None or numel > MAX_TRACKED_ELEMENTS:
            return False
        if self.engine.over_budget(numel):
            self.engine.budget_spent()
            return False
        return True

    # outputs
    def set(self, i, shape=None, dtype=None, value=None, sym=None):
        outputs = self.op.outputs
        if i >= len(outputs):
            return
        key = outputs[i]
        if key is None:
            return
        shared = None
        if value is None and sym is None and (dtype is None or dtype.__class__ is int):
            # A shape without a value: one TensorInfo per distinct (shape, dtype), shared by
            # every value that has it (a million-node chain holds one, not a million).
            # Equal means each dim the same object or two equal plain ints (1 and True are
            # not the same dim, nor are two symbols of the same text: a dim_param "a*b"
            # prints like the product a*b); an equal shape was checked against the
            # bounds when its info was made.
            if shape is not None:
                shape = tuple(shape)
            shared_infos = self.engine._shared
            try:
                inf = shared_infos.get((shape, dtype))
            except TypeError:  # an unhashable dim (a shape function's bug): checked below
                inf = None
            else:
                shared = shared_infos
            if inf is not None:
                known = inf.shape
                if known is not shape:
                    for x, y in zip(known, shape):  # (measured hot: inlined)
                        if x is not y and (x.__class__ is not int or y.__class__ is not int):
                            shared = None  # equal, not the same: this one gets its own info
                            break
                if shared is not None:
                    self._nodes[key]["info"] = inf
                    return
        if shape is not None:
            shape = tuple(shape)
            if len(shape) > MAX_RANK:
                raise ShapeError(f"output {i} would have rank {len(shape)} (more than {MAX_RANK})")
            for d in shape:
                if isinstance(d, int) and not 0 <= d <= MAX_DIM:
                    raise ShapeError(f"output {i} would have dim {d}")
        if value is not None:
            value = np.asarray(value)
            if shape is None:
                shape = value.shape
            value = self.engine.keep_value(value)
        if sym is not None and len(sym) > MAX_TRACKED_ELEMENTS:
            sym = None
        if sym is not None and all(isinstance(x, int) for x in sym) and value is None:
            value = self.engine.keep_value(np.array(sym, dtype=np.int64))
            if value is not None and shape is not None and len(shape) == 0 and value.size == 1:
                value = value.reshape(())
            sym = None
        inf = TensorInfo(shape, dtype, value, sym, "inferred")
        if shared is not None:
            shared[(shape, dtype)] = inf
        self._nodes[key]["info"] = inf

    def same_as_input(self, out=0, inp=0, dtype=None):
        inf = self.info(inp)
        self.set(out, inf.shape, dtype if dtype is not None else inf.dtype)
