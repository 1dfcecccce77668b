"""Configuration from ``pyproject.toml`` (``[tool.onnxlint]``), ``setup.cfg``
(``[onnxlint]``) or ``onnxlint.toml`` / ``.onnxlint.toml`` (top-level keys, or the
same ``[tool.onnxlint]`` table as in pyproject.toml), found by walking up from the
current directory like ruff does; the first file that has an onnxlint section
wins.  The command line overrides it; ``--isolated`` ignores it; ``--config FILE``
names it.  Globs are relative to the directory of that file (the project root;
the current directory when there is no configuration).

Keys (TOML shown; in setup.cfg lists are comma-separated and tables are
multi-line ``key = value`` entries)::

    [tool.onnxlint]
    select = ["ALL"]                     # codes or prefixes (see `onnxlint rules`)
    extend-select = []                   # added to select
    ignore = ["XY002"]
    extend-ignore = []                   # added to ignore
    exclude = [".git", ".venv", ...]     # folder walks skip these (replaces the defaults)
    extend-exclude = ["legacy/**"]       # ... and these (added to exclude)
    fail-on = "warning"                  # info | warning | error
    format = "text"                      # text | full | json | sarif | github | html | junit | gitlab
    max-nodes = 2000000
    [tool.onnxlint.per-path-ignores]     # glob -> codes
    "legacy/**" = ["XY001"]
    [tool.onnxlint.input-shape]          # graph input -> dims (? keeps the model's dim), every file
    input = [1, 3, 224, 224]
    [tool.onnxlint.per-path-input-shape] # glob -> {graph input -> dims}, later globs win
    "detect/**" = { images = [1, 3, 640, 640] }
    [tool.onnxlint.rules.XY001]          # a rule's options (see `onnxlint rules CODE`)
    some-option = 1000

Input shapes from configuration fit a repository of many models: one that names
an input a model does not have, or dims the model fixes otherwise, is skipped for
that model with a note (``--input-shape`` on the command line stays an error).

A bad configuration raises :class:`ConfigError` naming the file, the section and
the key.
"""
from __future__ import annotations

import configparser
import fnmatch
import os
from dataclasses import dataclass, field

__all__ = ["Config", "ConfigError", "PathFilter", "load_config", "find_config", "fit_input_shapes", "resolve_selection", "DEFAULT_EXCLUDE"]

KEYS = {
    "select", "extend-select", "ignore", "extend-ignore", "exclude", "extend-exclude", "fail-on", "format",
    "max-nodes", "per-path-ignores", "input-shape", "per-path-input-shape", "rules",
}  # fmt: skip
SEVERITIES = ("info", "warning", "error")
from analyzer.findings import REPORT_FORMATS as FORMATS  # noqa: E402  (one list for the CLI and the file)
# Folders no one keeps their models in but that hold other projects' .onnx files
# (site-packages of onnx ships hundreds of test models).
DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__", "site-packages")


class ConfigError(Exception):
    pass


