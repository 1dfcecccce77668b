"""The parent side of ``onnxlint scan``: worker processes with a deadline per file.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies
(a segfault in native code, the kernel's OOM killer), the whole executor breaks
and every pending result is lost.  Here each worker holds at most one file; the
parent waits on all workers' pipes at once, kills a worker whose file overruns
``--timeout``, notices a worker that died, reports that file with a reason
(``timeout``, ``crashed``) and starts a replacement.  One bad file costs one
result, never the others.

Workers are ``multiprocessing`` children of a forkserver that has already
imported onnx's message classes, numpy, networkx and every rule (a replacement starts
in milliseconds; the scan starts the forkserver before it walks the folders, see
:func:`prestart`); where there is no forkserver they are spawned.  :class:`SubprocessWorker` is the same
worker as a plain subprocess, for Dask workers (see ``scan_dask``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from multiprocessing.connection import wait

from analyzer.commands.scan.worker import PRELOAD, error_record

__all__ = ["PoolError", "ProcessWorker", "SubprocessWorker", "WorkerPool", "largest_first", "prestart", "run_one"]

# A fresh worker must report ready within this long (it imports nothing heavy
# under the forkserver; a spawned one imports onnx).
INIT_TIMEOUT = 120.0


class PoolError(Exception):
    """Workers cannot be started (e.g. --max-memory too low to import onnx)."""


def _context():
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return mp.get_context("spawn")


def prestart() -> None:
    """Start the forkserver now, so that its imports (PRELOAD: a few tenths of a second,
    before any worker can start) run while this process still reads its configuration
    and walks the folders, instead of after.  Only a head start: the pool works the
    same without it."""
    if _context().get_start_method() != "forkserver":
        return
    try:
        from multiprocessing import forkserver

        forkserver.ensure_running()
    except Exception:  # noqa: BLE001, S110 - the pool starts it (and reports failures) later
        pass


class _Worker:
    """One worker process as the parent sees it."""

    conn = None
    task = None
    deadline = None
    ready = False

    def waitables(self):
        return [self.conn]

    def send(self, msg):
        self.conn.send(msg)

    def start(self, settings):
        self._spawn()
        self.started = time.monotonic()
        self.deadline = self.started + INIT_TIMEOUT
        self.send(("init", settings))

    def exit_reason(self) -> str:
        code = self._wait_exit()
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (killed from outside, e.g. by the kernel's out-of-memory killer)" if -code == getattr(signal, "SIGKILL", None) else ""
            return f"the worker died from {name}{hint}"
        return f"the worker exited with code {code}"


class ProcessWorker(_Worker):
    def __init__(self, ctx):
        self.ctx = ctx

    def _spawn(self):
        from analyzer.commands.scan.worker import serve

        parent, child = self.ctx.Pipe(duplex=True)
        self.proc = self.ctx.Process(target=serve, args=(child, os.getpid()), name="onnxlint-scan-worker", daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def waitables(self):
        return [self.conn, self.proc.sentinel]

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def _wait_exit(self):
        self.proc.join(5)
        return self.proc.exitcode

    def close(self):
        try:
            self.send(("stop",))
        except OSError:
            pass
        self.proc.join(2)
        self.kill()


class SubprocessWorker(_Worker):
    """The worker as ``python -m analyzer.commands.scan.worker`` (no multiprocessing needed)."""

    def _spawn(self):
        from multiprocessing.connection import Connection

        import analyzer

        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(analyzer.__file__)))
        env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        self.proc = subprocess.Popen([sys.executable, "-m", "analyzer.commands.scan.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        self.conn = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self._out = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def send(self, msg):
        self._out.send(msg)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()
        self._out.close()

    def _wait_exit(self):
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        try:
            self.send(("stop",))
        except OSError:
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def _timeout_record(display, timeout):
    return error_record(display, "timeout", f"analysis took longer than --timeout {timeout:g} s; its worker was stopped")


def _crash_record(display, reason):
    return error_record(display, "crashed", f"{reason} while analyzing this file (native code may have crashed on it)")


_DEAD = ("dead",)


def _receive(worker):
    """The worker's next message; None if there is none yet; ``_DEAD`` if it died."""
    try:
        if worker.conn.poll():
            return worker.conn.recv()
    except (EOFError, OSError):
        return _DEAD
    if isinstance(worker, ProcessWorker) and worker.proc.exitcode is not None:
        return _DEAD
    return None


def _init_failure(worker, msg) -> PoolError:
    if msg is not None and msg[0] == "init-failed":
        return PoolError(f"a scan worker could not start: {msg[1]}")
    return PoolError(f"a scan worker could not start: {worker.exit_reason()}")


