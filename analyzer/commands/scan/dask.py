"""``onnxlint scan --dask ADDRESS``: the same per-file tasks on a Dask cluster.

Each task runs on a Dask worker thread, which hands the file to its own
``python -m analyzer.commands.scan.worker`` subprocess (kept between tasks, so Python
and onnx start once per thread, not once per file) under the same ``--timeout``
and ``--max-memory``; a file that crashes or hangs kills that subprocess, never
the Dask worker.  Results stream back with ``as_completed``; at most a few tasks
per worker thread are in flight, so a zoo of a million files does not flood the
scheduler.  Needs ``distributed`` in the client and on every worker (extra
``dask``), and the files at the same paths on every worker (a shared filesystem).
"""
from __future__ import annotations

import threading

from analyzer.commands.scan.pool import PoolError, SubprocessWorker, run_one

__all__ = ["dask_map", "analyze_on_worker"]

_local = threading.local()
TASKS_PER_THREAD = 4


def analyze_on_worker(display, abs_path, settings, timeout):
    """Runs on a Dask worker: one file in this thread's isolated subprocess."""
    worker = getattr(_local, "worker", None)
    if worker is not None and _local.settings != settings:
        worker.close()
        worker = None
    if worker is None:
        worker = SubprocessWorker()
        _local.worker, _local.settings = worker, settings
    record, _local.worker = run_one(worker, settings, display, abs_path, timeout)
    return record


def dask_map(address, tasks, settings, timeout):
    """Yield ``(task, record)`` for each task, in completion order."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise PoolError("--dask needs the 'distributed' package: pip install 'onnxlint[dask]'") from None
    from analyzer.commands.scan.worker import error_record

    try:
        client = Client(address, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise PoolError(f"cannot connect to the Dask scheduler at {address}: {e}") from None
    try:
        threads = sum(client.nthreads().values()) or 1
        window = max(8, TASKS_PER_THREAD * threads)
        pending = iter(tasks)
        owner = {}
        done = as_completed(loop=client.loop)

        def submit_next():
            task = next(pending, None)
            if task is None:
                return False
            fut = client.submit(analyze_on_worker, task.display, task.abs_path, settings, timeout, pure=False, retries=0)
            owner[fut.key] = task
            done.add(fut)
            return True

        for _ in range(window):
            if not submit_next():
                break
        for fut in done:
            task = owner.pop(fut.key)
            try:
                record = fut.result()
            except PoolError as e:
                raise PoolError(f"on a Dask worker: {e}") from None
            except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: the file's result
                text = str(e).splitlines()[0] if str(e) else ""
                record = error_record(task.display, "crashed", f"the Dask task failed ({type(e).__name__}: {text})")
            fut.release()
            yield task, record
            submit_next()
    finally:
        client.close()