class PathFilter:
    """``exclude`` globs, ruff style: a pattern without ``/`` matches any path
    component (``.venv``, ``*_old.onnx``); one with ``/`` matches the path relative to
    ``root`` or any of its leading folders (``models/legacy``, ``legacy/*.onnx``).
    ``*`` matches across ``/`` (fnmatch), so ``legacy/**`` and ``legacy/*`` are the same."""

    def __init__(self, patterns, root):
        self.patterns = [p.rstrip("/") for p in patterns if p.rstrip("/")]
        self.root = os.path.abspath(root)
        # measured on a walk of 10,000 files: per-pattern fnmatch calls and abspath added
        # 1.1 s (0.1 ms a file); one compiled alternation per kind and the cwd read once
        # bring that to about 0.1 s (10 microseconds a file)
        self._names = [p for p in self.patterns if "/" not in p]
        self._paths = [(p, p[2:] if p.startswith("./") else p.lstrip("/")) for p in self.patterns if "/" in p]
        self._names_re = _alternation(self._names)
        self._paths_re = _alternation([g for _, g in self._paths])
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self._cwd = os.getcwd()  # abspath would ask the OS for it on every path

    def match(self, path) -> str | None:
        """The first pattern that excludes ``path`` (a file or folder), or None."""
        if not self.patterns:
            return None
        path = os.fspath(path)
        full = os.path.normpath(path if os.path.isabs(path) else os.path.join(self._cwd, path))
        if full.startswith(self._prefix):
            parts = full[len(self._prefix):].split(os.sep)
            inside = True
        else:
            parts = [] if full == self.root else [p for p in full.split(os.sep) if p]
            inside = full == self.root
        if self._names_re is not None:
            for n in parts:
                if self._names_re.match(n):
                    return next(p for p in self._names if fnmatch.fnmatchcase(n, p))
        if inside and self._paths_re is not None:
            prefix = ""
            for n in parts:
                prefix = f"{prefix}/{n}" if prefix else n
                if self._paths_re.match(prefix):
                    return next(p for p, g in self._paths if fnmatch.fnmatchcase(prefix, g))
        return None


def _alternation(globs):
    import re

    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None


@dataclass
class Config:
    path: str | None = None
    select: list | None = None
    extend_select: list = field(default_factory=list)
    ignore: list = field(default_factory=list)
    extend_ignore: list = field(default_factory=list)
    exclude: list = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list = field(default_factory=list)
    fail_on: str | None = None
    format: str | None = None
    max_nodes: int | None = None
    per_path_ignores: list = field(default_factory=list)  # [(glob, [codes])]
    input_shapes: dict = field(default_factory=dict)  # input -> [dims, None for ?]: every file
    per_path_input_shapes: list = field(default_factory=list)  # [(glob, {input: dims})]
    rule_options: dict = field(default_factory=dict)  # code -> {option: value}

    @property
    def root(self) -> str:
        """The project root: the configuration file's folder, else the current one."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def relpath(self, path) -> str:
        return os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")

    def path_filter(self, extra=()) -> PathFilter:
        return PathFilter(list(self.exclude) + list(self.extend_exclude) + list(extra), self.root)

    def input_shapes_for(self, path) -> dict:
        """The configured input shapes for the model at ``path``: ``input-shape``, then
        every matching ``per-path-input-shape`` glob in file order (later wins per input)."""
        shapes = dict(self.input_shapes)
        if self.per_path_input_shapes:
            rel = self.relpath(path)
            for pattern, table in self.per_path_input_shapes:
                if fnmatch.fnmatch(rel, pattern):
                    shapes.update(table)
        return shapes

    def ignores_for(self, path) -> list:
        rel = self.relpath(path)
        return [c for pattern, cs in self.per_path_ignores if fnmatch.fnmatch(rel, pattern) for c in cs]

    def apply_per_path_ignores(self, file_result) -> None:
        if not self.per_path_ignores or file_result.status != "ok":
            return
        codes = self.ignores_for(file_result.path)
        if codes:
            before = len(file_result.findings)
            file_result.findings = [f for f in file_result.findings if not any(f.rule.startswith(c) for c in codes)]
            dropped = before - len(file_result.findings)
            if dropped:
                msg = f"{dropped} finding(s) ignored by per-path-ignores in {os.path.basename(self.path or '')}"
                file_result.notes.append(msg)
                file_result.notices.append(msg)  # shown in every format, not only JSON/HTML


def _declared_dims(value_info):
    """A graph input's declared dims (int, or str for a symbol / unnamed dim), or None."""
    t = value_info.type
    if t.WhichOneof("value") != "tensor_type" or not t.tensor_type.HasField("shape"):
        return None
    out = []
    for i, d in enumerate(t.tensor_type.shape.dim):
        which = d.WhichOneof("value")
        out.append(int(d.dim_value) if which == "dim_value" else (d.dim_param or f"?{i}@{value_info.name}"))  # unnamed: its own
    return out


