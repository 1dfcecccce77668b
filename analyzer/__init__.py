"""onnxlint: a static graph analyzer for ONNX models.

Python API::

    import analyzer
    report = analyzer.lint("model.onnx")              # -> analyzer.findings.Report
    for f in report.findings:
        print(f.rule, f.node, f.message)

Heavy modules (onnx, numpy, networkx) are imported on first use, so that
``onnxlint --version`` and ``onnxlint rules`` start fast.
"""
__version__ = "0.1.0"

__all__ = ["__version__", "lint", "analyze"]


def lint(path_or_model, select=None, ignore=None, input_shapes=None):
    """Lint one model (a path or an ``onnx.ModelProto``) and return a ``Report``."""
    from .runner import lint as _lint

    return _lint(path_or_model, select=select, ignore=ignore, input_shapes=input_shapes)


def analyze(path_or_model, input_shapes=None):
    """Load, build the graph and propagate shapes: an ``AnalyzedModel``."""
    from .model import analyze as _analyze

    return _analyze(path_or_model, input_shapes=input_shapes)
