"""Words every command shares: the version, exit codes, usage errors, input-shape
parsing and the resolved lint settings.  Imports nothing else of the project (the
bottom layer of the import contract in ``pyproject.toml``)."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "VERSION",
    "EXIT_OK",
    "EXIT_FINDINGS",
    "EXIT_ERROR",
    "UsageError",
    "LintSettings",
    "parse_input_shapes",
    "split_codes",
    "first_line",
    "element_count",
    "COUNT_CAP",
]

VERSION = "0.1.0"

# Exit codes (as ruff/flake8 users expect):
#   0  no finding at or above --fail-on
#   1  findings at or above --fail-on
#   2  a file could not be analyzed, or the command line / configuration is wrong
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# Objects a command hands to the process's end: a list while the console script runs
# (``cli.entry``), which may leave with ``os._exit`` and so never frees them (freeing a
# million-node model took most of a second); None for in-process callers of ``main()``,
# whose objects are freed as usual.  While it is a list, a command that paused the
# garbage collector leaves it paused for ``entry`` to restore: the first collection
# after a big model walks every object of it (2.4 s after a million-node graph).
KEEP_UNTIL_EXIT: list | None = None


class UsageError(Exception):
    """A wrong command line or configuration: one line on stderr, exit 2."""


@dataclass
class LintSettings:
    """Configuration file + command line, resolved (see ``analyzer.commands.settings``)."""

    cfg: object
    # from the command line: must fit every model (an error otherwise); the
    # configuration's shapes are per file, see ``config_shapes_for``
    input_shapes: dict = field(default_factory=dict)
    select: list | None = None
    ignore: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    exclude: object = None  # analyzer.linter.config.PathFilter: what folder walks skip
    force_exclude: bool = False  # exclude files named on the command line too

    def config_shapes_for(self, path) -> dict:
        """The configured input shapes for ``path`` the command line does not override
        (applied where they fit the model, skipped with a note elsewhere)."""
        shapes = self.cfg.input_shapes_for(path) if self.cfg is not None else {}
        return {k: v for k, v in shapes.items() if k not in self.input_shapes}


def split_codes(s):
    """``"XY001, AB"`` -> ``["XY001", "AB"]``; None stays None."""
    if s is None:
        return None
    return [c.strip() for c in s.split(",") if c.strip()]


def first_line(e: BaseException) -> str:
    """The first line of an exception's text ('' when it has none)."""
    return str(e).splitlines()[0] if str(e) else ""


def parse_input_shapes(specs, keep: bool = False) -> dict:
    """``["x=1,3,224,224"]`` -> ``{"x": [1, 3, 224, 224]}`` (``x`` also separates dims).

    With ``keep``, a dim written ``?`` means "keep the model's dim" and is returned as
    None (``input=1,3,?,512`` -> ``[1, 3, None, 512]``); commands that need every dim
    concrete (``fix``, ``verify``: they run the model) leave ``keep`` off and refuse it."""
    out = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        if not sep or not name:
            raise UsageError(f"--input-shape {spec!r}: expected NAME=D0,D1,...")
        values = []
        or_keep = " or ?" if keep else ""
        for i, d in enumerate(dims.replace("x", ",").split(",")):
            d = d.strip()
            if not d:
                if dims.strip():
                    raise UsageError(f"--input-shape {spec!r}: dim {i} is empty (two separators in a row, or one at an end)")
                continue
            if d == "?":
                if not keep:
                    raise UsageError(f"--input-shape {spec!r}: '?' (keep the model's dim) is not supported by this command; give every dim")
                values.append(None)
                continue
            try:
                v = int(d)
            except ValueError:
                raise UsageError(f"--input-shape {spec!r}: dims must be integers{or_keep}") from None
            if v < 0:
                raise UsageError(f"--input-shape {spec!r}: dims must be non-negative integers{or_keep}")
            values.append(v)
        if not values:
            raise UsageError(f"--input-shape {spec!r}: dims must be non-negative integers{or_keep}")
        out[name] = values
    return out


COUNT_CAP = 1 << 63  # a hostile file can declare any dims: counts stop here


def element_count(dims) -> int:
    """Elements of a tensor of ``dims``: a negative dim counts as 0, and the count is capped
    at :data:`COUNT_CAP` (no 4,000-digit integer from absurd declared dims)."""
    n = 1
    for d in dims:
        d = int(d)
        if d <= 0:
            return 0
        n *= d
        if n >= COUNT_CAP:
            return COUNT_CAP
    return n

