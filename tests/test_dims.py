"""Symbolic dims: every expression the helpers build must evaluate, at any binding of
its symbols, to what the same computation gives on plain ints; and expressions that
are equal as functions must print the same (canonical form)."""
from __future__ import annotations

import itertools
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.shapes import dims as D

H, W = D.symbol("H"), D.symbol("W")

# One step of a computation: (name, function on dims).  Each works on ints and on
# symbolic dims alike, which is what makes the int run an independent oracle.
UNARY = {
    "add": lambda a, k: D.dim_add(a, k),
    "sub": lambda a, k: D.dim_sub(a, k),
    "mul": lambda a, k: D.dim_mul(a, k),
    "floordiv": lambda a, k: D.dim_floordiv(a, k),
    "ceildiv": lambda a, k: D.dim_ceildiv(a, k),
}
BINARY = {
    "add": D.dim_add,
    "sub": D.dim_sub,
    "mul": D.dim_mul,
    "min": D.dim_min,
    "max": D.dim_max,
}


def leaf():
    return st.sampled_from(["H", "W", 0, 1, 2, 3, 7])


def tree():
    return st.recursive(
        leaf(),
        lambda sub: st.one_of(
            st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), sub, st.integers(1, 5)),
            st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), sub, sub),
            st.tuples(st.just("conv"), sub, st.integers(1, 4), st.integers(1, 3), st.integers(1, 4), st.integers(0, 6)),
        ),
        max_leaves=8,
    )


def build(t, env):
    """Evaluate tree ``t`` where leaves "H"/"W" are ``env[...]`` (ints or symbols)."""
    if isinstance(t, str):
        return env[t]
    if isinstance(t, int):
        return t
    if t[0] == "conv":
        _, x, k, s, d, p = t
        return D.conv_out(build(x, env), k, s, d, p)
    if t[0] == "u":
        return UNARY[t[1]](build(t[2], env), t[3])
    return BINARY[t[1]](build(t[2], env), build(t[3], env))


@settings(max_examples=600, deadline=None)
@given(tree(), st.integers(1, 60), st.integers(1, 60))
def test_symbolic_equals_integer_evaluation(t, h, w):
    sym = build(t, {"H": H, "W": W})
    concrete = build(t, {"H": h, "W": w})
    if sym is None:  # only when the text grew beyond MAX_EXPR_CHARS
        return
    assert D.evaluate(sym, {"H": h, "W": w}) == concrete, (t, sym)
    # substituting one symbol, then the other, lands on the same value
    part = D.substitute(sym, {"H": h})
    assert "H" not in D.free_symbols(part)
    assert D.evaluate(part, {"W": w}) == concrete


@settings(max_examples=300, deadline=None)
@given(tree())
def test_text_is_canonical_under_substitution_round_trip(t):
    """Building the same computation twice gives the same text; a Sym survives pickling
    as its text."""
    a = build(t, {"H": H, "W": W})
    b = build(t, {"H": D.symbol("H"), "W": D.symbol("W")})
    assert a == b and hash(a) == hash(b)
    if isinstance(a, str):
        assert pickle.loads(pickle.dumps(a)) == str(a)


def test_equal_sizes_reached_differently_compare_equal():
    # floor((H - 1)/2) + 1 twice down a network stays exact
    once = D.conv_out(H, 3, 2, 1, 2)
    assert once == D.conv_out(D.symbol("H"), 3, 2, 1, 2)
    assert D.conv_out(once, 3, 2, 1, 2) == D.dim_floordiv(D.dim_add(H, 3), 4)
    # ceil(H/2) three ways
    assert D.dim_ceildiv(H, 2) == D.conv_out(H, 2, 2, 1, 1) == D.dim_floordiv(D.dim_add(H, 1), 2)
    # two halvings are one quartering; like terms collect; x - x is 0
    assert D.dim_floordiv(D.dim_floordiv(H, 2), 2) == D.dim_floordiv(H, 4)
    assert D.dim_add(D.dim_mul(H, 2), D.dim_mul(H, 3)) == D.dim_mul(5, H)
    assert D.dim_sub(D.dim_add(H, W), D.dim_add(W, H)) == 0
    assert D.dim_mul(D.dim_add(H, 1), W) == D.dim_add(D.dim_mul(W, H), W)
    # min/max of sizes differing by a constant pick one; commutative
    assert D.dim_min(H, D.dim_add(H, 2)) == H
    assert D.dim_max(H, D.dim_add(H, 2)) == D.dim_add(H, 2)
    assert D.dim_min(H, W) == D.dim_min(W, H)
    # stride-1 same conv keeps the size
    assert D.conv_out(H, 3, 1, 1, 2) == H


def test_printing_reads_like_the_formula():
    assert str(D.conv_out(W, 3, 2, 1, 2)) == "floor((W + 1)/2)"
    assert str(D.dim_add(D.dim_mul(H, 2), 3)) == "2*H + 3"
    assert str(D.dim_sub(H, D.dim_mul(W, 2))) == "H - 2*W"
    assert str(D.dim_min(W, H)) == "min(H, W)"
    assert str(D.dim_floordiv(H, 8)) == "floor(H/8)"


def test_exact_division():
    hw = D.dim_mul(H, W)
    assert D.dim_exact_div(D.dim_mul(hw, 64), hw) == 64
    assert D.dim_exact_div(D.dim_mul(H, 6), 3) == D.dim_mul(H, 2)
    assert D.dim_exact_div(D.dim_mul(H, 6), 4) is None
    assert D.dim_exact_div(D.dim_mul(D.dim_mul(H, W), 3), W) == D.dim_mul(H, 3)
    assert D.dim_exact_div(D.dim_add(H, 1), H) is None


@pytest.mark.parametrize("k,s,d,pb,pe", list(itertools.product([1, 2, 3], [1, 2, 3], [1, 2], [0, 1, 2], [0, 1, 3])))
def test_ceil_mode_pool_matches_integer_rule(k, s, d, pb, pe):
    sym = D.pool_out(H, k, s, d, pb, pe, ceil_mode=True)
    for n in range(1, 50):
        if n + pb + pe < (k - 1) * d + 1:
            continue
        assert D.evaluate(sym, {"H": n}) == D.pool_out(n, k, s, d, pb, pe, ceil_mode=True), (n, sym)


def test_monotonicity_and_free_symbols():
    c = D.conv_out(D.conv_out(H, 3, 2, 1, 2), 3, 2, 1, 2)
    assert D.is_nondecreasing(c)
    assert not D.is_nondecreasing(D.dim_sub(W, H))
    assert D.free_symbols(D.dim_min(c, W)) == {"H", "W"}
    assert D.evaluate(c, {"W": 3}) is None


def test_opaque_symbol_names_are_not_parsed():
    odd = D.symbol("2*H")
    assert D.free_symbols(odd) == {"2*H"}
    assert D.evaluate(D.dim_add(odd, 1), {"2*H": 10}) == 11
