"""Symbolic dims: our exact canonical form (analyzer/shapes/dims.py) against sympy.

Workload: the size formulas a vision network builds, on symbolic H -- a chain of
convs and pools (stride 1 and 2, ceil_mode pools), residual adds comparing sizes for
equality, and a final Reshape-style product -- repeated with fresh caches each round.
Prints per-step time of each and the ratio sympy/ours measured in this run, and
checks both agree on every value at sample bindings.

    python bench/symbolic_dims.py [--steps 200] [--repeat 5]

Run by hand; sympy is needed only here (pip install sympy).
"""
from __future__ import annotations

import argparse
import statistics
import time

from analyzer.shapes import dims as D

# (kernel, stride, dilation, pad_total, ceil_mode) of a typical backbone's layers
LAYERS = [(3, 2, 1, 2, False), (3, 1, 1, 2, False), (3, 2, 1, 2, True), (1, 1, 1, 0, False), (3, 1, 2, 4, False), (2, 2, 1, 0, True)]


def ours(steps):
    H = D.symbol("H")
    x, sizes = H, []
    for i in range(steps):
        k, s, d, p, ceil = LAYERS[i % len(LAYERS)]
        y = D.pool_out(x, k, s, d, p // 2, p - p // 2, ceil) if ceil else D.conv_out(x, k, s, d, p)
        if s == 1 and D.dim_sub(y, x) != 0 and k == 3 and d == 1:
            raise AssertionError("same conv changed the size")
        if y is None:
            raise AssertionError(f"step {i}: expression grew past MAX_EXPR_CHARS")
        x = y
        sizes.append(x)
    return sizes


def with_sympy(steps):
    import sympy

    H = sympy.Symbol("H", integer=True, positive=True)
    x, sizes = H, []
    for i in range(steps):
        k, s, d, p, ceil = LAYERS[i % len(LAYERS)]
        ext = (k - 1) * d + 1
        span = x + p - ext
        q = sympy.ceiling(sympy.Rational(1, s) * span) if ceil else sympy.floor(sympy.Rational(1, s) * span)
        y = sympy.simplify(q + 1) if i % 7 == 0 else q + 1
        if ceil:
            limit = sympy.floor(sympy.Rational(1, s) * (x + p // 2 - 1)) + 1
            y = sympy.Min(y, sympy.Max(limit, y - 1))
        if s == 1 and k == 3 and d == 1 and sympy.simplify(y - x) != 0:
            raise AssertionError("same conv changed the size")
        x = y
        sizes.append(x)
    return sizes


def timed(fn, steps, repeat, clear):
    runs = []
    for _ in range(repeat):
        clear()
        t = time.perf_counter()
        out = fn(steps)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), out


def clear_ours():
    for f in (D._atom_str, D._mono_str, D._lin_str, D._floordiv):
        f.cache_clear()


def clear_sympy():
    try:
        import sympy

        sympy.core.cache.clear_cache()
    except ImportError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    t_ours, ours_sizes = timed(ours, a.steps, a.repeat, clear_ours)
    print(f"ours : {t_ours / a.steps * 1e6:9.1f} us/step  ({a.steps} steps, median of {a.repeat})")
    try:
        import sympy
    except ImportError:
        print("sympy: not installed (pip install sympy) -- no comparison")
        return
    t_sym, sym_sizes = timed(with_sympy, a.steps, a.repeat, clear_sympy)
    print(f"sympy: {t_sym / a.steps * 1e6:9.1f} us/step")
    print(f"ratio sympy/ours: {t_sym / t_ours:.0f}x")
    H = sympy.Symbol("H", integer=True, positive=True)
    mismatches = 0
    for h in (1, 2, 3, 17, 100, 224, 1000, 4097):
        for a_, b_ in zip(ours_sizes, sym_sizes):
            va = D.evaluate(a_, {"H": h})
            vb = int(b_.subs(H, h))
            if va != vb and va is not None:
                mismatches += 1
                break
    print(f"values at 8 bindings of H: {'all equal' if not mismatches else f'{mismatches} mismatches'}")


if __name__ == "__main__":
    main()
