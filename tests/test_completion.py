"""``onnxlint completion {bash,zsh,fish}`` (shtab, generated from the parser) and ``--help``
(a line for every argument, examples and exit codes for every subcommand).

The scripts must name every subcommand and every option the parser has (so a new option
cannot be forgotten), parse in their shell, and, where the shell is installed, complete:
bash and fish are driven here as a user's TAB would.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from analyzer.cli import build_parser, main

SHELLS = ["bash", "zsh", "fish"]


def _subparsers(parser):
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def _script(capsys, shell):
    rc = main(["completion", shell])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    return out


@pytest.mark.parametrize("shell", SHELLS)
def test_script_names_every_subcommand_and_option(capsys, shell):
    text = _script(capsys, shell)
    subs = _subparsers(build_parser())
    assert set(subs) >= {"check", "shapes", "rules", "suppress", "fix", "verify", "scan", "completion"}
    missing = []
    for name, sp in subs.items():
        if name not in text:
            missing.append(name)
        for action in sp._actions:
            if shell == "fish" and isinstance(action, argparse._HelpAction):
                continue  # shtab's fish script leaves -h/--help to fish
            for opt in action.option_strings:
                token = opt
                if shell == "fish":  # fish names options without their dashes: -l bench-runs, -s o
                    token = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
                if token not in text:
                    missing.append(f"{name} {opt}")
            for choice in action.choices or ():
                if isinstance(choice, str) and choice not in text:
                    missing.append(f"{name} {action.dest}={choice}")
    assert not missing, missing


@pytest.mark.parametrize("shell", SHELLS)
def test_script_parses(capsys, tmp_path, shell):
    if shutil.which(shell) is None:
        if shell == "bash":
            pytest.fail("bash is required")
        pytest.skip(f"{shell} not installed")
    path = tmp_path / f"onnxlint.{shell}"
    path.write_text(_script(capsys, shell))
    r = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _bash_complete(script, words):
    line = " ".join(words)
    cmd = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
           f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _shtab_onnxlint; printf '%s\\n' \"${{COMPREPLY[@]}}\"")  # fmt: skip
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_bash_completes(capsys, tmp_path):
    path = tmp_path / "onnxlint.bash"
    path.write_text(_script(capsys, "bash"))
    assert _bash_complete(path, ["onnxlint", "ch"]) == {"check"}
    assert _bash_complete(path, ["onnxlint", "fix", "--be"]) == {"--bench", "--bench-runs"}
    assert _bash_complete(path, ["onnxlint", "fix", "--d"]) == {"--diff", "--dry-run"}
    assert _bash_complete(path, ["onnxlint", "completion", "''"]) == {"bash", "zsh", "fish"}


def test_fish_completes(capsys, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish not installed")
    path = tmp_path / "onnxlint.fish"
    path.write_text(_script(capsys, "fish"))

    def complete(line):
        r = subprocess.run(["fish", "-c", f"source {path}; complete -C '{line}'"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return {x.split("\t")[0] for x in r.stdout.splitlines()}

    assert "verify" in complete("onnxlint ver")
    assert complete("onnxlint verify --for") == {"--format"}
    assert complete("onnxlint fix --be") == {"--bench", "--bench-runs"}


def test_without_shtab_one_line_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "shtab", None)  # import shtab -> ImportError
    rc = main(["completion", "bash"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "pip install" in err and "shtab" in err


def test_unknown_shell_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["completion", "tcsh"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "tcsh" in err and len(err.splitlines()) == 1


# --- --help ---------------------------------------------------------------------------------


def test_every_argument_has_a_help_line():
    missing = [f"{name} {a.option_strings or a.dest}" for name, sp in _subparsers(build_parser()).items()
               for a in sp._actions if not a.help or a.help == argparse.SUPPRESS]  # fmt: skip
    assert not missing, missing


@pytest.mark.parametrize("command", sorted(_subparsers(build_parser())))
def test_help_shows_examples_and_exit_codes(capsys, command):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "examples:" in out and "exit codes:" in out and f"onnxlint {command}" in out.split("examples:")[1]
    codes = out.split("exit codes:")[1]
    assert "  0  " in codes and "  2  " in codes
    sp = _subparsers(build_parser())[command]
    for a in sp._actions:  # every argument is listed with its help (first words)
        shown = a.option_strings[0] if a.option_strings else (a.metavar or a.dest)
        assert shown in out, shown
