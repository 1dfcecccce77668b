"""DT002 collapsed-multiscale-branches: parallel convs whose "scales" collapse to one kernel.

Parallel convs meant to see different scales compute the same kind of function
once their dead taps are removed.

## What it does
Groups the convs that read the same tensor (a zero ``Pad`` in front counts as
padding, as in DT001).  When two or more of them differ in kernel size, dilation
or padding (a multi-scale or pyramid design) but their effective kernels, with
dead taps removed, are identical in shape, dilation, padding, stride and group,
it reports one finding for the group.

## Why is this bad?
The design promises several receptive fields; the model has one.  In DRLN's
attention, the three branches with dilation 3, 5 and 7 that the paper presents as
a Laplacian pyramid all reduce to a 1x1 conv on the pooled 1x1 map: three copies
of the same kind of function, trained separately, costing three times the
parameters of one.

## Example
```
y  = GlobalAveragePool(x)                          # 1x1 map
c1 = Conv(y, dilations=[3, 3], pads=[3, 3, 3, 3])  # effective 1x1
c2 = Conv(y, dilations=[5, 5], pads=[5, 5, 5, 5])  # effective 1x1
c3 = Conv(y, dilations=[7, 7], pads=[7, 7, 7, 7])  # effective 1x1
```

## How to fix
Replace the branches by one conv with their effective kernel and the sum of their
output channels (DRLN: three 64->4 branches become one 64->12 1x1 conv feeding the
Concat), or give each branch an input on which its scale exists.

## Waste
Zero weights, bytes and MACs: the merged conv has the branches' (already shrunk) weights
side by side, so the merge removes nothing by itself; the dead taps that make the branches
equal are DT001's findings and waste.  What it saves is launches: one conv and one
activation instead of N of each, and the Concat.

## Details
``input`` (the tensor all branches read), ``input_spatial_shape``, ``branches`` (a list of
``{"node", "kernel_shape", "dilations", "pads", "out_channels"}``),
``effective_kernel_shape``, ``effective_dilations``, ``effective_pads``,
``strides``, ``group``, ``merged_out_channels``, ``concat`` (the Concat node all
branches feed, directly or through one elementwise activation, if any).
"""
from __future__ import annotations

import re

from analyzer.analyses.convs import conv_taps, NotChecked, conv_ops
from analyzer.findings import Finding

CODE = "DT002"
NAME = "collapsed-multiscale-branches"
SEVERITY = "warning"
# Its fix merges branches once their dead taps are gone: ``verify`` fixes DT001 first.
FIX_NEEDS = ("DT001",)
OPTIONS: dict = {}

_PASS_THROUGH = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "PRelu", "Clip", "Elu", "Selu", "HardSigmoid", "HardSwish", "Gelu", "Identity"}


def check(model, options=None):
    from analyzer.analyses.convs import CONV_KINDS
    from rules._waste_graph import op_types

    if op_types(model).isdisjoint([t for _, t in CONV_KINDS]):
        return  # no conv op in the model: no pass over the nodes to list them
    by_input: dict = {}
    for op in conv_ops(model):
        try:
            ct = conv_taps(model, op)
        except NotChecked:
            continue
        if ct.taps.live_count == 0:
            continue
        by_input.setdefault(ct.input_key, []).append(ct)
    for input_key, convs in by_input.items():
        if len(convs) < 2:
            continue
        groups: dict = {}
        for ct in convs:
            t = ct.taps
            eff = (
                ct.op.op_type,
                t.effective_kernel_shape,
                t.effective_dilations,
                t.effective_pads,
                ct.strides,
                ct.group,
                ct.weight_shape[1],
            )
            groups.setdefault(eff, []).append(ct)
        for eff, members in groups.items():
            configs = {(m.kernel_shape, m.dilations, m.pads_begin + m.pads_end) for m in members}
            if len(members) < 2 or len(configs) < 2:
                continue  # a plain repeat of one config is not a collapsed multi-scale design
            yield _finding(model, input_key, eff, members)


