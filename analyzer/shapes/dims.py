"""Dimensions: an ``int``, a symbolic size (:class:`Sym`), or ``None`` (unknown).

A symbolic size is an exact integer expression over the model's symbols (the
``dim_param`` names of its inputs, such as ``batch``, ``H``, ``W``, and fresh
symbols for data-dependent sizes), closed under what shape functions need:
``+``, ``-``, ``*``, floor and ceil division by a positive constant, ``min`` and
``max``, and so the conv/pool output formula.

Every expression is kept in one canonical form, and :class:`Sym` is a ``str``
whose text is that form's printing: two sizes are equal exactly when their
strings are (``floor((H - 1)/2) + 1`` reached twice down a network compares
equal), dims hash and sort like strings, and they go to JSON as they are.

The canonical form (``Lin`` below) is an integer constant plus a sorted tuple of
(monomial, non-zero integer coefficient); a monomial is a sorted tuple of atoms;
an atom is a symbol name, ``floor(Lin/c)`` with ``c >= 2``, or ``min``/``max`` of
two or more Lins.  Simplifications are the exact ones: like terms collect,
``floor((c*A + B + k)/c) = A + floor((B + k mod c)/c) + k div c``, a common factor
of the rest and ``c`` cancels, nested floors merge, ``min``/``max`` of
expressions differing by a constant pick one.  ``ceil(x/c)`` is
``floor((x + c - 1)/c)``.  A symbol name is never parsed: a ``dim_param`` of
``"2*H"`` is one opaque symbol.

Why not sympy: ``bench/symbolic_dims.py`` measures this form against sympy on
conv/pool chains (README, "Symbolic shapes").
"""
from __future__ import annotations

from functools import lru_cache
from math import gcd

__all__ = [
    "Sym",
    "symbol",
    "is_known",
    "is_static",
    "is_symbolic",
    "dim_add",
    "dim_sub",
    "dim_mul",
    "dim_floordiv",
    "dim_ceildiv",
    "dim_exact_div",
    "dim_min",
    "dim_max",
    "conv_out",
    "pool_out",
    "shape_numel",
    "dims_equal",
    "free_symbols",
    "evaluate",
    "substitute",
    "is_nondecreasing",
]

# Sizes beyond this are refused as values (a hostile dim of 2**62 must not
# become an allocation or an overflow anywhere downstream).
MAX_DIM = 1 << 62
# Tensors of higher rank are treated as of unknown rank: every op copies its
# shape, so a rank-million input would make a chain of ops quadratic.
MAX_RANK = 256
# A symbolic expression whose text is longer than this becomes unknown (``None``):
# products of sums (Concat(x, x) repeated, then multiplied) could grow each step.
MAX_EXPR_CHARS = 256


class Sym(str):
    """A symbolic size; the string is the canonical printing of ``.lin``."""

    lin: tuple

    def __reduce__(self):  # across processes a Sym travels as its text (a plain str)
        return (str, (str(self),))


# -- the canonical form ------------------------------------------------------
# Lin:  (const, ((mono, coef), ...)) with monos sorted by their printing.
# mono: tuple of atoms sorted by their printing (repeats for powers).
# atom: ("s", name) | ("f", Lin, c) | ("min", (Lin, ...)) | ("max", (Lin, ...)).

_ZERO = (0, ())


def _is_ident(name: str) -> bool:
    return bool(name) and name.replace("_", "a").replace(".", "a").isalnum() and not name[0].isdigit()


@lru_cache(maxsize=1 << 16)
def _atom_str(atom) -> str:
    kind = atom[0]
    if kind == "s":
        return atom[1]
    if kind == "f":
        inner = atom[1]
        body = _lin_str(inner)
        if not _is_single_atom(inner):
            body = f"({body})"
        return f"floor({body}/{atom[2]})"
    return f"{kind}({', '.join(_lin_str(x) for x in atom[1])})"


def _is_single_atom(lin) -> bool:
    c, terms = lin
    return c == 0 and len(terms) == 1 and terms[0][1] == 1 and len(terms[0][0]) == 1


