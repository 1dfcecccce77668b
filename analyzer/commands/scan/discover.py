"""Which files ``onnxlint scan`` analyzes: folders searched for ``*.onnx``, list files.

Folders are walked without following symlinked folders, so a symlink loop or a
link out of the tree is never entered; such links are reported as *skipped*
(with the reason: ``symlink loop``, ``symlinked folder not followed``).  An
entry named ``*.onnx`` that is not a regular file (FIFO, device, socket, a link
to one) is reported as an error without being opened, and so is a link that
cannot be resolved (a loop of links) and a folder that cannot be listed.

A LIST_FILE holds one path per line (blank lines and lines starting with ``#``
are skipped; relative paths are relative to the current folder); ``-`` reads
the list from standard input.  A listed folder is searched like a folder given
on the command line.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass

__all__ = ["Candidate", "Discovery", "discover"]


@dataclass
class Candidate:
    """A file to analyze, or a finding of discovery itself (``record`` set)."""

    display: str
    abs_path: str
    identity: dict | None = None  # {"size":..., "mtime_ns":...} of the file (links followed)
    record: dict | None = None  # an error record known without analysis


@dataclass
class Discovery:
    candidates: list
    skipped: list  # [{"path":..., "reason":...}]
    excluded: int = 0  # files named but skipped by --force-exclude


def _identity(st) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _error(display, kind, message) -> dict:
    from analyzer.commands.scan.worker import error_record

    return error_record(display, kind, message)


class _Walker:
    def __init__(self, exclude=None, force_exclude=False):
        self.candidates = []
        self.skipped = []
        self.seen = set()
        self.excluded = exclude.match if exclude is not None else (lambda _p: None)
        self.force_exclude = force_exclude
        self.force_excluded = 0

    def add_file(self, display, lst=None):
        """A path that should be a model: regular files become candidates."""
        if display in self.seen:
            return
        if self.force_exclude and self.excluded(display):  # walks check before calling
            self.force_excluded += 1
            return
        self.seen.add(display)
        abs_path = os.path.abspath(display)
        try:
            st = os.stat(display)
        except OSError as e:
            if e.errno == errno.ELOOP:
                rec = _error(display, "symlink-loop", "symbolic link loop; not followed")
            elif e.errno in (errno.ENOENT, errno.ENOTDIR):
                kind, why = ("not-found", "dangling symbolic link") if lst is not None and stat.S_ISLNK(lst.st_mode) else ("not-found", "no such file")
                rec = _error(display, kind, why)
            else:
                rec = _error(display, "unreadable", e.strerror or str(e))
            self.candidates.append(Candidate(display, abs_path, None, rec))
            return
        if stat.S_ISDIR(st.st_mode):
            return
        cand = Candidate(display, abs_path, _identity(st))
        if not stat.S_ISREG(st.st_mode):
            cand.record = _error(display, "not-a-file", "not a regular file (device, FIFO or socket); not opened")
        self.candidates.append(cand)

    def walk(self, top):
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                display = folder
                if display not in self.seen:
                    self.seen.add(display)
                    self.candidates.append(Candidate(display, os.path.abspath(display), None, _error(display, "unreadable", f"cannot list folder: {e.strerror or e}")))
                continue
            subfolders = []
            for entry in entries:
                path = entry.path
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_link, is_dir = False, False
                if self.excluded(path):  # exclude / extend-exclude: not entered, not listed
                    continue
                if is_link:
                    self._link(path, entry.name)
                elif is_dir:
                    subfolders.append(path)
                elif entry.name.endswith(".onnx"):
                    self.add_file(path, entry.stat(follow_symlinks=False))
            stack.extend(reversed(subfolders))  # depth first, sorted: deterministic order

    def _link(self, path, name):
        lst = os.lstat(path)
        try:
            st = os.stat(path)
        except OSError as e:
            if name.endswith(".onnx"):
                self.add_file(path, lst)
            elif e.errno == errno.ELOOP:
                self.skipped.append({"path": path, "reason": "symlink loop"})
            return
        if stat.S_ISDIR(st.st_mode):
            target = os.path.realpath(path)
            here = os.path.realpath(os.path.dirname(path))
            looping = here == target or here.startswith(target.rstrip(os.sep) + os.sep)
            self.skipped.append({"path": path, "reason": "symlink loop" if looping else "symlinked folder not followed"})
        elif name.endswith(".onnx"):
            self.add_file(path, lst)


def read_list(path) -> list:
    if path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.rstrip("\r"))
    return out


def discover(args, exclude=None, force_exclude=False) -> Discovery:
    """Expand the command line's DIR / LIST_FILE / model arguments.  Folder walks skip
    what ``exclude`` (a PathFilter) matches; files named (on the command line or in a
    list file) are analyzed anyway unless ``force_exclude`` (ruff's rule)."""
    w = _Walker(exclude, force_exclude)
    for arg in args:
        if arg == "-":
            entries = read_list(arg)
        elif os.path.isdir(arg):
            w.walk(arg)
            continue
        elif arg.endswith(".onnx") or not os.path.exists(arg):
            w.add_file(arg)
            continue
        else:
            entries = read_list(arg)
        for p in entries:
            if os.path.isdir(p):
                w.walk(p)
            else:
                w.add_file(p)
    return Discovery(w.candidates, w.skipped, w.force_excluded)
