"""Write files so that an interrupted run leaves the old file or the new one, never a part."""
from __future__ import annotations

import errno
import os
import tempfile

__all__ = ["user_path_error", "write_text_atomic", "write_bytes_atomic"]


def user_path_error(e: OSError, path) -> OSError:
    """``e`` as an error about the path the user asked for when it was raised on one of our
    temporary files (``.onnxlint-*``) or on no file: ``-o /no/such/dir/r.txt`` must name
    that path, never ``.onnxlint-8of34bge.tmp``.  Errors on other files are kept."""
    name = e.filename
    if name is not None and not os.path.basename(os.fspath(name)).startswith(".onnxlint-"):
        return e
    if e.errno is None:
        err = OSError(str(e))
        err.filename = os.fspath(path)
        return err
    return type(e)(e.errno, e.strerror or os.strerror(e.errno), os.fspath(path))


def write_bytes_atomic(path, data: bytes) -> None:
    path = os.fspath(path)
    try:
        _write_bytes_atomic(path, data)
    except OSError as e:
        raise user_path_error(e, path) from None


def _write_bytes_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    fd, tmp = tempfile.mkstemp(prefix=".onnxlint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would
        # (keep the mode of a file being replaced, else 0666 minus the umask).
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # atomic on POSIX and Windows; replaces a symlink, never writes through it
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomic(path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
