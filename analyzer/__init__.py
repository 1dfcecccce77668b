"""onnxlint: a static graph analyzer for ONNX models.

Python API::

    import analyzer
    report = analyzer.lint("model.onnx")              # -> analyzer.findings.Report
    for f in report.findings:
        print(f.rule, f.node, f.message)

    am = analyzer.analyze("model.onnx", input_shapes={"input": [1, 3, 64, 64]})
    am.graph.nx                                       # the networkx.DiGraph
    for name, v in am.values().items():               # main graph: name -> ValueShape
        print(name, v.dtype, v.shape, v.source)
    am.value("conv1_out").shape                       # (1, 64, 'H', 'floor((W - 1)/2) + 1')
    am.values("main/If#3.then_branch")                # a subgraph's values, by graph path

Heavy modules (onnx, numpy, networkx) are imported on first use, so that
``onnxlint --version`` and ``onnxlint rules`` start fast.
"""
from analyzer.common import VERSION as __version__

__all__ = ["__version__", "lint", "analyze", "AnalyzedModel", "ValueShape"]


def lint(path_or_model, select=None, ignore=None, input_shapes=None):
    """Lint one model (a path or an ``onnx.ModelProto``) and return a ``Report``."""
    from analyzer.linter.runner import lint as _lint

    return _lint(path_or_model, select=select, ignore=ignore, input_shapes=input_shapes)


def analyze(path_or_model, input_shapes=None):
    """Load, build the graph and propagate shapes: an ``AnalyzedModel`` (``.graph.nx``,
    ``.values(graph)``, ``.value(name, graph)``, ``.all_values()``; see ``analyzer.model``)."""
    from analyzer.model import analyze as _analyze

    return _analyze(path_or_model, input_shapes=input_shapes)


def __getattr__(name):
    # analyzer.AnalyzedModel / analyzer.ValueShape without importing onnx at ``import analyzer``.
    if name in ("AnalyzedModel", "ValueShape"):
        from analyzer import model

        return getattr(model, name)
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
