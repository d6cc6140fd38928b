"""The rules: the component's built-ins and registry, and the rules a run
asks for as ``recon detect --rules`` and the configuration file's
``rules = [...]`` name them.

Which built-ins there are comes from the component (its ``default-config``
with no rules named), and what a configuration runs from its registry
(``list-rules``); nothing here lists a rule. Rule files are read here and
handed to the component as text (`RuleFile`): the component parses and
compiles them; this host parses no YAML.
"""

from __future__ import annotations

import os
import stat
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from wasmtime.component import Variant

from ._runtime import call_shared
from ._types import BuiltInRule, Config, RuleFile, RuleInfo, RuleKind
from .errors import ConfigError

__all__ = [
    "CATALOGUE",
    "MAX_RULE_BYTES",
    "ResolvedRules",
    "builtin_rules",
    "catalogue_dir",
    "list_rules",
    "resolve_rules",
]

#: The ``--rules`` name of the rule catalogue (the repository's ``rules/``).
CATALOGUE = "catalogue"
#: Most bytes of rule files one run loads (all files together), as
#: ``recon detect``.
MAX_RULE_BYTES = 64 << 20
#: Where the package keeps the catalogue it was built with (``setup.py``
#: copies the repository's ``rules/*.yml`` there).
BUNDLED_CATALOGUE = "catalogue"

_builtins_lock = threading.Lock()
_builtins: tuple[BuiltInRule, ...] | None = None


def builtin_rules() -> tuple[BuiltInRule, ...]:
    """The component's built-in rules, in their declared order (the order
    ``recon detect`` runs them): each with its contract name and its short
    name (the command line's and the configuration file's: the name's
    first word, ``sentinel`` for ``sentinel-aws-cli-recon``, or the whole
    name when two built-ins share it). Read once from the component's
    ``default-config``."""
    global _builtins
    with _builtins_lock:
        if _builtins is None:
            default = call_shared("default-config", [], "default")
            names = [str(r.rule) for r in default.rules]
            first = [n.split("-")[0] for n in names]
            _builtins = tuple(
                BuiltInRule(name=n, short_name=f if f and first.count(f) == 1 else n) for n, f in zip(names, first)
            )
        return _builtins


def _repo_catalogue() -> Path | None:
    """``<repo>/rules`` when this package runs from its source checkout (an
    editable install, or ``src/`` on the path)."""
    here = Path(__file__).resolve()
    package_root = here.parents[2]  # hosts/python
    repo = here.parents[4]
    if not (package_root / "pyproject.toml").is_file() or not (repo / "wit" / "detector.wit").is_file():
        return None
    d = repo / "rules"
    return d if d.is_dir() else None


def catalogue_dir() -> Path | None:
    """The rule catalogue's directory: the repository's ``rules/`` when this
    package runs from its checkout, else the copy bundled in the package
    when it was built from one; ``None`` when neither is there."""
    repo = _repo_catalogue()
    if repo is not None:
        return repo
    bundled = resources.files(__package__).joinpath(BUNDLED_CATALOGUE)
    if bundled.is_dir():
        return Path(str(bundled))
    return None


def _is_rule_file(name: str) -> bool:
    return name.endswith(".yml") or name.endswith(".yaml")


def _refused(message: str) -> ConfigError:
    return ConfigError("invalid-option", message)


def _io_text(e: OSError) -> str:
    """An I/O error as the Rust CLI words it: ``No such file or directory
    (os error 2)``."""
    if e.errno is not None and e.strerror:
        return f"{e.strerror} (os error {e.errno})"
    return str(e)


def _catalogue_files() -> list[tuple[str, str]]:
    """The catalogue's files as (name, path): ``rules/<file>``, in name
    order, as ``recon detect`` embeds them."""
    d = catalogue_dir()
    if d is None:
        raise _refused(
            f"rules: {CATALOGUE}: the rule catalogue (the repository's rules/ directory) was not found: this "
            "package does not run from the repository's checkout and was built without it; name its files "
            "or directory instead, or use the Rust CLI, which embeds it"
        )
    names = sorted(
        (n for n in os.listdir(d) if _is_rule_file(n) and not (d / n).is_dir()), key=lambda n: n.encode()
    )
    return [(f"rules/{n}", str(d / n)) for n in names]


