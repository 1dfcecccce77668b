"""Progress of a scan on stderr: a tqdm bar on a terminal, plain lines otherwise
(one per 10 % of the files, and at least one every 30 s so a CI log shows life),
nothing with ``--quiet``.  Only counts are shown, never a name from a model."""
from __future__ import annotations

import sys
import time

__all__ = ["Progress", "format_duration"]

PLAIN_STEP = 0.10
PLAIN_HEARTBEAT = 30.0


def format_duration(seconds) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    def __init__(self, total: int, quiet=False, stream=None, already=0):
        self.total = total
        self.done = 0
        self.errors = 0
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.bar = None
        self.last_line = self.start
        self.next_step = PLAIN_STEP
        if quiet:
            return
        if already:
            print(f"onnxlint scan: resuming: {already} file(s) already recorded, {total} to analyze", file=self.stream, flush=True)
        if self._isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines then
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="file", desc="onnxlint scan", file=self.stream, dynamic_ncols=True, smoothing=0.05, mininterval=0.25)

    def _isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def update(self, record: dict) -> None:
        self.done += 1
        if record.get("status") == "error":
            self.errors += 1
        if self.quiet:
            return
        if self.bar is not None:
            if record.get("status") == "error":
                self.bar.set_postfix_str(f"{self.errors} error{'s' if self.errors != 1 else ''}", refresh=False)
            self.bar.update(1)
            return
        now = time.monotonic()
        fraction = self.done / self.total if self.total else 1.0
        if fraction >= self.next_step or now - self.last_line >= PLAIN_HEARTBEAT:
            while self.next_step <= fraction:
                self.next_step += PLAIN_STEP
            self.last_line = now
            print(self._line(now), file=self.stream, flush=True)

    def _line(self, now) -> str:
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = 100 * self.done / self.total if self.total else 100
        line = f"onnxlint scan: {self.done}/{self.total} files ({pct:.0f}%)"
        if elapsed >= 1.0:  # before that the rate says nothing (errors found without analysis come first)
            line += f", {rate:.1f} files/s"
            if self.done < self.total and rate > 0:
                line += f", ETA {format_duration((self.total - self.done) / rate)}"
        return line + f", {self.errors} error{'s' if self.errors != 1 else ''}"

    def close(self) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.close()
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        print(f"onnxlint scan: analyzed {self.done} file(s) in {elapsed:.1f} s ({rate:.1f} files/s)", file=self.stream, flush=True)
