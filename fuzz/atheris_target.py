"""Coverage-guided fuzzing of onnxlint's reader and analysis with atheris (libFuzzer).

Optional: the test suite never imports this (``tests/test_fuzz.py`` is the
deterministic, hypothesis-driven counterpart that CI runs).  To fuzz for hours::

    pip install atheris
    mkdir -p fuzz/corpus && cp sample_models/*.onnx fuzz/corpus/     # seeds
    python fuzz/atheris_target.py fuzz/corpus -max_len=262144 -timeout=60 -rss_limit_mb=4096 -jobs=4

Any input that breaks the contract is written by libFuzzer as ``crash-<sha1>``;
replay one without atheris installed::

    python fuzz/atheris_target.py crash-0123abcd...

The contract checked on every input (the same as ``onnxlint check``'s):

* ``lint_file`` returns a result and raises nothing;
* an error has a documented kind (``analyzer.io.load.ERROR_KINDS``), never
  ``internal`` (that is a bug of ours), and a one-line message;
* notes are one line each, and the result renders as JSON.

Each input is written to one temporary file (external-data references resolve
against its folder, which holds nothing else).  onnx's own shape inference, the
fallback for ops without a shape function of ours, runs in a forked child on
Linux; libFuzzer is fine with that.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import atheris
except ImportError:  # replay mode only
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        import analyzer.graph.build  # noqa: F401
        import analyzer.io.load  # noqa: F401
        import analyzer.io.protoscan  # noqa: F401
        import analyzer.shapes  # noqa: F401
        from analyzer.io.load import ERROR_KINDS
        from analyzer.linter.runner import lint_file
        from analyzer.linter.registry import select_rules
else:
    from analyzer.io.load import ERROR_KINDS
    from analyzer.linter.runner import lint_file
    from analyzer.linter.registry import select_rules

RULES = select_rules(None, None)
_FOLDER = tempfile.mkdtemp(prefix="onnxlint-atheris-")
_PATH = os.path.join(_FOLDER, "model.onnx")


def TestOneInput(data: bytes) -> None:  # noqa: N802  (libFuzzer's name)
    with open(_PATH, "wb") as f:
        f.write(data)
    result = lint_file(_PATH, RULES)
    assert result.status in ("ok", "error"), result.status
    if result.status == "error":
        kind, message = result.error["kind"], result.error["message"]
        assert kind in ERROR_KINDS, kind
        assert kind != "internal", message
        assert message and "\n" not in message, message
    assert all("\n" not in n for n in result.notes), result.notes
    json.dumps(result.to_dict(), ensure_ascii=True, allow_nan=False)


def main(argv) -> None:
    if atheris is None:
        files = [a for a in argv[1:] if not a.startswith("-") and os.path.isfile(a)]
        if not files:
            sys.exit("atheris is not installed (pip install atheris); without it, give files to replay")
        for path in files:
            with open(path, "rb") as f:
                TestOneInput(f.read())
            print(f"{path}: ok")
        return
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
