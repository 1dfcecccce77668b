"""An analyzed model: loaded file + networkx graph + shapes; what rules see."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import ModelProto

from .graph import Graph, build_graph
from .load import LoadedModel, from_proto, load
from .shapes import Shapes, TensorInfo, infer_shapes

__all__ = ["AnalyzedModel", "analyze", "analyze_loaded", "load_any"]


@dataclass
class AnalyzedModel:
    path: str | None
    loaded: LoadedModel
    graph: Graph
    shapes: Shapes
    notes: list = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def model(self) -> ModelProto:
        return self.loaded.model

    def info(self, value_key) -> TensorInfo:
        return self.shapes.info(value_key)

    def shape(self, value_key):
        return None if value_key is None else self.shapes.shape(value_key)

    def constant(self, value_key) -> np.ndarray | None:
        return None if value_key is None else self.shapes.info(value_key).value

    def conv_taps(self, op):
        """``analyzer.convs.conv_taps`` for ``op``, computed once per model (DT001 and
        DT002 both need it); raises ``NotChecked`` the same way every time."""
        from .convs import NotChecked, conv_taps

        memo = self._memo.setdefault("conv_taps", {})
        if op.key not in memo:
            try:
                memo[op.key] = conv_taps(self, op)
            except NotChecked as e:
                memo[op.key] = e
        got = memo[op.key]
        if isinstance(got, NotChecked):
            raise got
        return got

    def ints(self, value_key):
        v = self.constant(value_key)
        if v is None or v.dtype.kind not in "iu":
            return None
        return [int(x) for x in v.reshape(-1)]


def load_any(path_or_model) -> LoadedModel:
    if isinstance(path_or_model, ModelProto):
        return from_proto(path_or_model)
    return load(path_or_model)


def analyze(path_or_model, input_shapes=None) -> AnalyzedModel:
    """Load (a path, or an in-memory ``onnx.ModelProto``), build the graph and
    propagate shapes.  Raises ``LoadError`` / ``GraphError`` / ``ShapeError``."""
    return analyze_loaded(load_any(path_or_model), path_or_model, input_shapes)


def analyze_loaded(loaded: LoadedModel, path_or_model=None, input_shapes=None) -> AnalyzedModel:
    path = None if path_or_model is None or isinstance(path_or_model, ModelProto) else str(path_or_model)
    graph = build_graph(loaded.model)
    shapes = infer_shapes(graph, loaded, input_shapes)
    notes = list(loaded.notes) + list(shapes.notes)
    return AnalyzedModel(path=path, loaded=loaded, graph=graph, shapes=shapes, notes=notes)
