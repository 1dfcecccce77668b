"""CV001 not-checked: part of the model was not checked (an unknown operator, a conv of unknown size, a stale suppression).

## What it does
Reports, as findings, what this run could not check, so that "0 findings" can be
trusted: one finding per coverage record (see ``analyzer.graph.coverage``):

* ``unknown-op``: an operator neither onnxlint nor onnx knows, e.g. a
  ``com.microsoft`` contrib op such as ``Gelu`` or ``FusedConv``, or a custom
  domain.  Its outputs, and every shape computed from them, are unknown; one
  finding per operator type, at its first node (``details.count`` nodes in all).
* ``unchecked-conv`` (recorded by the dead-tap rule): a conv whose input rank or
  size is unknown (typically after an unknown operator), whose weight shape is
  unknown, or whose attributes are out of range; ``details.reason`` says which.
* ``shape-error`` / ``shape-function-failed``: a node whose output shapes could not
  be computed (its inputs contradict the operator's definition, or a shape function
  of ours failed).
* ``onnx-fallback-failed``: onnx's own shape inference, used for operators we have
  no shape function for, crashed or ran out of time or memory.
* ``skipped-subgraph``: a control-flow body or function call not analyzed (nested
  deeper than 64 levels, a recursive function, the expansion budget spent).
* ``stale-suppression``: an ``onnxlint:ignore`` entry in the model's metadata, for
  a rule that ran, that matched no finding.

Not reported: a conv whose input size is *symbolic* (a dynamic-size export): that
is a fact about the model, and the dead-tap rule reports it conditionally
("when H is at most 288, ...").  Nor the notes about what the file declares.

Findings are at severity ``info`` at the node (or, for a file-wide record, at
``<model>``); ``details`` holds ``kind``, ``reason``, ``count``, ``source`` (who
recorded it: ``shapes``, ``linter`` or a rule's code) and ``domain``.

## Why is this bad?
A linter that skips what it does not understand and then prints "0 findings" and
exits 0 tells a CI pipeline that a model is clean when part of it was never looked
at.  onnxruntime runs a ``com.microsoft`` ``Gelu`` (its contrib operators are
registered by the CPU execution provider), so such a model is perfectly valid; but
onnxlint cannot propagate shapes through it, and a conv after it is not checked
for dead taps at all.  Every output format says what was not checked (a line per
file and a count in the text summary, ``::notice`` in GitHub format, SARIF
``toolExecutionNotifications``, a block in HTML) whether or not this rule is
selected; this rule makes it *fail* a run.

**The case for selecting it in CI**: a gate is only as strong as its coverage.
When a model zoo gains a new contrib operator, an exporter update changes a
pattern onnxlint has no shape function for, or a suppression outlives the problem
it hid, the ordinary gate goes quietly green.  A coverage gate turns that into a
red build that someone looks at::

    onnxlint check models/ --fail-on warning                # the ordinary gate
    onnxlint check models/ --select CV001 --fail-on info    # the coverage gate

The second run reports what analysis itself could not follow (unknown operators,
shape failures, skipped subgraphs) and stale suppressions of the rules it ran.
What a rule could not check is known only when that rule runs, so gate on it
together with the rules you rely on, e.g. ``--select DT001,CV001 --fail-on info``
(this also fails on the dead-tap rule's conditional, ``info``, findings).

## Example
```
g = com.microsoft.Gelu(x)            # unknown to onnxlint: shapes stop here
y = Conv(g, W[4, 3, 3, 3], pads=1)   # never checked for dead taps
```
``onnxlint check m.onnx`` prints::

    m.onnx:g1: CV001 [info] not checked: operator 'com.microsoft.Gelu' is unknown; the outputs of 'g1' are not analyzed
    m.onnx:conv1: CV001 [info] not checked: Conv 'conv1' not checked for dead taps: input rank unknown
    1 file checked, 2 findings (CV001: 2), 0 dead weights, 2 not checked

## How to fix
* An unknown operator: give the model's inputs fixed sizes with ``--input-shape``
  where that helps, replace the contrib op by its standard equivalent (opset 20
  ``Gelu``, or ``Erf``-based arithmetic; onnxruntime's optimizer fuses it back at
  load time), or lint the model before the contrib-op fusion step.  If it stays,
  suppress the finding at that node (``onnxlint suppress m.onnx CV001@g1``) to say
  you know; the text line and the summary count still show it.
* A conv not checked: see its ``reason``; most follow an unknown operator.
* A stale suppression: remove the entry from the model's ``onnxlint:ignore``
  metadata.  (Findings for stale entries are made after suppressions apply, so a
  suppression cannot hide them; ``--ignore CV001`` or per-path-ignores can.)

## Details
``kind``, ``reason``, ``count``, ``source``, ``domain``, and ``unchecked`` (the
record's key, by which the formats know that this finding reports that record and
do not show it twice).
"""
from __future__ import annotations

CODE = "CV001"
NAME = "not-checked"
SEVERITY = "info"

_MODEL = "<model>"


def check(model, options=None):
    """Nothing here: what was not checked is known only after every rule's ``check``
    (rules record their own gaps), so the findings come from ``check_unchecked``."""
    return ()


def check_unchecked(model, records, options=None):
    """The coverage hook (``analyzer.linter.registry``, "Optional hooks"): one finding
    per record, at its node, or at ``<graph>`` of a graph, or at ``<model>``."""
    from analyzer.findings import UNCHECKED_DETAIL, Finding

    for r in records:
        node = r.node if r.node else ("<graph>" if r.graph else _MODEL)
        yield Finding(
            rule=CODE,
            name=NAME,
            severity=SEVERITY,
            node=node,
            node_index=r.node_index,
            graph=r.graph or "main",
            op_type=r.op_type,
            message=r.message if r.kind == "stale-suppression" else f"not checked: {r.message}",
            details={
                "kind": r.kind,
                "reason": r.reason,
                "count": r.count,
                "source": r.source,
                "domain": r.domain,
                UNCHECKED_DETAIL: r.key,
            },
        )
