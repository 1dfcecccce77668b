"""Dimensions: an ``int``, a symbol (``str``), or ``None`` (unknown).

A symbol is either a name from the model (``"batch"``, ``"height"``) or a
deterministic expression built from symbols by the helpers below
(``"2*height"``, ``"floor((height - 1)/2) + 1"``).  Expressions are built the same
way every time, so the same size reached twice by the same path compares equal.
Only the simplifications that are always exact are made (``x + 0``, ``1*x``, a
stride-1 conv that keeps the size); full symbolic algebra is a later step.
"""
from __future__ import annotations

import re

__all__ = [
    "is_known",
    "is_static",
    "dim_add",
    "dim_sub",
    "dim_mul",
    "dim_floordiv",
    "dim_ceildiv",
    "conv_out",
    "pool_out",
    "shape_numel",
    "dims_equal",
]

# Sizes beyond this are refused as values (a hostile dim of 2**62 must not
# become an allocation or an overflow anywhere downstream).
MAX_DIM = 1 << 62
# Tensors of higher rank are treated as of unknown rank: every op copies its
# shape, so a rank-million input would make a chain of ops quadratic.
MAX_RANK = 256
# A symbolic expression longer than this becomes unknown (``None``): expressions
# built from expressions (Concat(x, x) repeated) would otherwise double each step.
MAX_EXPR_CHARS = 256


def is_known(d) -> bool:
    return d is not None


def is_static(d) -> bool:
    return isinstance(d, int)


def _wrap(s: str) -> str:
    return s if s.replace("_", "").isalnum() else f"({s})"


def _expr(s: str):
    return s if len(s) <= MAX_EXPR_CHARS else None


_TRAILING_CONST = re.compile(r"^(.*\S) ([+-]) (\d+)$")


def _split_const(s: str):
    """``"expr + 3"`` -> ("expr", 3); a top-level trailing constant is always the
    last term of a sum built by these helpers (anything nested ends in ')')."""
    m = _TRAILING_CONST.match(s)
    if not m:
        return s, 0
    c = int(m.group(3))
    return m.group(1), (c if m.group(2) == "+" else -c)


def dim_add(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if isinstance(a, int):
        a, b = b, a
    if b == 0:
        return a
    if isinstance(b, int):
        base, c = _split_const(a)
        c += b
        if c == 0:
            return base
        return _expr(f"{base} - {-c}" if c < 0 else f"{base} + {c}")
    return _expr(f"{a} + {_wrap(str(b))}")


def dim_sub(a, b):
    if isinstance(b, int):
        return dim_add(a, -b)
    if a is None or b is None:
        return None
    if a == b:
        return 0
    return _expr(f"{a} - {_wrap(str(b))}")


def dim_mul(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if isinstance(a, int):
        a, b = b, a
    if b == 1:
        return a
    if b == 0:
        return 0
    if isinstance(b, int):
        return _expr(f"{b}*{_wrap(a)}")
    return _expr(f"{_wrap(a)}*{_wrap(b)}")


def dim_floordiv(a, c):
    if a is None or c is None:
        return None
    if isinstance(a, int) and isinstance(c, int):
        return a // c if c else None
    if c == 1:
        return a
    return _expr(f"floor({a}/{c})")


def dim_ceildiv(a, c):
    if a is None or c is None:
        return None
    if isinstance(a, int) and isinstance(c, int):
        return -((-a) // c) if c else None
    if c == 1:
        return a
    return _expr(f"ceil({a}/{c})")


def conv_out(n, k, stride, dilation, pad_total, ceil_mode=False):
    """Output size of a conv/pool window over ``n`` with total padding ``pad_total``."""
    if n is None or pad_total is None:
        return None
    extent = (k - 1) * dilation + 1
    span = dim_add(n, pad_total - extent)
    q = dim_ceildiv(span, stride) if ceil_mode else dim_floordiv(span, stride)
    return dim_add(q, 1)


def pool_out(n, k, stride, dilation, pad_begin, pad_end, ceil_mode=False):
    """Pool output size, with ONNX's rule that with ceil_mode the last window must
    start inside the input or the left padding."""
    if not isinstance(n, int) or pad_begin is None or pad_end is None:
        return conv_out(n, k, stride, dilation, None if pad_begin is None or pad_end is None else pad_begin + pad_end, ceil_mode)
    out = conv_out(n, k, stride, dilation, pad_begin + pad_end, ceil_mode)
    if ceil_mode and (out - 1) * stride >= n + pad_begin:
        out -= 1
    return out


def shape_numel(shape):
    if shape is None:
        return None
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        n *= d
    return n


def dims_equal(a, b) -> bool:
    return a is not None and b is not None and a == b


def symbol(name: str):
    """A dim that is a named, unknown but fixed size (a model's dim_param, or a fresh
    symbol for a data-dependent size such as NonZero's count)."""
    return str(name)


def dim_min(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    if a == b:
        return a
    x, y = sorted((str(a), str(b)))
    return _expr(f"min({x}, {y})")


def dim_max(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    if a == b:
        return a
    x, y = sorted((str(a), str(b)))
    return _expr(f"max({x}, {y})")
