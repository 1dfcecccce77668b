"""Our shape engine against onnx.shape_inference.infer_shapes(data_prop=True).

Every tensor dim that onnx infers as a concrete number must get the identical
number from our engine (0 disagreements), and our coverage (share of tensors with
a fully known shape, symbols counted as known) must be at least onnx's.  Run with
``-s`` to see the coverage table.
"""
import glob
import os

import onnx
import pytest

from analyzer.graph import MAIN, build_graph
from analyzer.load import load
from analyzer.shapes import infer_shapes
from analyzer.shapes.engine import _type_to_shape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
ZOO_SETS = ("light", "real", "simple", "pytorch-converted", "pytorch-operator")


def corpus():
    files = sorted(glob.glob(os.path.join(ROOT, "sample_models", "*.onnx")))
    for s in ZOO_SETS:
        files += sorted(glob.glob(os.path.join(ONNX_DATA, s, "**", "*.onnx"), recursive=True))
    return files


def compare(path):
    """(disagreements, n_values, ours_known, onnx_known, n_from_onnx_fallback)"""
    loaded = load(path)
    graph = build_graph(loaded.model)
    shapes = infer_shapes(graph, loaded)
    ref_model = onnx.shape_inference.infer_shapes(onnx.load(path), data_prop=True)
    g = ref_model.graph
    ref = {vi.name: _type_to_shape(vi)[0] for vi in list(g.value_info) + list(g.output) + list(g.input)}
    for t in g.initializer:
        ref[t.name] = tuple(int(d) for d in t.dims)
    disagreements, n, ours_known, onnx_known, fallback = [], 0, 0, 0, 0
    for key, attrs in graph.nx.nodes(data=True):
        if attrs.get("kind") != "value" or key[1] != MAIN or attrs.get("role") == "missing":
            continue
        n += 1
        info = shapes.info(key)
        ours = info.shape
        fallback += info.source == "onnx"
        theirs = ref.get(key[2])
        if ours is not None and all(d is not None for d in ours):
            ours_known += 1
        if theirs is not None and all(d is not None for d in theirs):
            onnx_known += 1
        if theirs is None:
            continue
        if ours is None or len(ours) != len(theirs):
            if all(isinstance(d, int) for d in theirs):
                disagreements.append((key[2], ours, theirs))
            continue
        if any(isinstance(b, int) and a != b for a, b in zip(ours, theirs)):
            disagreements.append((key[2], ours, theirs))
    return disagreements, n, ours_known, onnx_known, fallback


FILES = corpus()


def test_corpus_is_there():
    # The onnx wheel ships these graphs; if it stops doing so the agreement test loses its point.
    assert len(FILES) > 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT if p.startswith(ROOT) else ONNX_DATA))
def test_agrees_with_onnx(path):
    dis, n, ours, theirs, _ = compare(path)
    assert dis == [], f"{len(dis)} disagreements, first: {dis[:3]}"
    assert ours >= theirs, f"coverage {ours}/{n} below onnx's {theirs}/{n}"


def test_coverage_table(capsys):
    rows = []
    total = [0, 0, 0, 0]
    for path in FILES:
        dis, n, ours, theirs, fb = compare(path)
        rows.append((os.path.basename(os.path.dirname(path)) if path.endswith("model.onnx") else os.path.basename(path), n, ours, theirs, fb, len(dis)))
        for i, v in enumerate((n, ours, theirs, fb)):
            total[i] += v
    with capsys.disabled():
        print(f"\n{'model':<48} {'values':>7} {'ours':>6} {'onnx':>6} {'fallbk':>6} {'disagr':>6}")
        for r in rows:
            print(f"{r[0][:48]:<48} {r[1]:>7} {r[2]:>6} {r[3]:>6} {r[4]:>6} {r[5]:>6}")
        print(f"{'TOTAL':<48} {total[0]:>7} {total[1]:>6} {total[2]:>6} {total[3]:>6}")
    assert sum(r[5] for r in rows) == 0
    assert total[1] >= total[2]