def fit_input_shapes(model, shapes) -> tuple:
    """The configured ``shapes`` that apply to ``model`` (a ModelProto), and a note per
    one that does not: an input the model does not have, a different rank, a dim the
    model fixes to another value, a symbol another configured input binds to another
    value, or ``?`` on an input without a declared shape."""
    if not shapes:
        return {}, []
    inits = {t.name for t in model.graph.initializer}
    inputs = {vi.name: vi for vi in model.graph.input if vi.name not in inits}
    fitted, notes = {}, []
    symbols: dict = {}  # symbol -> value bound by a configured shape applied so far
    for name, dims in shapes.items():
        why = None
        vi = inputs.get(name)
        declared = _declared_dims(vi) if vi is not None else None
        if vi is None:
            why = f"the model has no input {name!r} (inputs: {', '.join(inputs) or 'none'})"
        else:
            if declared is None:
                if any(d is None for d in dims):
                    why = "'?' keeps the model's dim, but the model declares no shape for it"
            elif len(declared) != len(dims):
                why = f"{len(dims)} dims configured, the input has {len(declared)}"
            else:
                fixed = [(i, d, b) for i, (d, b) in enumerate(zip(declared, dims)) if b is not None and isinstance(d, int) and d != b]
                clash = [(d, b) for d, b in zip(declared, dims) if b is not None and isinstance(d, str) and symbols.get(d, b) != b]
                if fixed:
                    i, d, b = fixed[0]
                    why = f"dim {i} is fixed to {d} in the model, {b} configured"
                elif clash:
                    d, b = clash[0]
                    why = f"symbol {d} is {symbols[d]} in another configured input, {b} here"
        if why is None:
            fitted[name] = dims
            if declared is not None:
                symbols.update((d, b) for d, b in zip(declared, dims) if b is not None and isinstance(d, str))
        else:
            notes.append(f"configured input shape {name}={_dims_text(dims)} not applied: {why}")
    return fitted, notes


def _dims_text(dims) -> str:
    return ",".join("?" if d is None else str(d) for d in dims)


def _match(code, selectors):
    """The longest selector matching ``code`` and its length (0: none)."""
    best = 0
    for s in selectors:
        if s == "ALL":
            best = max(best, 0.5)
        elif code.startswith(s):
            best = max(best, len(s))
    return best


def resolve_selection(codes, levels) -> list:
    """Which of ``codes`` run, ruff's way.  ``levels`` are dicts with ``select``,
    ``extend_select``, ``ignore``, ``extend_ignore`` (lists; ``select`` None when not
    given), lowest priority first (configuration, then command line).  The highest level
    that gives ``select`` sets the base (default ``ALL``) and the levels below it are
    dropped; then each level from there up adds its extend-select and removes its
    ignore / extend-ignore, the more specific selector winning (ignore on a tie)."""
    start = 0
    for i, lv in enumerate(levels):
        if lv.get("select") is not None:
            start = i
    base = levels[start].get("select") if levels else None
    chosen = []
    for code in codes:
        on = _match(code, base if base is not None else ["ALL"]) > 0
        for i, lv in enumerate(levels[start:]):
            sel = list(lv.get("extend_select") or [])
            if i == 0 and base is not None:
                sel += base
            ign = list(lv.get("ignore") or []) + list(lv.get("extend_ignore") or [])
            s, g = _match(code, sel), _match(code, ign)
            if g and g >= s:
                on = False
            elif s:
                on = True
        if on:
            chosen.append(code)
    return chosen


