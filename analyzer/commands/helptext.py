"""The epilog of each subcommand's ``--help``: a few examples and the exit codes.

Kept apart from the parser (``analyzer.cli``) so the option lines there stay short; the
parser sets each subcommand's ``epilog`` from :data:`EPILOGS` and formats it verbatim
(``argparse.RawDescriptionHelpFormatter``).  Standard library only: ``--help`` stays light.  Rule codes appear as CODE (the core never
names a rule: tests/test_architecture.py).
"""
from __future__ import annotations

__all__ = ["EPILOGS", "TOP"]

_ERRORS = "  2  a file could not be read or analyzed, or the command line / configuration is wrong"

TOP = """\
examples:
  onnxlint check model.onnx              lint one model (or folders: every *.onnx below)
  onnxlint rules                         the rules; onnxlint rules CODE for one rule's documentation
  onnxlint verify model.onnx             prove the findings by running the model in onnxruntime
  onnxlint fix model.onnx --diff         what fix would change, writing nothing
  onnxlint COMMAND --help                the options, examples and exit codes of COMMAND

exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
""" + _ERRORS

EPILOGS = {
    "check": """\
examples:
  onnxlint check model.onnx
  onnxlint check models/ --select PREFIX,CODE --fail-on error
  onnxlint check model.onnx --input-shape input=1,3,224,224 --format json -o report.json
  onnxlint check models/ --write-baseline onnxlint-baseline.json
  onnxlint check models/ --baseline onnxlint-baseline.json

exit codes:
  0  no finding at or above --fail-on (default: warning), or --exit-zero
  1  findings at or above --fail-on
""" + _ERRORS,
    "shapes": """\
examples:
  onnxlint shapes model.onnx
  onnxlint shapes model.onnx --input-shape input=1,3,?,512 --format json -o shapes.json

exit codes:
  0  the shapes were printed (or written)
""" + _ERRORS,
    "rules": """\
examples:
  onnxlint rules                   one line per rule: code, name, severity, origin, summary
  onnxlint rules CODE              one rule's documentation
  onnxlint rules --format json     the same as JSON (a list, or one object for CODE)

exit codes:
  0  printed
  2  unknown rule code, or a plugin failed to load""",
    "suppress": """\
examples:
  onnxlint suppress model.onnx CODE@NODE --in-place
  onnxlint suppress model.onnx CODE1 CODE2 -o model.suppressed.onnx

  CODE silences the rule (or prefix) in the whole model; CODE@NODE at one node, named as
  `onnxlint check` reports it.  Both are checked: an unknown code, CODE@ with no node, or a
  node the model lacks is refused and nothing is written.

exit codes:
  0  the suppression was recorded
""" + _ERRORS,
    "fix": """\
examples:
  onnxlint fix model.onnx --diff                      what would change; no file written
  onnxlint fix model.onnx -o fixed.onnx --verify      write, then compare outputs in onnxruntime
  onnxlint fix model.onnx -o fixed.onnx --select CODE --bench --bench-runs 50

exit codes:
  0  the fixed model was written (and, with --verify, its outputs match); --diff: nothing would change
  1  --diff: something would be fixed
  2  the model could not be fixed or written, --verify found different outputs, or the
     command line is wrong""",
    "verify": """\
examples:
  onnxlint verify model.onnx
  onnxlint verify model.onnx --input-shape input=1,3,64,64 --format json

  A finding that holds only at some input sizes (details.condition, e.g. H <= 288) is run
  where its condition holds and one past it, where its claim must fail.

exit codes:
  0  no finding refuted or inconclusive (skipped ones say why)
  2  a finding was refuted or inconclusive, onnxruntime is missing, the model could not be
     run, or the command line is wrong""",
    "scan": """\
examples:
  onnxlint scan zoo/ -j 4 -o scan.jsonl
  onnxlint scan zoo/ -o scan.jsonl --resume
  find zoo -name '*.onnx' | onnxlint scan - --format text

exit codes:
  0  every file analyzed, no finding at or above --fail-on (or --exit-zero)
  1  findings at or above --fail-on
  2  a file failed (error, timeout, memory limit) or nothing was scanned, or the command
     line is wrong""",
    "completion": """\
examples:
  onnxlint completion bash > ~/.local/share/bash-completion/completions/onnxlint
  onnxlint completion zsh > ~/.zfunc/_onnxlint      # with fpath+=(~/.zfunc) before compinit
  onnxlint completion fish > ~/.config/fish/completions/onnxlint.fish

exit codes:
  0  the script was printed
  2  shtab is not installed (pip install shtab), or the shell is not one of these""",
}