_DIGIT_RUNS = re.compile(r"(\d+)")


def _natural(s: str):
    """Sort key that puts conv_9 before conv_10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in _DIGIT_RUNS.split(s)]


def _branch_order(members):
    """``members`` by graph, then name (naturally), then output tensor names.  The
    output names are only looked at when two branches tie on graph and name: otherwise
    the first two parts decide, and the order is the same."""
    keys = [(m.op.graph, _natural(m.op.name)) for m in members]
    order = sorted(range(len(members)), key=keys.__getitem__)
    if all(keys[i] != keys[j] for i, j in zip(order, order[1:])):
        return [members[i] for i in order]
    return sorted(members, key=lambda m: (m.op.graph, _natural(m.op.name), [_natural(k[2]) for k in m.op.outputs if k]))


def _feeds(model, op):
    """The op that consumes ``op``'s output, looking through one activation."""
    out = op.outputs[0] if op.outputs else None
    if out is None:
        return None
    users = model.graph.consumers(out)
    if len(users) != 1:
        return None
    user = users[0][0]
    if user.op_type in _PASS_THROUGH and user.outputs and user.outputs[0] is not None:
        nxt = model.graph.consumers(user.outputs[0])
        if len(nxt) == 1:
            return nxt[0][0]
    return user


def _finding(model, input_key, eff, members) -> Finding:
    # Order branches by name (or output tensor names), not by position in the file:
    # the reported node, and so the finding's fingerprint, must not change when an
    # exporter writes the same nodes in another order.
    members = _branch_order(members)
    first = members[0]
    t = first.taps
    users = [_feeds(model, m.op) for m in members]
    concat = None
    if all(u is not None and u.key == users[0].key for u in users) and users[0].op_type == "Concat":
        concat = users[0].id
    branches = [
        {
            "node": m.op.id,
            "kernel_shape": list(m.kernel_shape),
            "dilations": list(m.dilations),
            "pads": list(m.pads_begin + m.pads_end),
            "out_channels": int(m.weight_shape[0]) * (m.group if m.transpose else 1),
        }
        for m in members
    ]
    eff_k = "x".join(str(k) for k in t.effective_kernel_shape)
    desc = ", ".join(f"{b['node']!r} (dilation {'x'.join(map(str, b['dilations']))})" for b in branches)
    message = (
        f"{len(members)} parallel convs on {input_key[2]!r} differ in kernel/dilation/padding but all reduce to "
        f"the same {eff_k} kernel once dead taps are removed: {desc}"
    )
    details = {
        "input": input_key[2],
        "input_spatial_shape": list(first.input_spatial),
        "branches": branches,
        "effective_kernel_shape": list(t.effective_kernel_shape),
        "effective_dilations": list(t.effective_dilations),
        "effective_pads": list(t.effective_pads),
        "strides": list(first.strides),
        "group": first.group,
        "merged_out_channels": sum(b["out_channels"] for b in branches),
        "concat": concat,
    }
    return Finding(
        rule=CODE,
        name=NAME,
        severity=SEVERITY,
        node=first.op.id,
        node_index=first.op.index,
        graph=first.op.graph,
        op_type=first.op.op_type,
        message=message,
        details=details,
        related=[{"node": m.op.id, "op_type": m.op.op_type} for m in members[1:]],
        # merging the branches changes no parameter count and no MACs: their dead taps are
        # DT001's waste (counted there once); what the merge saves is kernel launches
        waste={"weights": 0, "bytes": 0, "macs": 0},
    )


# --------------------------------------------------------------------------- HTML report hook


def html_section(findings, all_findings, page):
    """This rule's part of a file in the HTML report (``analyzer.render.section``)."""
    from .html import html_section as section

    return section(findings, all_findings, page)


# --------------------------------------------------------------------------- fix hook


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: merge each finding's branches into one conv (``.fix``); runs after
    DT001's fix, whose rewritten convs it merges."""
    from .fix import fix_findings as fix

    fix(rewriter, findings)