def find_config(start=None) -> str | None:
    d = os.path.abspath(start or os.getcwd())
    while True:
        for name in ("onnxlint.toml", ".onnxlint.toml", "pyproject.toml", "setup.cfg"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and _has_section(p):
                return p
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_section(path) -> bool:
    try:
        raw = _read_raw(path)
    except ConfigError:
        return True  # a broken config file must be reported, not skipped
    return raw is not None


def section_name(path) -> str:
    """How the file's onnxlint section is written (for error messages)."""
    name = os.path.basename(path or "")
    if name == "setup.cfg" or not name.endswith(".toml"):
        return "[onnxlint]"
    if name == "pyproject.toml":
        return "[tool.onnxlint]"
    return ""


def _read_raw(path) -> dict | None:
    """The onnxlint settings of ``path`` as a plain dict, or None if it has none."""
    name = os.path.basename(path)
    try:
        if name.endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                doc = tomllib.load(f)
            tool = doc.get("tool")
            if name == "pyproject.toml":
                return tool.get("onnxlint") if isinstance(tool, dict) else None
            # onnxlint.toml: top-level keys, or the [tool.onnxlint] table pasted from pyproject.toml
            if isinstance(tool, dict) and "onnxlint" in tool:
                others = sorted(set(doc) - {"tool"}) + sorted(f"tool.{k}" for k in set(tool) - {"onnxlint"})
                if others:
                    raise ConfigError(
                        f"{path}: has both a [tool.onnxlint] table and other keys ({', '.join(others)}); "
                        "use one form: top-level keys, or everything under [tool.onnxlint]"
                    )
                return tool["onnxlint"]
            return doc
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # keep key case (rule codes, input names)
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, configparser.Error) as e:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{path}: not valid {'TOML' if name.endswith('.toml') else 'INI'} ({str(e).splitlines()[0]})") from None
    if not parser.has_section("onnxlint"):
        return None
    raw = dict(parser.items("onnxlint"))
    for key in ("per-path-ignores", "input-shape", "per-path-input-shape"):
        if key in raw:
            raw[key] = _ini_table(raw[key], path, key)
    if "per-path-input-shape" in raw:  # glob = input=dims; input2=dims
        raw["per-path-input-shape"] = {
            glob: _ini_table(text.replace(";", "\n"), path, f"per-path-input-shape.{glob}") for glob, text in raw["per-path-input-shape"].items()
        }
    rules = {}
    for section in parser.sections():
        if section.startswith("onnxlint.rules."):
            rules[section[len("onnxlint.rules."):]] = dict(parser.items(section))
    if rules:
        raw["rules"] = rules
    return raw


def _ini_table(text, path, key) -> dict:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        k, sep, v = line.partition("=") if "=" in line else line.partition(":")
        if not sep:
            raise ConfigError(f"{path}: {section_name(path)} {key}: expected 'name = value' lines, got {line!r}")
        out[k.strip()] = v.strip()
    return out


class _Parser:
    def __init__(self, path):
        self.path = path
        self.section = section_name(path)

    def error(self, key, message):
        where = f"{self.section} {key}" if self.section else key
        return ConfigError(f"{self.path}: {where}: {message}")

    def list(self, value, key) -> list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value]
        raise self.error(key, "must be a list of strings")

    def int(self, value, key, minimum=0) -> int:
        try:
            v = int(value) if not isinstance(value, (bool, float)) else None
        except (TypeError, ValueError):
            v = None
        if v is None or v < minimum:
            raise self.error(key, f"must be an integer >= {minimum}, got {value!r}")
        return v

    def codes(self, values, key) -> list:
        from analyzer.linter.registry import rule_codes

        codes = rule_codes()
        out = []
        for c in values:
            cu = c.upper()
            if cu != "ALL" and not any(code.startswith(cu) for code in codes):
                raise self.error(key, f"unknown rule code or prefix {c!r}")
            out.append(cu)
        return out

    def dims(self, value, key) -> list:
        """``[1, 3, "?", 224]`` or ``"1,3,?,224"`` (``x`` also separates) -> ints, None for ``?``."""
        if isinstance(value, str):
            value = [d.strip() for d in value.replace("x", ",").split(",") if d.strip()]
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a list of dims (non-negative integers or \"?\"), got {value!r}")
        out = []
        for d in value:
            if d == "?":
                out.append(None)
                continue
            try:
                v = int(d) if not isinstance(d, (bool, float)) else None
            except (TypeError, ValueError):
                v = None
            if v is None or v < 0:
                raise self.error(key, f"dims must be non-negative integers or \"?\" (keep the model's dim), got {d!r}")
            out.append(v)
        return out

    def shape_table(self, table, key) -> dict:
        if not isinstance(table, dict):
            raise self.error(key, "must be a table of input = [dims]")
        return {name: self.dims(dims, f"{key}.{name}") for name, dims in table.items()}