def run_one(worker, settings, display, abs_path, timeout):
    """Analyze one file in ``worker`` (started if need be).  Returns ``(record,
    worker_or_None)``: None when the worker had to be killed or died."""
    if not worker.ready:
        worker.start(settings)
        msg = None
        if wait([worker.conn], INIT_TIMEOUT):
            msg = _receive(worker)
        if msg != ("ready",):
            err = _init_failure(worker, msg)
            worker.kill()
            raise err
        worker.ready = True
    try:
        worker.send(("file", display, abs_path))
    except OSError:  # it died while idle: not this file's fault, so once more in a new one
        worker.kill()
        fresh = type(worker)()
        return run_one(fresh, settings, display, abs_path, timeout)
    if wait([worker.conn], timeout or None):
        msg = _receive(worker)
        if msg is not None and msg[0] == "result":
            return msg[1], worker
        # a worker only writes results, so anything else means its end closed
        reason = worker.exit_reason()
        worker.kill()
        return _crash_record(display, reason), None
    worker.kill()
    return _timeout_record(display, timeout), None


def _task_size(task) -> int:
    ident = getattr(task, "identity", None)
    if isinstance(ident, dict) and isinstance(ident.get("size"), int):
        return ident["size"]
    try:
        return os.path.getsize(task.abs_path)
    except (OSError, TypeError, ValueError):
        return 0


def largest_first(tasks) -> list:
    """``tasks`` by file size, largest first (stable among equal sizes)."""
    return sorted(tasks, key=_task_size, reverse=True)


class WorkerPool:
    """``jobs`` workers, one file in flight each, a deadline per file.

    ``imap(tasks)`` takes objects with ``display`` and ``abs_path`` attributes and
    yields ``(task, record)`` in completion order; a file that times out or whose
    worker dies yields an error record and the worker is replaced.
    """

    def __init__(self, settings, jobs, timeout=None):
        self.settings = settings
        self.jobs = max(1, int(jobs))
        self.timeout = timeout or None
        self.ctx = _context()
        self.workers = []

    def _new_worker(self):
        w = ProcessWorker(self.ctx)
        w.start(self.settings)
        self.workers.append(w)
        return w

    def _retire(self, w):
        w.kill()
        self.workers.remove(w)

    def imap(self, tasks):
        # Several workers: the largest files first, so that no big file starts last
        # while the other workers sit idle (results come in completion order anyway).
        pending = deque(largest_first(tasks) if self.jobs > 1 else tasks)
        try:
            for _ in range(min(self.jobs, len(pending))):
                self._new_worker()
            while pending or any(w.task is not None for w in self.workers):
                for w in list(self.workers):
                    if w.ready and w.task is None and pending:
                        try:
                            w.send(("file", pending[0].display, pending[0].abs_path))
                        except OSError:  # died while idle: replace it, the file waits
                            self._retire(w)
                            self._new_worker()
                            continue
                        w.task = pending.popleft()
                        w.deadline = time.monotonic() + self.timeout if self.timeout else None
                deadlines = [w.deadline for w in self.workers if w.deadline is not None]
                left = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                ready = set(wait([x for w in self.workers for x in w.waitables()], left))
                for w in list(self.workers):
                    if any(x in ready for x in w.waitables()):
                        yield from self._handle(w, pending)
                now = time.monotonic()
                for w in list(self.workers):
                    if w in self.workers and w.deadline is not None and now >= w.deadline:
                        if not w.ready:
                            self._retire(w)
                            raise PoolError(f"a scan worker could not start: no answer within {INIT_TIMEOUT:g} s")
                        task = w.task
                        self._retire(w)
                        if pending:
                            self._new_worker()
                        yield task, _timeout_record(task.display, self.timeout)
        finally:
            self.close()

    def _handle(self, w, pending):
        msg = _receive(w)
        if msg is _DEAD:
            reason = w.exit_reason()
            if not w.ready:
                self._retire(w)
                raise PoolError(f"a scan worker could not start: {reason}")
            task = w.task
            self._retire(w)
            if pending:
                self._new_worker()
            if task is not None:
                yield task, _crash_record(task.display, reason)
            return
        if msg is None:
            return
        if msg[0] == "ready":
            w.ready, w.deadline = True, None
        elif msg[0] == "init-failed":
            self._retire(w)
            raise PoolError(f"a scan worker could not start: {msg[1]}")
        elif msg[0] == "result" and w.task is not None:
            task, w.task, w.deadline = w.task, None, None
            yield task, msg[1]

    def close(self):
        for w in self.workers:
            try:
                if w.task is not None or not w.ready:
                    w.kill()  # interrupted mid-file: no point waiting for it
                else:
                    w.close()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass
        self.workers = []
