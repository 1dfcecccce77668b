"""``onnxlint shapes``: every value's inferred shape, as text or JSON.

JSON (one object, keys in a fixed order, deterministic)::

    {"file": "model.onnx",
     "values": {"<tensor name>": {"shape": [1, 64, "H", "floor((W - 1)/2) + 1"],
                                  "dtype": "float32", "source": "inferred"}},
     "subgraphs": {"<graph path>": {"values": {...}}}}

``values`` holds the main graph only; the values of If/Loop/Scan bodies and of
model-local functions (whose names may repeat across graphs) are under
``subgraphs``, by graph path.  A dim is an int, a string (a symbol or a symbolic
expression) or null (unknown); ``"shape": null`` means the rank is unknown.
``dtype`` is null when unknown.  ``source`` is one of ``inferred``, ``onnx``,
``value_info``, ``unknown``: graph inputs and initializers, whose shapes the file
declares, are reported as ``value_info`` like other declarations (the Python API,
``ValueShape.source``, keeps them apart as ``input`` / ``initializer``).

Text: one line per value, ``name  dtype  shape  source``, columns aligned; graph
inputs first, then topological order; each subgraph after a ``[<graph path>]`` line.
"""
from __future__ import annotations

import json

__all__ = ["SOURCES", "report_source", "shape_to_json", "shape_text", "shapes_to_dict", "render_shapes", "render_json", "render_text"]

# TensorInfo.source / ValueShape.source -> the word the command reports.
SOURCES = {
    "inferred": "inferred",
    "onnx": "onnx",
    "value_info": "value_info",
    "input": "value_info",  # the file declares it (a graph input)
    "initializer": "value_info",  # the file declares it (an initializer's dims)
    "unknown": "unknown",
}


def report_source(vs) -> str:
    """The reported source of a ``ValueShape``: ``unknown`` when nothing at all is known
    (no shape, no dtype), else its source mapped by ``SOURCES`` (an engine word this
    table does not know yet is reported as ``inferred``: the engine computed it)."""
    if vs.shape is None and vs.dtype is None:
        return "unknown"
    return SOURCES.get(vs.source, "inferred")


def shape_to_json(shape):
    """``None`` (unknown rank) or a list of int / str (symbol, printed canonically) / None."""
    if shape is None:
        return None
    return [d if d is None or isinstance(d, int) else str(d) for d in shape]


def _entry(vs) -> dict:
    return {"shape": shape_to_json(vs.shape), "dtype": vs.dtype, "source": report_source(vs)}


def shapes_to_dict(am, file) -> dict:
    """The JSON document for an ``AnalyzedModel``."""
    main, *others = am.graph_paths()
    return {
        "file": str(file),
        "values": {name: _entry(vs) for name, vs in am.values(main).items()},
        "subgraphs": {path: {"values": {name: _entry(vs) for name, vs in am.values(path).items()}} for path in others},
    }


def render_shapes(am, fmt: str = "text", file: str = "") -> str:
    if fmt == "json":
        return render_json(shapes_to_dict(am, file))
    return render_text(am)


def _dumps(x) -> str:
    return json.dumps(x, ensure_ascii=True, allow_nan=False)


def _values_block(values: dict, indent: str) -> str:
    if not values:
        return "{}"
    inner = indent + "  "
    return "{\n" + ",\n".join(f"{inner}{_dumps(k)}: {_dumps(v)}" for k, v in values.items()) + "\n" + indent + "}"


def render_json(doc: dict) -> str:
    """``doc`` (from ``shapes_to_dict``) as JSON, one value per line (a shape stays on
    the line of its tensor, as in the text format)."""
    lines = ["{", f'  "file": {_dumps(doc["file"])},', f'  "values": {_values_block(doc["values"], "  ")},']
    subs = doc["subgraphs"]
    if not subs:
        lines.append('  "subgraphs": {}')
    else:
        lines.append('  "subgraphs": {')
        blocks = [f'    {_dumps(path)}: {{"values": {_values_block(g["values"], "    ")}}}' for path, g in subs.items()]
        lines.append(",\n".join(blocks))
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dim_text(d) -> str:
    return "?" if d is None else str(d)


def shape_text(shape) -> str:
    """``[1, 64, H, floor((W - 1)/2) + 1]``; an unknown dim is ``?``, an unknown rank ``?`` alone."""
    if shape is None:
        return "?"
    return "[" + ", ".join(_dim_text(d) for d in shape) + "]"


def render_text(am) -> str:
    from analyzer.report.text import escape

    sections = []  # (header or None, rows)
    for path in am.graph_paths():
        rows = [(escape(vs.name), vs.dtype or "?", escape(shape_text(vs.shape)), report_source(vs)) for vs in am.values(path).values()]
        sections.append((None if path == "main" else f"[{escape(path)}]", rows))
    every = [r for _, rows in sections for r in rows]
    widths = [max((len(r[i]) for r in every), default=0) for i in range(3)]
    lines = []
    for header, rows in sections:
        if header is not None:
            if lines:
                lines.append("")
            lines.append(header)
        for name, dtype, shape, source in rows:
            lines.append(f"{name:<{widths[0]}}  {dtype:<{widths[1]}}  {shape:<{widths[2]}}  {source}")
    return "\n".join(lines) + "\n" if lines else ""
