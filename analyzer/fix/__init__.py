"""The toolkit that the rules' fixes and execution checks are written with; it names no rule.

* :mod:`analyzer.fix.rewrite`: the :class:`~analyzer.fix.rewrite.Rewriter` a rule's
  ``fix_findings(rewriter, findings)`` edits a model through, ``count_params``;
* :mod:`analyzer.fix.records`: ``Change`` / ``RewriteResult`` / ``Refused``;
* :mod:`analyzer.fix.convs`: conv nodes as rewrites see them (``ConvState``);
* :mod:`analyzer.fix.write`: writing the model out (checked, atomic, external data kept);
* :mod:`analyzer.fix.feeds`, :mod:`analyzer.fix.compare`: inputs and output comparison;
* :mod:`analyzer.fix.runtime`: onnxruntime sessions, ``compare_models``, ``bench`` and the
  ``Harness`` a rule's ``verify_findings(findings, model, harness)`` runs through (the only
  module here that imports onnxruntime, inside functions).
"""
