"""Configuration from ``pyproject.toml`` (``[tool.onnxlint]``), ``setup.cfg``
(``[onnxlint]``) or ``onnxlint.toml`` (top level), found by walking up from the
current directory like ruff does; the first file that has an onnxlint section
wins.  The command line overrides it; ``--isolated`` ignores it; ``--config FILE``
names it.

Keys (TOML shown; in setup.cfg lists are comma-separated and tables are
multi-line ``key = value`` entries)::

    [tool.onnxlint]
    select = ["ALL"]                     # codes or prefixes (see `onnxlint rules`)
    ignore = ["XY002"]
    fail-on = "warning"                  # info | warning | error
    format = "text"                      # text | json | sarif | github | html
    max-nodes = 2000000
    [tool.onnxlint.per-path-ignores]     # glob (relative to the config file) -> codes
    "legacy/**" = ["XY001"]
    [tool.onnxlint.input-shape]          # graph input -> dims
    input = [1, 3, 224, 224]
    [tool.onnxlint.rules.XY001]          # a rule's options (see `onnxlint rules CODE`)
    some-option = 1000

A bad configuration raises :class:`ConfigError` naming the file and the key.
"""
from __future__ import annotations

import configparser
import fnmatch
import os
from dataclasses import dataclass, field

__all__ = ["Config", "ConfigError", "load_config", "find_config"]

KEYS = {"select", "ignore", "fail-on", "format", "max-nodes", "per-path-ignores", "input-shape", "rules"}
SEVERITIES = ("info", "warning", "error")
FORMATS = ("text", "json", "sarif", "github", "html")


class ConfigError(Exception):
    pass


@dataclass
class Config:
    path: str | None = None
    select: list | None = None
    ignore: list = field(default_factory=list)
    fail_on: str | None = None
    format: str | None = None
    max_nodes: int | None = None
    per_path_ignores: list = field(default_factory=list)  # [(glob, [codes])]
    input_shapes: dict = field(default_factory=dict)
    rule_options: dict = field(default_factory=dict)  # code -> {option: value}

    def apply_per_path_ignores(self, file_result) -> None:
        if not self.per_path_ignores or file_result.status != "ok":
            return
        base = os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()
        rel = os.path.relpath(os.path.abspath(file_result.path), base).replace(os.sep, "/")
        codes = [c for pattern, cs in self.per_path_ignores if fnmatch.fnmatch(rel, pattern) for c in cs]
        if codes:
            before = len(file_result.findings)
            file_result.findings = [f for f in file_result.findings if not any(f.rule.startswith(c) for c in codes)]
            dropped = before - len(file_result.findings)
            if dropped:
                msg = f"{dropped} finding(s) ignored by per-path-ignores in {os.path.basename(self.path or '')}"
                file_result.notes.append(msg)
                file_result.notices.append(msg)  # shown in every format, not only JSON/HTML


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


def _read_raw(path) -> dict | None:
    """The onnxlint settings of ``path`` as a plain dict, or None if it has none."""
    name = os.path.basename(path)
    try:
        if name.endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                doc = tomllib.load(f)
            if name == "pyproject.toml":
                tool = doc.get("tool", {})
                return tool.get("onnxlint") if isinstance(tool, dict) else None
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
    for key in ("per-path-ignores", "input-shape"):
        if key in raw:
            raw[key] = _ini_table(raw[key], path, key)
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
            raise ConfigError(f"{path}: {key}: expected 'name = value' lines, got {line!r}")
        out[k.strip()] = v.strip()
    return out


def _list(value, path, key) -> list:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise ConfigError(f"{path}: {key} must be a list of strings")


def _int(value, path, key, minimum=0) -> int:
    try:
        v = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        v = None
    if v is None or v < minimum:
        raise ConfigError(f"{path}: {key} must be an integer >= {minimum}, got {value!r}")
    return v


def _codes(values, path, key) -> list:
    from analyzer.linter.registry import rule_codes

    codes = rule_codes()
    out = []
    for c in values:
        cu = c.upper()
        if cu != "ALL" and not any(code.startswith(cu) for code in codes):
            raise ConfigError(f"{path}: {key}: unknown rule code or prefix {c!r}")
        out.append(cu)
    return out


def parse(raw: dict, path: str) -> Config:
    from analyzer.linter.registry import get_rule, rule_codes

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the onnxlint section must be a table")
    cfg = Config(path=path)
    for key in raw:
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
    if "select" in raw:
        cfg.select = _codes(_list(raw["select"], path, "select"), path, "select")
    if "ignore" in raw:
        cfg.ignore = _codes(_list(raw["ignore"], path, "ignore"), path, "ignore")
    if "fail-on" in raw:
        if raw["fail-on"] not in SEVERITIES:
            raise ConfigError(f"{path}: fail-on must be one of {', '.join(SEVERITIES)}, got {raw['fail-on']!r}")
        cfg.fail_on = raw["fail-on"]
    if "format" in raw:
        if raw["format"] not in FORMATS:
            raise ConfigError(f"{path}: format must be one of {', '.join(FORMATS)}, got {raw['format']!r}")
        cfg.format = raw["format"]
    if "max-nodes" in raw:
        cfg.max_nodes = _int(raw["max-nodes"], path, "max-nodes", 1)
    ppi = raw.get("per-path-ignores", {})
    if not isinstance(ppi, dict):
        raise ConfigError(f"{path}: per-path-ignores must be a table of glob = [codes]")
    for pattern, codes in ppi.items():
        key = f"per-path-ignores.{pattern}"
        cfg.per_path_ignores.append((pattern, _codes(_list(codes, path, key), path, key)))
    shapes = raw.get("input-shape", {})
    if not isinstance(shapes, dict):
        raise ConfigError(f"{path}: input-shape must be a table of input = [dims]")
    for name, dims in shapes.items():
        key = f"input-shape.{name}"
        if isinstance(dims, str):
            dims = [d for d in dims.replace("x", ",").split(",") if d.strip()]
        if not isinstance(dims, list) or not dims:
            raise ConfigError(f"{path}: {key} must be a list of dims")
        cfg.input_shapes[name] = [_int(d, path, key) for d in dims]
    rules = raw.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{path}: rules must be a table of rule code -> options")
    for code, opts in rules.items():
        cu = code.upper()
        if cu not in rule_codes():
            raise ConfigError(f"{path}: rules.{code}: unknown rule")
        if not isinstance(opts, dict):
            raise ConfigError(f"{path}: rules.{code} must be a table of options")
        known = getattr(get_rule(cu), "OPTIONS", {})
        parsed = {}
        for opt, value in opts.items():
            if opt not in known:
                raise ConfigError(f"{path}: rules.{code}.{opt}: unknown option (known: {', '.join(sorted(known)) or 'none'})")
            parsed[opt] = _int(value, path, f"rules.{code}.{opt}")
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
