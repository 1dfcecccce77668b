"""What a failed load says: :class:`LoadError` with a ``kind`` from :data:`ERROR_KINDS`,
and the helpers that make model strings safe in any message (:func:`text`,
:func:`one_line`, :func:`shown`)."""
from __future__ import annotations

__all__ = ["ERROR_KINDS", "LoadError", "text", "one_line", "shown", "MAX_NAME_IN_MESSAGE"]

# Names quoted in messages are cut to this many characters (a name can be megabytes).
MAX_NAME_IN_MESSAGE = 120

# Every error kind a file result can carry (JSON ``error.kind``), with what it means.
# The words are stable: scripts match on them.
ERROR_KINDS = {
    "not-found": "the path does not exist",
    "not-a-file": "a directory, FIFO, device or socket (never opened, so it cannot block)",
    "unreadable": "the file exists but cannot be read (permissions, I/O error)",
    "empty": "the file has 0 bytes",
    "not-onnx": "not an ONNX model: text, a Git LFS pointer, a zip or pickle, random bytes, another protobuf "
    "message (a bare GraphProto or TensorProto), or a ModelProto without graph / ir_version / opset_import",
    "truncated": "an ONNX model cut short: a top-level field runs past the end of the file",
    "corrupt": "framed like an ONNX model, but its content does not parse (bytes damaged inside)",
    "too-deep": "messages nested deeper than protobuf's parse limit (100 levels, e.g. If inside If ... "
    "about 33 deep), or too deep for analysis",
    "too-large": "a file over 2 GiB, more nodes than --max-nodes, or out of memory while analyzing",
    "unsupported": "an IR version newer than the installed onnx supports",
    "external-data": "external data that cannot be used: missing file, not a regular file, offset/length "
    "outside the file or not matching the dims, unknown key, string tensor, model without a folder",
    "external-data-outside-folder": "an external-data location that is absolute, contains '..', or resolves "
    "(through symlinks) outside the model's folder, or a data file with more than one hard link",
    "graph-cycle": "the graph (or a subgraph / function body) has a cycle",
    "graph-duplicate-tensor": "one tensor defined twice in a graph: two producers, a node output named like "
    "a graph input or initializer, or a repeated graph input",
    "bad-input-shape": "an --input-shape binding that does not fit the model",
    "internal": "a bug in onnxlint (please report it with the file)",
}


class LoadError(Exception):
    """A model could not be read.  ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, path, kind: str, message: str):
        super().__init__(message)
        self.path = str(path)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


def text(s) -> str:
    """A protobuf string field as ``str``.  ONNX strings are proto2, so protobuf does
    not validate them: invalid UTF-8 comes back as ``bytes``; decode it with
    replacement characters so that names are always text downstream."""
    if isinstance(s, bytes):
        return s.decode("utf-8", "replace")
    return s


def one_line(s: str) -> str:
    """A message safe for one line of any report: control characters (newlines,
    ANSI/OSC escapes) and line separators from model strings become ``\\xNN``."""
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() or c == " " else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in s)


def shown(s) -> str:
    """``repr`` of a name for a message, cut to a sane length."""
    s = text(s)
    if len(s) > MAX_NAME_IN_MESSAGE:
        s = s[:MAX_NAME_IN_MESSAGE] + "..."
    return repr(s)
