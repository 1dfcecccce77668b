"""Run the selected rules over one model and collect a Report."""
from __future__ import annotations

from analyzer.findings import UNCHECKED_DETAIL, FileResult, Report

__all__ = ["lint", "lint_file", "DEFAULT_MAX_NODES"]

# Models with more nodes than this (all graphs together) are refused with
# kind "too-large" unless --max-nodes says otherwise.
DEFAULT_MAX_NODES = 2_000_000


def count_nodes(model) -> int:
    """Nodes in the main graph, every subgraph and every local function (iterative)."""
    from analyzer.io.proto import AttributeProto

    GRAPH, GRAPHS = AttributeProto.GRAPH, AttributeProto.GRAPHS
    total = 0
    graphs = [model.graph]
    lists = [f.node for f in model.functions]
    while graphs or lists:
        nodes = graphs.pop().node if graphs else lists.pop()
        total += len(nodes)
        for n in nodes:
            for a in n.attribute:
                t = a.type
                if t == GRAPH:
                    graphs.append(a.g)
                elif t == GRAPHS:
                    graphs.extend(a.graphs)
    return total


def count_weights(model) -> int:
    """Elements of all initializers of the main graph (from dims; no data is read)."""
    total = 0
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            # n = min(n * max(d, 0), MAX_COUNT): absurd declared dims must not make a 4000-digit int
            if d <= 0:
                n = 0
            else:
                n *= d
                if n > MAX_COUNT:
                    n = MAX_COUNT
        total += n
        if total > MAX_COUNT:
            total = MAX_COUNT
    return total


MAX_COUNT = 1 << 63


def fingerprint(model, finding) -> str:
    """See ``Finding.fingerprint``."""
    import hashlib

    key = ("op", finding.graph, finding.node_index)
    op = model.graph.ops.get(key)
    if op is not None and op.name_given:
        ident = "name:" + op.name
    elif op is not None:
        ident = "outputs:" + ",".join(k[2] if k else "" for k in op.outputs)
    else:
        ident = "node:" + finding.node
    parts = [finding.rule, finding.graph, ident, finding.op_type]
    cond = finding.details.get("condition") if isinstance(finding.details, dict) else None
    if cond:  # one conditional finding per bounded set of input dims (not per threshold value)
        parts.append("when:" + ",".join(sorted(str(c.get("symbol")) for c in cond)))
    covers = finding.details.get(UNCHECKED_DETAIL) if isinstance(finding.details, dict) else None
    if isinstance(covers, str):  # a finding reporting a coverage record: one per record
        parts.append("unchecked:" + covers)
    raw = "\x1f".join(parts)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _error(shown, kind, message) -> FileResult:
    return FileResult(path=shown, status="error", error={"kind": kind, "message": message})


def lint_file(path_or_model, rules, input_shapes=None, display_path=None, options=None, max_nodes=None, keep_model=False, config_shapes=None):
    """Analyze one model and run ``rules``; any failure becomes an error result.

    ``options`` maps a rule code to that rule's options (from configuration).
    ``config_shapes`` (input -> dims, from configuration) are applied where they fit
    the model and skipped with a note elsewhere; ``input_shapes`` must fit.
    Suppressions recorded in the model (metadata ``onnxlint:ignore``) are applied.
    With ``keep_model`` the result is ``(FileResult, AnalyzedModel or None)``: ``shapes``
    loads and classifies failures exactly as ``check`` does, then renders the model.

    The cyclic garbage collector is paused for the whole file: analysis creates
    tens of objects per node and no garbage cycles, and every collection would
    walk them all (the work grew faster than the model).  They are freed by
    reference counting when the analysis returns, before collection resumes.
    """
    from analyzer.graph.build import gc_paused

    with gc_paused():
        result, model = _lint_file(path_or_model, rules, input_shapes, display_path, options, max_nodes, config_shapes)
    return (result, model) if keep_model else result


def _lint_file(path_or_model, rules, input_shapes, display_path, options, max_nodes, config_shapes=None):
    from analyzer.graph.build import GraphError
    from analyzer.io.load import LoadError
    from analyzer.analyses.macs import model_macs
    from analyzer.model import analyze_loaded, load_any
    from analyzer.shapes import ShapeError
    from analyzer.linter.suppress import apply_model_suppressions

    shown = display_path or (str(path_or_model) if not hasattr(path_or_model, "graph") else "<model>")
    result = FileResult(path=shown)
    limit = DEFAULT_MAX_NODES if max_nodes is None else max_nodes
    try:
        loaded = load_any(path_or_model)
        n = loaded.node_count if loaded.node_count is not None else count_nodes(loaded.model)
        if n > limit:
            return _error(shown, "too-large", f"{n} nodes, more than --max-nodes {limit}"), None
        result.stats = {"nodes": n, "weights": count_weights(loaded.model)}
        if config_shapes:
            from analyzer.linter.config import fit_input_shapes

            fitted, skipped = fit_input_shapes(loaded.model, config_shapes)
            input_shapes = {**fitted, **(input_shapes or {})}
            result.notes.extend(skipped)
            result.notices.extend(skipped)
        model = analyze_loaded(loaded, path_or_model, input_shapes=input_shapes)
        # multiply-accumulates per inference at the analyzed size (None: some size unknown)
        result.stats["macs"] = model_macs(model)
        for rule in rules:
            result.findings.extend(rule.check(model, (options or {}).get(rule.CODE, {})))
        # Coverage: what analysis and every rule recorded as not checked, to the rules
        # that report coverage (before suppressions, so their findings can be suppressed)
        _coverage_findings(rules, model, list(model.unchecked), options, result)
        for f in result.findings:
            f.fingerprint = fingerprint(model, f)
        before = len(model.unchecked)
        apply_model_suppressions(model, result, codes=[rule.CODE for rule in rules])
        # stale suppression entries, known only now (their findings cannot be suppressed)
        stale = _coverage_findings(rules, model, model.unchecked[before:], options, result)
        for f in stale:
            f.fingerprint = fingerprint(model, f)
    except (LoadError, GraphError) as e:
        return _error(shown, e.kind, e.message), None
    except ShapeError as e:
        return _error(shown, "bad-input-shape", str(e)), None
    except RecursionError:
        return _error(shown, "too-deep", "model nesting too deep to analyze"), None
    except MemoryError:
        return _error(shown, "too-large", "out of memory while analyzing"), None
    except Exception as e:  # a bug of ours must not lose the other files' results
        msg = str(e).splitlines()[0] if str(e) else ""
        return _error(shown, "internal", f"internal error ({type(e).__name__}: {msg}); please report it"), None
    result.findings.sort(key=lambda f: (f.graph != "main", f.graph, f.node_index, f.rule, f.message))
    result.notes = list(model.notes) + result.notes
    result.unchecked = list(model.unchecked)
    return result, model


def _coverage_findings(rules, model, records, options, result) -> list:
    """Findings of the rules' ``check_unchecked(model, records, options)`` hook
    (registry: "Optional hooks"), added to ``result``."""
    found = []
    if not records:
        return found
    for rule in rules:
        hook = getattr(rule, "check_unchecked", None)
        if hook is not None:
            found.extend(hook(model, list(records), (options or {}).get(rule.CODE, {})))
    result.findings.extend(found)
    return found


def lint(path_or_model, select=None, ignore=None, input_shapes=None, options=None) -> Report:
    from analyzer.linter.registry import select_rules

    rules = select_rules(select, ignore)
    return Report(files=[lint_file(path_or_model, rules, input_shapes, options=options)])
