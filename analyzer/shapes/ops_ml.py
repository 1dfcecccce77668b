"""Shape functions: the ai.onnx.ml domain (classic ML pipelines, sklearn exports) and the
ai.onnx.preview.training optimizers."""
from __future__ import annotations

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import shape_numel
from analyzer.shapes.registry import ShapeError, register

ML = "ai.onnx.ml"
TRAINING = "ai.onnx.preview.training"
INT64 = TensorProto.INT64
FLOAT = TensorProto.FLOAT
STRING = TensorProto.STRING


def _n(x):
    """Rows of a [N, C] (or [C]) feature input."""
    if x is None:
        return None
    return x[0] if len(x) == 2 else 1 if len(x) == 1 else None


@register("Binarizer", "Imputer", "Scaler", domain=ML)
def ml_same(ctx):
    ctx.set(0, ctx.shape(0), FLOAT if ctx.node.op_type == "Scaler" else ctx.dtype(0))


@register("Normalizer", domain=ML)
def normalizer(ctx):
    ctx.set(0, ctx.shape(0), FLOAT)


@register("CategoryMapper", domain=ML)
def category_mapper(ctx):
    ctx.set(0, ctx.shape(0), INT64 if ctx.dtype(0) == STRING else STRING)


@register("LabelEncoder", domain=ML)
def label_encoder(ctx):
    dtype = None
    for name, dt in (("values_strings", STRING), ("values_int64s", INT64), ("values_floats", FLOAT)):
        if ctx.attr(name, None) is not None:
            dtype = dt
    t = ctx.attr("values_tensor", None)
    if t is not None:
        dtype = t.data_type
    ctx.set(0, ctx.shape(0), dtype)


@register("ArrayFeatureExtractor", domain=ML)
def array_feature_extractor(ctx):
    x, y = ctx.shape(0), ctx.shape(1)
    if x is None:
        return
    k = shape_numel(y) if y is not None else None
    out = [1, k] if len(x) == 1 else list(x[:-1]) + [k]
    ctx.set(0, out, ctx.dtype(0))


@register("OneHotEncoder", domain=ML)
def one_hot_encoder(ctx):
    x = ctx.shape(0)
    cats = ctx.attr("cats_int64s", None) or ctx.attr("cats_strings", None)
    if x is None or not cats:
        return
    ctx.set(0, tuple(x) + (len(cats),), FLOAT)


@register("DictVectorizer", domain=ML)
def dict_vectorizer(ctx):
    vocab = ctx.attr("int64_vocabulary", None) or ctx.attr("string_vocabulary", None)
    ctx.set(0, (1, len(vocab) if vocab else None), None)


@register("CastMap", domain=ML)
def cast_map(ctx):
    n = ctx.attr("max_map", 1) if ctx.attr("map_form", "DENSE") == "SPARSE" else None
    to = {"TO_FLOAT": FLOAT, "TO_STRING": STRING, "TO_INT64": INT64}.get(ctx.attr("cast_to", "TO_FLOAT"))
    ctx.set(0, (1, n), to)


@register("FeatureVectorizer", domain=ML)
def feature_vectorizer(ctx):
    dims = ctx.attr("inputdimensions", None)
    n = None
    for i in range(ctx.n_inputs):
        n = n if n is not None else _n(ctx.shape(i))
    ctx.set(0, (n, sum(dims) if dims else None), FLOAT)


def _classes(ctx):
    labels = ctx.attr("classlabels_strings", None)
    if labels:
        return len(labels), STRING
    labels = ctx.attr("classlabels_ints", None) or ctx.attr("classlabels_int64s", None)
    if labels:
        return len(labels), INT64
    t = ctx.attr("classlabels_int64s_as_tensor", None) or ctx.attr("classlabels_strings_as_tensor", None)
    if t is not None:
        return shape_numel(tuple(t.dims)), t.data_type
    return None, INT64


@register("LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier", domain=ML)
def classifier(ctx):
    n = _n(ctx.shape(0))
    count, label_type = _classes(ctx)
    e = count
    if ctx.node.op_type == "LinearClassifier":
        intercepts = ctx.attr("intercepts", None)
        if intercepts:
            e = len(intercepts)
            if count is not None and e == 1 and count == 2:
                e = 2  # a binary classifier with one score column reports both
    ctx.set(0, (n,), label_type)
    ctx.set(1, (n, e), FLOAT)


@register("LinearRegressor", "TreeEnsembleRegressor", "SVMRegressor", domain=ML)
def regressor(ctx):
    n = _n(ctx.shape(0))
    targets = ctx.attr("targets", None) or ctx.attr("n_targets", None) or 1
    ctx.set(0, (n, targets), FLOAT)


@register("TreeEnsemble", domain=ML)
def tree_ensemble(ctx):
    x = ctx.shape(0)
    ctx.set(0, (x[0] if x else None, ctx.attr("n_targets", None)), ctx.dtype(0))


@register("Adagrad", "Momentum", "Adam", domain=TRAINING)
def optimizer(ctx):
    """Updated tensors and optimizer states have the shapes of their inputs."""
    groups = {"Adagrad": (0, 2), "Momentum": (0, 2), "Adam": (0, 2, 3)}[ctx.node.op_type]
    per = 3 if ctx.node.op_type != "Adam" else 4
    if (ctx.n_inputs - 2) % per:
        raise ShapeError(f"{ctx.n_inputs} inputs do not split into R, T and {per} groups")
    n = (ctx.n_inputs - 2) // per
    for j, g in enumerate(groups):
        for i in range(n):
            src = 2 + g * n + i
            ctx.set(j * n + i, ctx.shape(src), ctx.dtype(src))