def _collect(path: str, builtins: Sequence[BuiltInRule], out: list[tuple[str, str]]) -> None:
    """The files under ``path`` (a file, or a directory searched
    recursively, in path order), named as ``recon detect`` names them."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        raise _refused(
            f"rules: {path} is neither a built-in ({', '.join(b.short_name for b in builtins)}) "
            "nor an existing rule file or directory"
        ) from None
    except OSError as e:
        raise _refused(f"reading {path}: {_io_text(e)}") from None
    if not is_dir:
        out.append((path, path))
        return
    try:
        entries = sorted((os.path.join(path, n) for n in os.listdir(path)), key=lambda p: p.encode())
    except OSError as e:
        raise _refused(f"reading {path}: {_io_text(e)}") from None
    before = len(out)
    for entry in entries:
        if os.path.isdir(entry):
            _collect(entry, builtins, out)
        elif _is_rule_file(entry):
            out.append((entry, entry))
    if len(out) == before:
        raise _refused(f"rules: the directory {path} holds no .yml or .yaml file")


def _read(found: Iterable[tuple[str, str]], out: list[RuleFile], total: list[int]) -> None:
    for name, path in found:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise _refused(f"reading {name}: {_io_text(e)}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _refused(f"reading {name}: stream did not contain valid UTF-8") from None
        total[0] += len(data)
        if total[0] > MAX_RULE_BYTES:
            raise _refused(f"the rule files come to more than {MAX_RULE_BYTES} bytes")
        out.append(RuleFile(name=name, text=text))


class ResolvedRules(NamedTuple):
    """The rules ``--rules`` entries name, as `Config` fields."""

    #: The built-ins named, by short name, in the component's order, once each.
    rules: tuple[str, ...]
    #: The rule files named, read, in the order named.
    rule_files: tuple[RuleFile, ...]


def resolve_rules(entries: Sequence[str] | None) -> ResolvedRules:
    """The rules ``entries`` name, as ``recon detect --rules`` reads them:
    each entry a built-in's short name (`builtin_rules`), then
    ``catalogue`` (the repository's ``rules/``: from the checkout this
    package runs in, else the copy it was built with), else a path to a
    Sigma rule file or a directory of them (``*.yml``, ``*.yaml``, searched
    recursively, in path order), relative to the working directory.
    Exactly the rules named run; no entries (``None`` or empty) stand for
    every built-in.

    Returns the built-ins named and the files read (each named by its path
    as given, the catalogue's as ``rules/<file>``): ``Config(rules=...,
    rule_files=...)``. Raises `ConfigError` (``invalid-option``) naming an
    entry that is neither, or a file that cannot be read.
    """
    builtins = builtin_rules()
    if not entries:
        return ResolvedRules(tuple(b.short_name for b in builtins), ())
    if isinstance(entries, str) or not all(isinstance(e, str) for e in entries):
        raise _refused(f"rules must be a list of names and paths, not {entries!r}")
    named: set[str] = set()
    files: list[RuleFile] = []
    total = [0]
    for entry in entries:
        b = next((b for b in builtins if b.short_name == entry), None)
        if b is not None:
            named.add(b.name)
            continue
        found: list[tuple[str, str]] = []
        if entry == CATALOGUE:
            found = _catalogue_files()
        else:
            _collect(entry, builtins, found)
        _read(found, files, total)
    return ResolvedRules(tuple(b.short_name for b in builtins if b.name in named), tuple(files))


def _info(r: object) -> RuleInfo:
    def g(name: str) -> Any:
        return getattr(r, name)

    return RuleInfo(
        name=g("name"),
        id=g("id"),
        title=g("title"),
        kind=RuleKind(g("kind")),
        file=g("file"),
        window_ms=int(g("window-ms")),
        window=str(g("window")),
        suppress_ms=int(g("suppress-ms")),
        threshold=g("threshold"),
        measure=g("measure"),
        group_by=tuple(g("group-by")),
        detections=tuple(g("detections")),
        filters=tuple(getattr(r, "filters", ()) or ()),
        severity=g("severity"),
        tactics=tuple(g("tactics")),
        techniques=tuple(g("techniques")),
        settings=tuple(g("settings")),
    )


def list_rules(config: Config | None = None) -> list[RuleInfo]:
    """The registry: every rule a detector with ``config`` would run (its
    built-ins, then its data rules), as the component describes it: name,
    id, title, kind, file, window, threshold, measure, group-by, the
    detection rules and filters it counts, severity, tactics, techniques,
    and the settings that apply to it. Raises `ConfigError` as `Detector`
    would (a refused rule file: kind ``rules``)."""
    from .detector import _config_error, _lower_config

    lowered = _lower_config(Config() if config is None else config)
    result = call_shared("list-rules", lowered)
    if isinstance(result, Variant):
        raise _config_error(result)
    return [_info(r) for r in result]