def parse(raw: dict, path: str) -> Config:
    from analyzer.linter.registry import get_rule, rule_codes

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the onnxlint section must be a table")
    p = _Parser(path)
    cfg = Config(path=path)
    for key in raw:
        if key not in KEYS:
            raise p.error(key, f"unknown key (known: {', '.join(sorted(KEYS))})")
    if "select" in raw:
        cfg.select = p.codes(p.list(raw["select"], "select"), "select")
    for key in ("extend-select", "ignore", "extend-ignore"):
        if key in raw:
            setattr(cfg, key.replace("-", "_"), p.codes(p.list(raw[key], key), key))
    for key in ("exclude", "extend-exclude"):
        if key in raw:
            setattr(cfg, key.replace("-", "_"), p.list(raw[key], key))
    if "fail-on" in raw:
        if raw["fail-on"] not in SEVERITIES:
            raise p.error("fail-on", f"must be one of {', '.join(SEVERITIES)}, got {raw['fail-on']!r}")
        cfg.fail_on = raw["fail-on"]
    if "format" in raw:
        if raw["format"] not in FORMATS:
            raise p.error("format", f"must be one of {', '.join(FORMATS)}, got {raw['format']!r}")
        cfg.format = raw["format"]
    if "max-nodes" in raw:
        cfg.max_nodes = p.int(raw["max-nodes"], "max-nodes", 1)
    ppi = raw.get("per-path-ignores", {})
    if not isinstance(ppi, dict):
        raise p.error("per-path-ignores", "must be a table of glob = [codes]")
    for pattern, codes in ppi.items():
        key = f"per-path-ignores.{pattern}"
        cfg.per_path_ignores.append((pattern, p.codes(p.list(codes, key), key)))
    cfg.input_shapes = p.shape_table(raw.get("input-shape", {}), "input-shape")
    ppis = raw.get("per-path-input-shape", {})
    if not isinstance(ppis, dict):
        raise p.error("per-path-input-shape", "must be a table of glob = {input = [dims]}")
    for pattern, table in ppis.items():
        cfg.per_path_input_shapes.append((pattern, p.shape_table(table, f"per-path-input-shape.{pattern}")))
    rules = raw.get("rules", {})
    if not isinstance(rules, dict):
        raise p.error("rules", "must be a table of rule code -> options")
    for code, opts in rules.items():
        cu = code.upper()
        if cu not in rule_codes():
            raise p.error(f"rules.{code}", "unknown rule")
        if not isinstance(opts, dict):
            raise p.error(f"rules.{code}", "must be a table of options")
        known = getattr(get_rule(cu), "OPTIONS", {})
        parsed = {}
        for opt, value in opts.items():
            if opt not in known:
                raise p.error(f"rules.{code}.{opt}", f"unknown option (known: {', '.join(sorted(known)) or 'none'})")
            parsed[opt] = p.int(value, f"rules.{code}.{opt}")
        cfg.rule_options[cu] = parsed
    return cfg


def load_config(explicit=None, isolated=False) -> Config:
    if isolated:
        return Config()
    if explicit:
        if not os.path.isfile(explicit):
            raise ConfigError(f"{explicit}: config file not found")
        raw = _read_raw(explicit)
        if raw is None:
            raise ConfigError(f"{explicit}: has no onnxlint section ([tool.onnxlint] in pyproject.toml, [onnxlint] in setup.cfg)")
        return parse(raw, explicit)
    path = find_config()
    if path is None:
        return Config()
    return parse(_read_raw(path) or {}, path)