@lru_cache(maxsize=1 << 16)
def _mono_str(mono) -> str:
    return "*".join(_atom_str(a) for a in mono)


@lru_cache(maxsize=1 << 16)
def _lin_str(lin) -> str:
    c, terms = lin
    parts = []
    for mono, coef in terms:
        m = _mono_str(mono)
        mag = abs(coef)
        t = m if mag == 1 else f"{mag}*{m}"
        if not parts:
            parts.append(t if coef > 0 else f"-{t}")
        else:
            parts.append(f" + {t}" if coef > 0 else f" - {t}")
    if c or not parts:
        if not parts:
            parts.append(str(c))
        else:
            parts.append(f" + {c}" if c > 0 else f" - {-c}")
    return "".join(parts)


def _mk(pairs: dict, const: int):
    """A Lin from {mono: coef} (zero coefficients dropped, monos sorted)."""
    terms = tuple(sorted(((m, k) for m, k in pairs.items() if k), key=lambda mk: _mono_str(mk[0])))
    return (const, terms)


def _add(x, y):
    if not y[1]:
        return (x[0] + y[0], x[1]) if y[0] else x
    if not x[1]:
        return (x[0] + y[0], y[1]) if x[0] else y
    pairs = dict(x[1])
    for m, k in y[1]:
        pairs[m] = pairs.get(m, 0) + k
    return _mk(pairs, x[0] + y[0])


def _scale(x, k: int):
    if k == 0:
        return _ZERO
    if k == 1:
        return x
    return (x[0] * k, tuple((m, c * k) for m, c in x[1]))


def _mul(x, y):
    if not y[1]:
        return _scale(x, y[0])
    if not x[1]:
        return _scale(y, x[0])
    pairs: dict = {}
    const = x[0] * y[0]
    for a, b in ((x, y), (y, x)):
        if a[0]:
            for m, k in b[1]:
                pairs[m] = pairs.get(m, 0) + a[0] * k
    for m1, k1 in x[1]:
        for m2, k2 in y[1]:
            m = tuple(sorted(m1 + m2, key=_atom_str))
            pairs[m] = pairs.get(m, 0) + k1 * k2
    return _mk(pairs, const)


def _atom_lin(atom):
    return (0, (((atom,), 1),))


