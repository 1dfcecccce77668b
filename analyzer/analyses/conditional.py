"""Dead taps that depend on the input size: thresholds in the model's own input dims.

When a conv's input map has a symbolic size (``floor((H + 7)/8)`` for a map at
output stride 8 of an input of height ``H``), whether a tap is dead depends on
``H``.  Two facts make the answer a threshold:

* along one axis, a tap live on a map of size ``n`` is live on any larger map
  (the output positions and the in-bounds reads only grow with ``n``);
* the map's size is a non-decreasing function of the input dim
  (``analyzer.shapes.dims.is_nondecreasing`` checks the expression).

So each tap of each axis has a largest input-dim value at which it is dead, found
by bisection over the input dim, evaluating the size formula and the tap geometry
at concrete sizes: the chain of size formulas is inverted numerically, exactly,
for any chain the engine expresses (strides, pads, ceil_mode, Pad, Resize by
integer scales...).  Nothing is approximated: every threshold is a value at which
the geometry was evaluated, dead there and live one above.

Every padded conv loses taps on a small enough map (a 3x3 "same" conv on a 1x1
map keeps only its centre): thresholds at which the map is smaller than the kernel
itself (its tap count on that axis) are expected and not reported.  A tap dead on
a map at least as large as the kernel -- dilation or large padding -- is waste
at realistic sizes, and is reported.

A zero Pad whose pads are size expressions (TF-"same" padding computed at run time
from the map's size, ``ConvSetup.sym_fold``) is evaluated at every probed size
(:func:`at_sizes`).  The bisection then also relies on liveness growing with the
size: for "same" padding, ``begin = floor(pad/2)`` with ``pad = (ceil(n/s) - 1)*s +
extent - n``, both ``n - 1 + begin`` and ``(ceil(n/s) - 1)*s - begin`` never decrease
as ``n`` grows, so a tap live at ``n`` stays live.

A *scenario* bounds some of the conv's symbols (``H <= 288``), the others free;
its dead taps are the geometry at the thresholds for the bounded symbols and at
sizes where every tap of the free ones is live.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import combinations

from analyzer.analyses.convs import ConvSetup, ConvTaps, NotChecked, _charge_taps, conv_setup, conv_taps_at, taps_at
from analyzer.geometry import GeometryError
from analyzer.graph.build import MAIN
from analyzer.shapes.dims import evaluate, free_symbols, is_nondecreasing

__all__ = ["Clause", "Scenario", "ConditionalTaps", "conditional_taps", "symbol_origins", "MAX_INPUT_DIM"]

# Input dims are searched up to this; a tap still dead there is dead for every size.
MAX_INPUT_DIM = 1 << 31
# Conditional analysis is for ordinary kernels; a declared huge one is not bisected.
MAX_CONDITIONAL_KERNEL = 256


@dataclass(frozen=True)
class Clause:
    symbol: str
    value: int  # the clause is  symbol <= value
    input: str  # the graph input and axis the symbol is a dim of
    axis: int

    def as_json(self) -> dict:
        return {"input": self.input, "axis": self.axis, "op": "<=", "value": self.value, "symbol": self.symbol}


@dataclass
class Scenario:
    clauses: tuple  # of Clause, all must hold
    taps: ConvTaps  # the geometry at the threshold sizes (dead taps = dead under the clauses)


@dataclass
class ConditionalTaps:
    setup: ConvSetup
    always: ConvTaps | None  # taps dead whatever the symbols are (None: none)
    scenarios: list = field(default_factory=list)
    levels: dict = field(default_factory=dict)  # symbol -> sorted thresholds at which more taps die


def symbol_origins(model) -> dict:
    """symbol name -> (graph input name, axis) where it first appears as a whole dim."""
    memo = model.graph.memo
    if "symbol_origins" in memo:
        return memo["symbol_origins"]
    out: dict = {}
    g = model.graph
    for key in g.subgraphs[MAIN].input_keys:
        attrs = g.nx.nodes[key]
        if attrs.get("role") != "input":
            continue
        shape = model.shape(key)
        for axis, d in enumerate(shape or ()):
            if isinstance(d, str) and free_symbols(d) == {str(d)}:
                out.setdefault(str(d), (attrs["name"], axis))
    memo["symbol_origins"] = out
    return out


def conditional_taps(model, op) -> ConditionalTaps:
    """Thresholds of ``op``'s taps in its input's symbols; NotChecked when the size is
    not a non-decreasing function of one symbol per axis, or the geometry cannot be
    evaluated."""
    st = conv_setup(model, op)
    if any(k > MAX_CONDITIONAL_KERNEL for k in st.kernel):
        raise NotChecked("kernel too large for the conditional analysis")
    # each tap of each axis costs a bisection of ~32 geometry evaluations of O(kernel):
    # charged to the model's tap budget, so a hostile file of many such convs stays bounded
    _charge_taps(model, [32 * k * k for k in st.kernel])
    axis_symbol: dict[int, str] = {}
    for ax, d in enumerate(st.spatial):
        if isinstance(d, int):
            continue
        syms = free_symbols(d)
        if len(syms) != 1:
            raise NotChecked(f"input size {d} depends on {len(syms)} symbols")
        if not is_nondecreasing(d):
            raise NotChecked(f"input size {d} does not grow with its symbol")
        axis_symbol[ax] = next(iter(syms))
    if not axis_symbol:
        raise NotChecked("input size is static")
    if st.sym_fold is not None:
        # pads computed from the input size: each axis's pads may depend on that axis's
        # symbol only (then the probes below evaluate them with the map's size)
        for ax, (b, e) in enumerate(st.sym_fold):
            extra = (free_symbols(b) | free_symbols(e)) - ({axis_symbol[ax]} if ax in axis_symbol else set())
            if extra:
                raise NotChecked(f"pads of axis {ax} depend on {sorted(extra)[0]}, not on the axis's own size")
    symbols = sorted(set(axis_symbol.values()))
    origins = symbol_origins(model)
    stray = [s for s in symbols if s not in origins]
    if stray:  # a data-dependent size, or onnx's anonymous unk__N: no input dim to state a condition in
        raise NotChecked(f"input size depends on {stray[0]}, which is not a dim of a graph input")
    probe = _Probe(st, axis_symbol)

    thresholds: dict[str, list] = {}  # symbol -> per (axis, tap) largest dead value (or None), as reported
    all_live: dict[str, int] = {}  # symbol -> a value at which every tap not always dead is live
    for sym in symbols:
        lo = probe.smallest_valid(sym)
        per = []
        for ax in (a for a, s in axis_symbol.items() if s == sym):
            for j in range(st.kernel[ax]):
                t = probe.last_dead(sym, ax, j, lo)
                if t is not None and t < MAX_INPUT_DIM:
                    all_live[sym] = max(all_live.get(sym, lo), t + 1)
                    if evaluate(st.spatial[ax], {sym: t}) < st.kernel[ax]:
                        t = None  # dead only on maps smaller than the kernel itself: expected, not reported
                per.append(t)
        all_live.setdefault(sym, lo)
        thresholds[sym] = per

    def env_for(bounds: dict):
        # bounded symbols at their threshold, free ones where all their taps live
        return {sym: bounds.get(sym, all_live[sym]) for sym in symbols}

    always = conv_taps_at(at_sizes(st, env_for({})), probe.spatial(env_for({})))
    if not always.taps.has_dead:
        always = None
    levels = {sym: sorted({t for t in ts if t is not None and t < MAX_INPUT_DIM}) for sym, ts in thresholds.items()}
    scenarios = []
    loosest = {sym: lv[-1] for sym, lv in levels.items() if lv}
    bounded_symbols = sorted(loosest)
    for r in range(1, len(bounded_symbols) + 1):
        for chosen in combinations(bounded_symbols, r):
            bounds = {s: loosest[s] for s in chosen}
            taps = conv_taps_at(at_sizes(st, env_for(bounds)), probe.spatial(env_for(bounds)))
            clauses = tuple(Clause(s, loosest[s], *origins[s]) for s in chosen)
            scenarios.append(Scenario(clauses, taps))
    return ConditionalTaps(st, always, scenarios, levels)


def at_sizes(st: ConvSetup, env: dict) -> ConvSetup:
    """``st`` with pads computed from the input size (``sym_fold``) evaluated at the
    symbol values ``env``: a plain setup with a folded Pad.  GeometryError when a pad is
    negative there (no runtime pads by a negative amount)."""
    if st.sym_fold is None:
        return st
    fold = []
    for b, e in st.sym_fold:
        vb, ve = evaluate(b, env), evaluate(e, env)
        if vb is None or ve is None:
            raise NotChecked(f"pads {b}, {e} cannot be evaluated")
        if vb < 0 or ve < 0:
            raise GeometryError(f"negative pads {vb}, {ve}")
        fold.append((vb, ve))
    return replace(st, fold=fold, sym_fold=None)


class _Probe:
    """Per-axis tap liveness of one conv at concrete values of one symbol."""

    def __init__(self, st: ConvSetup, axis_symbol: dict):
        self.st = st
        self.axis_symbol = axis_symbol
        self._live: dict = {}

    def spatial(self, env: dict):
        out = []
        for d in self.st.spatial:
            v = d if isinstance(d, int) else evaluate(d, env)
            if v is None:
                raise NotChecked(f"input size {d} cannot be evaluated")
            out.append(v)
        return tuple(out)

    def _env(self, sym, value):
        # the other symbols at a size where the conv is surely valid: their axes do
        # not change this axis's liveness (axes are independent)
        return {s: (value if s == sym else MAX_INPUT_DIM >> 8) for s in set(self.axis_symbol.values())}

    def live(self, sym, value):
        """Live taps per axis (tuple of tuples) with ``sym = value``, None if invalid."""
        key = (sym, value)
        if key not in self._live:
            try:
                env = self._env(sym, value)
                taps, _, _ = taps_at(at_sizes(self.st, env), self.spatial(env))
                self._live[key] = tuple(a.live for a in taps.axes)
            except GeometryError:
                self._live[key] = None
        return self._live[key]

    def smallest_valid(self, sym) -> int:
        if self.live(sym, MAX_INPUT_DIM) is None:
            raise NotChecked(f"no size of {sym} gives a valid conv")
        if self.live(sym, 1) is not None:
            return 1
        return _last_true(lambda v: self.live(sym, v) is None, 1, MAX_INPUT_DIM) + 1

    def _dead(self, sym, ax, j, value) -> bool:
        return j not in self.live(sym, value)[ax]

    def last_dead(self, sym, ax, j, lo):
        """Largest value of ``sym`` at which tap ``j`` of axis ``ax`` is dead; None if it
        is live at the smallest valid size; MAX_INPUT_DIM if dead at every size."""
        if not self._dead(sym, ax, j, lo):
            return None
        if self._dead(sym, ax, j, MAX_INPUT_DIM):
            return MAX_INPUT_DIM
        return _last_true(lambda v: self._dead(sym, ax, j, v), lo, MAX_INPUT_DIM)


def _last_true(pred, a: int, b: int) -> int:
    """The largest v in [a, b) with pred(v), for a predicate true at ``a``, false at ``b``
    and monotone (true, then false) in between."""
    while b - a > 1:
        mid = (a + b) // 2
        if pred(mid):
            a = mid
        else:
            b = mid
    return a
