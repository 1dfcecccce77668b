"""Standard output that a closed pipe cannot turn into an error: ``onnxlint rules | head -1``.

When the reader goes away, the first write that fails points file descriptor 1 at the
null device and every later write (and Python's final flush) is discarded, so the command
runs to its end quietly and exits with its own code, as it would have if the reader had
read everything: the reader chose to stop reading, which is no failure of the command.
"""
from __future__ import annotations

import os

__all__ = ["PipeSafe"]


class PipeSafe:
    """A proxy of a text stream whose ``write``/``flush`` swallow ``BrokenPipeError``."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _closed_pipe(self) -> None:
        self.broken = True
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)  # Python's own flush at exit then writes into the void
        finally:
            os.close(devnull)

    def write(self, text):
        if self.broken:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed_pipe()
            return len(text)

    def flush(self):
        if self.broken:
            return None
        try:
            return self._stream.flush()
        except BrokenPipeError:
            self._closed_pipe()
            return None

    def __getattr__(self, name):
        return getattr(self._stream, name)
