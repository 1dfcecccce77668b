"""``onnxlint completion {bash,zsh,fish}``: a shell completion script, generated from the
command line parser itself by shtab (https://github.com/tqdm/shtab), so every subcommand,
option and choice the parser knows is completed, and nothing it does not know.

shtab writes static scripts (no Python runs at each TAB, unlike argcomplete, which would
start onnxlint on every key press); it supports bash, zsh and fish (1.13, the version required), and is one
pure-Python module without dependencies.  Model and output paths complete as file names.
"""
from __future__ import annotations

import sys

from analyzer.common import EXIT_ERROR, EXIT_OK

__all__ = ["SHELLS", "completion_script", "run"]

SHELLS = ("bash", "zsh", "fish")
SHTAB_MISSING = "onnxlint completion needs shtab: pip install 'shtab>=1.13'"
# metavars of arguments that take a path: completed as file names
_PATH_METAVARS = {"MODEL", "PATH", "FILE", "OUT", "DIR|LIST_FILE"}


def _mark_paths(parser, shtab) -> None:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, shtab)
        elif action.metavar in _PATH_METAVARS:
            action.complete = shtab.FILE


def completion_script(parser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (raises ImportError without shtab)."""
    import shtab

    _mark_paths(parser, shtab)
    return shtab.complete(parser, shell=shell)


def run(args) -> int:
    try:
        text = completion_script(args.build_parser(), args.shell)
    except ImportError:
        print(f"onnxlint: error: {SHTAB_MISSING}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK
