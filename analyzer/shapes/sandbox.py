"""onnx's own shape inference, run where it cannot hurt us (the engine's fallback for ops
without a shape function of ours).

onnx's inference is native code that has crashed on hostile attributes before, so on
Linux it runs in a forked child (which shares the model in memory) with a time limit
and an address-space limit (RLIMIT_AS): a crash or hang there costs only its shapes,
never the process or the other files of a scan.  The model it sees is a copy without
large payloads, external data, local functions or absurd ranks (:func:`model_for_onnx`).
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

from analyzer.io.load import iter_tensors, read_tensor
from analyzer.io.proto import GraphProto, ModelProto, TensorProto, shape_inference
from analyzer.shapes.dims import MAX_RANK
from analyzer.shapes.registry import MAX_TRACKED_ELEMENTS

__all__ = ["InferenceFailed", "onnx_inference", "model_for_onnx", "tensor_numel", "ONNX_INFERENCE_TIMEOUT", "ONNX_INFERENCE_MEMORY"]

# onnx's own shape inference (the fallback) gets this long, in a child process, and
# this much address space beyond what the process already had.
ONNX_INFERENCE_TIMEOUT = 30.0
ONNX_INFERENCE_MEMORY = 4 << 30


class InferenceFailed(Exception):
    """onnx's inference gave no result (crash, hang, error); the message says why."""


def onnx_inference(model, timeout=ONNX_INFERENCE_TIMEOUT, memory=ONNX_INFERENCE_MEMORY) -> GraphProto:
    """value_info and outputs of ``model`` as onnx's shape inference gives them.

    Native code on untrusted input: on Linux it runs in a forked child (which
    shares the model in memory), so a segfault or a hang there costs only the
    fallback shapes, never the process or the other files of a scan.  ``timeout`` (seconds)
    and ``memory`` (bytes beyond the current address space) bound the child.

    onnx's C extension is loaded here, in the parent, before the fork: only models
    that need the fallback pay for it, and only once.  Its ``infer_shapes`` is what
    ``onnx.shape_inference.infer_shapes(model, data_prop=True)`` calls; the onnx
    package itself (about 0.7 s to import, paid again by every scan worker) is not
    needed."""
    infer = shape_inference().infer_shapes

    def inferred_model():
        return ModelProto.FromString(infer(model.SerializeToString(), False, False, True))

    if not (sys.platform.startswith("linux") and hasattr(os, "fork")):
        return _types_only(inferred_model())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns, never runs the parent's exit handlers
        code = 1
        try:
            os.close(r)
            # Whatever the native code prints, or a crash dump, must not reach the user.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if "faulthandler" in sys.modules:  # it may write to a saved copy of stderr
                sys.modules["faulthandler"].disable()
            _limit_memory(memory)
            try:
                payload = b"\0" + _types_only(inferred_model()).SerializeToString()
            except Exception as e:
                payload = b"\1" + (str(e).splitlines()[0][:300] if str(e) else type(e).__name__).encode("utf-8", "replace")
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise InferenceFailed(f"it did not finish within {timeout:.0f} s; its shapes are not used")
    if os.WIFSIGNALED(status):
        raise InferenceFailed(f"it crashed (signal {os.WTERMSIG(status)}); its shapes are not used")
    data = b"".join(chunks)
    if not data or os.WEXITSTATUS(status) != 0:
        raise InferenceFailed("it exited without a result")
    if data[:1] == b"\1":
        raise InferenceFailed(data[1:].decode("utf-8", "replace"))
    graph = GraphProto()
    graph.ParseFromString(data[1:])
    return graph


def _limit_memory(extra: int) -> None:
    """Cap this (child) process's address space at its current size plus ``extra``:
    a hostile dim must not let native code take the machine's memory."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        limit = pages * os.sysconf("SC_PAGE_SIZE") + extra
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except Exception:  # no /proc, no resource module: the time limit still holds
        pass


def _types_only(model) -> GraphProto:
    g = GraphProto()
    g.value_info.extend(model.graph.value_info)
    g.output.extend(model.graph.output)
    return g

def model_for_onnx(model, loaded):
    """A copy of the model for onnx's inference: large initializers carry no data
    (onnx needs only their dims; small ones keep values for constant folding), and
    no tensor refers to external data any more: onnx must never open a file for us
    (small main-graph initializers we read ourselves are inlined)."""
    m = ModelProto()
    m.CopyFrom(model) if model.ByteSize() < (64 << 20) else _copy_shallow(model, m)
    for t in m.graph.initializer:
        if tensor_numel(t) > MAX_TRACKED_ELEMENTS:
            _strip(t)
        elif t.data_location == TensorProto.EXTERNAL:
            value = read_tensor(loaded, t, MAX_TRACKED_ELEMENTS) if loaded is not None else None
            if value is None:
                _strip(t)
            else:
                try:
                    # onnx's package: the caller runs onnx's inference next anyway
                    from onnx import numpy_helper

                    t.CopyFrom(numpy_helper.from_array(value, t.name))
                except Exception:
                    _strip(t)
    for t in iter_tensors(m):
        if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
            _strip(t)
    # onnx expands a local function at every call, recursively: functions calling
    # functions twice, 40 deep, would never finish.  Our engine handles functions
    # itself; onnx only needs to cover ops we have no shape function for.
    del m.functions[:]
    # Absurd ranks make onnx's inference as slow as ours would be: hide them.
    g = m.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.HasField("tensor_type") and len(vi.type.tensor_type.shape.dim) > MAX_RANK:
            vi.type.tensor_type.ClearField("shape")
    if any(len(t.dims) > MAX_RANK for t in g.initializer):
        kept = [t for t in g.initializer if len(t.dims) <= MAX_RANK]
        del g.initializer[:]
        g.initializer.extend(kept)
    return m


def _copy_shallow(model, m):
    g = model.graph
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    m.functions.extend(model.functions)
    m.graph.name = g.name
    m.graph.input.extend(g.input)
    m.graph.output.extend(g.output)
    m.graph.node.extend(g.node)
    m.graph.value_info.extend(g.value_info)
    for t in g.initializer:
        if tensor_numel(t) > MAX_TRACKED_ELEMENTS:
            stub = m.graph.initializer.add()
            stub.name, stub.data_type = t.name, t.data_type
            stub.dims.extend(t.dims)
            _strip(stub)
        else:
            m.graph.initializer.add().CopyFrom(t)


def _strip(t):
    """Keep dims and type, drop the payload (onnx infers shapes without it)."""
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.ClearField("int32_data")
    t.ClearField("int64_data")
    t.ClearField("double_data")
    t.ClearField("uint64_data")
    t.ClearField("external_data")
    t.data_location = TensorProto.DEFAULT


def tensor_numel(t):
    n = 1
    for d in t.dims:
        n *= max(int(d), 0)
    return n

