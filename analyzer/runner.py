"""Run the selected rules over one model and collect a Report."""
from __future__ import annotations

from .findings import FileResult, Report

__all__ = ["lint", "lint_file"]


def lint_file(path_or_model, rules, input_shapes=None, display_path=None) -> FileResult:
    """Analyze one model and run ``rules``; any failure becomes an error result."""
    from .graph import GraphError
    from .load import LoadError
    from .model import analyze
    from .shapes import ShapeError

    shown = display_path or (str(path_or_model) if not hasattr(path_or_model, "graph") else "<model>")
    result = FileResult(path=shown)
    try:
        model = analyze(path_or_model, input_shapes=input_shapes)
        for rule in rules:
            result.findings.extend(rule.check(model))
    except LoadError as e:
        return FileResult(path=shown, status="error", error={"kind": e.kind, "message": e.message})
    except GraphError as e:
        return FileResult(path=shown, status="error", error={"kind": e.kind, "message": e.message})
    except ShapeError as e:
        return FileResult(path=shown, status="error", error={"kind": "bad-input-shape", "message": str(e)})
    except RecursionError:
        return FileResult(path=shown, status="error", error={"kind": "too-deep", "message": "model nesting too deep to analyze"})
    except MemoryError:
        return FileResult(path=shown, status="error", error={"kind": "too-large", "message": "out of memory while analyzing"})
    except Exception as e:  # a bug of ours must not lose the other files' results
        msg = str(e).splitlines()[0] if str(e) else ""
        return FileResult(path=shown, status="error", error={"kind": "internal", "message": f"internal error ({type(e).__name__}: {msg}); please report it"})
    result.findings.sort(key=lambda f: (f.graph != "main", f.graph, f.node_index, f.rule))
    result.notes = list(model.notes)
    return result


def lint(path_or_model, select=None, ignore=None, input_shapes=None) -> Report:
    from rules import select_rules

    rules = select_rules(select, ignore)
    return Report(files=[lint_file(path_or_model, rules, input_shapes)])
