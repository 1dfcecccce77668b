"""The worker side of ``onnxlint scan``: a process that analyzes one file at a time.

Native code (onnx's C++ shape inference, protobuf) can crash, hang or exhaust memory
on a hostile model, and no ``try`` catches that; so every file is analyzed in a
worker process that the parent can kill and replace.  A worker runs either

* as a ``multiprocessing`` child (:func:`serve`, started by the local pool), or
* as ``python -m analyzer.commands.scan.worker``, speaking the same protocol over its
  stdin/stdout (used on Dask workers, whose daemonic processes may not start
  ``multiprocessing`` children).

Protocol: pickled tuples over a ``multiprocessing.connection.Connection``::

    parent -> worker   ("init", Settings), then ("file", display_path, abs_path)... ("stop",)
    worker -> parent   ("ready",) or ("init-failed", message), then one ("result", dict) per file

The worker limits its own address space (``RLIMIT_AS``) before it analyzes
anything, ignores SIGINT (the parent decides when to stop) and exits when its
parent disappears, so a killed scan leaves no busy orphans behind.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Settings", "serve", "error_record", "make_analyzer", "DEFAULT_ANALYZE", "OOM_KIND"]

# "module:function"; function(settings) -> callable(display_path, abs_path) -> per-file dict.
DEFAULT_ANALYZE = "analyzer.commands.scan.worker:make_analyzer"
OOM_KIND = "out-of-memory"
# What analyzer.linter.runner.lint_file reports when it catches a MemoryError.
_RUNNER_OOM = ("too-large", "out of memory while analyzing")
# Modules a fresh worker needs; the forkserver imports them once so workers start fast
# (the last one discovers every rule, plugins included: see its docstring).
PRELOAD = ["analyzer.model", "analyzer.linter.runner", "analyzer.commands.scan.preload"]


@dataclass
class Settings:
    """Everything a worker needs to analyze a file the way ``onnxlint check`` would."""

    select: list | None = None
    ignore: list = field(default_factory=list)
    input_shapes: dict = field(default_factory=dict)
    rule_options: dict = field(default_factory=dict)
    max_nodes: int | None = None
    config: object = None  # analyzer.linter.config.Config (per-path ignores), with an absolute path
    cwd: str = ""
    max_memory: int | None = None  # bytes of address space; None: no limit
    analyze: str = DEFAULT_ANALYZE
    # discovery (in the parent only): analyzer.linter.config.PathFilter, --force-exclude
    exclude: object = field(default=None, compare=False)
    force_exclude: bool = field(default=False, compare=False)


def error_record(path, kind, message) -> dict:
    """A per-file object (as ``FileResult.to_dict()``) for a file that failed."""
    return {"path": path, "status": "error", "error": {"kind": kind, "message": message}, "findings": [], "notes": [], "stats": {}, "unchecked": [], "notices": []}


def format_size(n) -> str:
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def make_analyzer(settings: Settings):
    """The real analysis: ``lint_file`` with the scan's rules and configuration."""
    from analyzer.linter.registry import select_rules

    from analyzer.linter.runner import lint_file

    rules = select_rules(settings.select, settings.ignore)
    cfg = settings.config
    limit = settings.max_memory

    def analyze(display, abs_path):
        # Open the path as the user gave it when we stand where they stood (same
        # results as `check`), else the absolute one (a Dask worker elsewhere).
        here = os.getcwd() == settings.cwd
        shapes = {k: v for k, v in cfg.input_shapes_for(abs_path).items() if k not in settings.input_shapes} if cfg is not None else None
        fr = lint_file(display if here else abs_path, rules, settings.input_shapes, display_path=display, options=settings.rule_options, max_nodes=settings.max_nodes, config_shapes=shapes)
        if cfg is not None:
            fr.path = abs_path  # per-path ignores resolve the path against the cwd
            cfg.apply_per_path_ignores(fr)
            fr.path = display
        if limit and fr.error and (fr.error.get("kind"), fr.error.get("message")) == _RUNNER_OOM:
            fr.error = {"kind": OOM_KIND, "message": f"out of memory while analyzing (--max-memory {format_size(limit)})"}
        return fr.to_dict()

    return analyze


def _load_analyze(spec, settings):
    from importlib import import_module

    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)(settings)


def limit_memory(nbytes) -> None:
    if not nbytes:
        return
    try:
        import resource
    except ImportError:  # not on POSIX: no limit (documented)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        nbytes = min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (nbytes, hard))


def _watch_parent(parent_pid) -> None:
    """Exit when the parent is gone (its scan was killed): a busy worker would
    otherwise finish a long file for nobody."""

    def watch():
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(3)
            except OSError:
                pass

    threading.Thread(target=watch, name="onnxlint-parent-watch", daemon=True).start()


def _describe(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def serve(conn, parent_pid=None) -> None:
    """Worker main loop (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid:
        _watch_parent(parent_pid)
    try:
        msg = conn.recv()
    except (EOFError, OSError):
        return
    try:
        import warnings

        warnings.simplefilter("ignore")  # numpy RuntimeWarnings would garble the progress bar
        settings = msg[1]
        limit_memory(settings.max_memory)
        if settings.cwd:
            try:
                os.chdir(settings.cwd)
            except OSError:
                pass  # not on this machine: absolute paths are used
        analyze = _load_analyze(settings.analyze, settings)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which stops the scan
        conn.send(("init-failed", _describe(e)))
        return
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "file":
            return
        _, display, abs_path = msg
        try:
            record = analyze(display, abs_path)
        except MemoryError:
            record = error_record(display, OOM_KIND, "out of memory while analyzing")
        except Exception as e:  # noqa: BLE001 - one file's failure is that file's result
            record = error_record(display, "internal", f"internal error ({_describe(e)}); please report it")
        try:
            conn.send(("result", record))
        except MemoryError:
            conn.send(("result", error_record(display, OOM_KIND, "out of memory while sending the result")))


class _Duplex:
    """Two one-way connections (stdin, stdout) used as one."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    def recv(self):
        return self.reader.recv()

    def send(self, obj):
        self.writer.send(obj)


def main() -> None:
    from multiprocessing.connection import Connection

    # The protocol owns the original stdout; anything printed (Python or native
    # code) goes to stderr instead of corrupting it.
    proto_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    proto_in = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    serve(_Duplex(Connection(proto_in, writable=False), Connection(proto_out, readable=False)), parent_pid=os.getppid())


if __name__ == "__main__":
    main()