@lru_cache(maxsize=1 << 16)
def _floordiv(x, c: int):
    """floor(x / c) for an integer c >= 1, canonical."""
    if c == 1:
        return x
    const, terms = x
    q, r = divmod(const, c)
    whole: dict = {}
    rest: dict = {}
    for m, k in terms:
        if k % c == 0:
            whole[m] = k // c
        else:
            rest[m] = k
    out = _mk(whole, q)
    if not rest:
        return out  # 0 <= r < c: floor(r/c) == 0
    # floor((g*R + r)/(g*c')) == floor((R + floor(r/g))/c') for integer R
    g = c
    for k in rest.values():
        g = gcd(g, k)
    if g > 1:
        rest = {m: k // g for m, k in rest.items()}
        r //= g
        c //= g
    inner = _mk(rest, r)
    if c == 1:
        return _add(out, inner)
    # floor((floor(e/d) + r)/c) == floor((e + r*d)/(d*c))
    if len(inner[1]) == 1 and inner[1][0][1] == 1 and len(inner[1][0][0]) == 1 and inner[1][0][0][0][0] == "f":
        atom = inner[1][0][0][0]
        return _add(out, _floordiv(_add(atom[1], (inner[0] * atom[2], ())), atom[2] * c))
    return _add(out, _atom_lin(("f", inner, c)))


def _diff_bounds(a, b):
    """(lo, hi) bounds of ``a - b`` that hold for every value of the symbols, each
    None when unknown.  Exact when the difference is a constant; also bounds
    ``floor((X + r1)/c) - floor((X + r2)/c) + k``, which is
    ``floor((r1 - r2)/c) + k`` or one more (ceil_mode pools produce such pairs)."""
    d = _add(a, _scale(b, -1))
    if not d[1]:
        return d[0], d[0]
    if len(d[1]) == 2:
        (m1, k1), (m2, k2) = d[1]
        if k1 == -k2 and abs(k1) == 1 and len(m1) == 1 and len(m2) == 1 and m1[0][0] == "f" and m2[0][0] == "f":
            f1, f2 = (m1[0], m2[0]) if k1 == 1 else (m2[0], m1[0])  # d = f1 - f2 + const
            if f1[2] == f2[2]:
                e = _add(f1[1], _scale(f2[1], -1))
                if not e[1]:
                    lo = e[0] // f1[2] + d[0]
                    return lo, lo + 1
    return None, None


def _minmax(kind: str, args):
    flat = []
    for a in args:
        if len(a[1]) == 1 and a[0] == 0 and a[1][0][1] == 1 and len(a[1][0][0]) == 1 and a[1][0][0][0][0] == kind:
            flat.extend(a[1][0][0][0][1])
        else:
            flat.append(a)
    pick = min if kind == "min" else max
    kept = []
    for a in flat:
        for i, b in enumerate(kept):
            lo, hi = _diff_bounds(a, b)
            if kind == "min" and hi is not None and hi <= 0 or kind == "max" and lo is not None and lo >= 0:
                kept[i] = a
                break
            if kind == "min" and lo is not None and lo >= 0 or kind == "max" and hi is not None and hi <= 0:
                break
        else:
            kept.append(a)
    if len(kept) == 1:
        return kept[0]
    if all(not a[1] for a in kept):
        return (pick(a[0] for a in kept), ())
    kept.sort(key=_lin_str)
    return _atom_lin((kind, tuple(kept)))


# -- conversions -------------------------------------------------------------
def _lin(d):
    if isinstance(d, Sym):
        return d.lin
    if isinstance(d, (int,)) and not isinstance(d, bool):
        return (int(d), ())
    if isinstance(d, str):
        return _atom_lin(("s", d))
    raise TypeError(f"not a dim: {d!r}")


def _dim(lin):
    """A Lin as a dim: an int when constant, else a Sym (None when too long)."""
    if not lin[1]:
        return lin[0]
    text = _lin_str(lin)
    if len(text) > MAX_EXPR_CHARS:
        return None
    s = Sym(text)
    s.lin = lin
    return s


def symbol(name: str):
    """A dim that is a named, unknown but fixed size (a model's dim_param, or a fresh
    symbol for a data-dependent size such as NonZero's count).  Never parsed."""
    if isinstance(name, Sym):
        return name
    return _dim(_atom_lin(("s", str(name))))


def is_known(d) -> bool:
    return d is not None


def is_static(d) -> bool:
    return isinstance(d, int)


def is_symbolic(d) -> bool:
    return isinstance(d, str)


# -- arithmetic on dims (None absorbs) ----------------------------------------
def _both_int(a, b):
    return type(a) is int and type(b) is int


def dim_add(a, b):
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return a + b
    return _dim(_add(_lin(a), _lin(b)))


def dim_sub(a, b):
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return a - b
    return _dim(_add(_lin(a), _scale(_lin(b), -1)))


def dim_mul(a, b):
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return a * b
    return _dim(_mul(_lin(a), _lin(b)))


def dim_floordiv(a, c):
    """floor(a / c); ``c`` must be a positive int (else unknown)."""
    if a is None or type(c) is not int or c <= 0:
        return None
    if type(a) is int:
        return a // c
    return _dim(_floordiv(_lin(a), c))


def dim_ceildiv(a, c):
    if a is None or type(c) is not int or c <= 0:
        return None
    if type(a) is int:
        return -((-a) // c)
    return _dim(_floordiv(_add(_lin(a), (c - 1, ())), c))


def dim_exact_div(a, b):
    """``a / b`` when it is exact whatever the symbols are (Reshape's -1 over a
    symbolic total); None otherwise."""
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return a // b if b and a % b == 0 else None
    x, y = _lin(a), _lin(b)
    if not y[1]:
        c = y[0]
        if c == 0 or x[0] % c or any(k % c for _, k in x[1]):
            return None
        return _dim((x[0] // c, tuple((m, k // c) for m, k in x[1])))
    if y[0] != 0 or len(y[1]) != 1:
        return None
    (dm, dk), = y[1]
    if x[0] != 0:
        return None
    pairs = {}
    for m, k in x[1]:
        rest = list(m)
        for atom in dm:
            if atom in rest:
                rest.remove(atom)
            else:
                return None
        if k % dk:
            return None
        pairs[tuple(rest)] = k // dk
    if () in pairs:
        const = pairs.pop(())
    else:
        const = 0
    return _dim(_mk(pairs, const))


def dim_min(a, b):
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return min(a, b)
    return _dim(_minmax("min", (_lin(a), _lin(b))))


def dim_max(a, b):
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return max(a, b)
    return _dim(_minmax("max", (_lin(a), _lin(b))))


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
    start inside the input or the left padding (one window less otherwise, once)."""
    if n is None or pad_begin is None or pad_end is None:
        return None
    out = conv_out(n, k, stride, dilation, pad_begin + pad_end, ceil_mode)
    if not ceil_mode:
        return out
    if isinstance(n, int) and isinstance(out, int):
        if (out - 1) * stride >= n + pad_begin:
            out -= 1
        return out
    # one less when the last window would start at or past n + pad_begin (once, as the
    # runtimes do): min(out, max(limit, out - 1)), limit = floor((n + pad_begin - 1)/stride) + 1
    limit = dim_add(dim_floordiv(dim_add(n, pad_begin - 1), stride), 1)
    return dim_min(out, dim_max(limit, dim_sub(out, 1)))


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


# -- reading expressions -------------------------------------------------------
def _all_lins(d):
    """Every Lin of ``d`` at every level: the top one, those inside floors, min and max."""
    stack = [_lin(d)]
    while stack:
        lin = stack.pop()
        yield lin
        for mono, _ in lin[1]:
            for atom in mono:
                if atom[0] == "f":
                    stack.append(atom[1])
                elif atom[0] != "s":
                    stack.extend(atom[1])


def free_symbols(d) -> set:
    """The symbol names a dim depends on (empty for an int or an unknown dim)."""
    if d is None:
        return set()
    return {atom[1] for lin in _all_lins(d) for mono, _ in lin[1] for atom in mono if atom[0] == "s"}


def _eval_lin(lin, env):
    total = lin[0]
    for mono, k in lin[1]:
        v = k
        for atom in mono:
            v *= _eval_atom(atom, env)
        total += v
    return total


def _eval_atom(atom, env):
    kind = atom[0]
    if kind == "s":
        return env[atom[1]]
    if kind == "f":
        return _eval_lin(atom[1], env) // atom[2]
    vals = [_eval_lin(x, env) for x in atom[1]]
    return min(vals) if kind == "min" else max(vals)


def evaluate(d, bindings: dict):
    """The value of ``d`` with symbols bound (name -> int); None if one is unbound."""
    if d is None or type(d) is int:
        return d
    try:
        return _eval_lin(_lin(d), bindings)
    except KeyError:
        return None


def substitute(d, bindings: dict):
    """``d`` with the bound symbols replaced by their ints (others stay symbolic)."""
    if d is None or type(d) is int:
        return d
    return _dim(_subst_lin(_lin(d), bindings))


def _subst_lin(lin, env):
    out = (lin[0], ())
    for mono, k in lin[1]:
        term = (k, ())
        for atom in mono:
            term = _mul(term, _subst_atom(atom, env))
        out = _add(out, term)
    return out


def _subst_atom(atom, env):
    kind = atom[0]
    if kind == "s":
        v = env.get(atom[1])
        return (int(v), ()) if v is not None else _atom_lin(atom)
    if kind == "f":
        return _floordiv(_subst_lin(atom[1], env), atom[2])
    return _minmax(kind, tuple(_subst_lin(x, env) for x in atom[1]))


def is_nondecreasing(d) -> bool:
    """Whether ``d`` can only grow (or stay) when any of its symbols grows, for
    positive symbol values: every coefficient of every non-constant term, at every
    level, is positive (floor by a positive constant, min and max keep that)."""
    if d is None:
        return False
    if type(d) is int:
        return True
    return all(k >= 0 for lin in _all_lins(d) for _, k in lin[1])
