"""The Rust CLI's TOML configuration file (``host/src/settings.rs``), read
with `tomllib` and mapped onto `Config` and `Sandbox`.

Every key of the Rust file is known here with its type; unknown keys are
errors (a typo never silently means "default"). Applied: ``rules``
(built-ins by name, ``catalogue``, Sigma rule files or directories by
path, as ``--rules``), ``profile``, ``allowed_lateness_seconds``,
``chunk_kib``, each built-in's section (``[sentinel]``, ``[elastic]``:
one per built-in the component has, by its short name), ``[limits]``, and
in ``[sandbox]`` ``max_memory_mib``,
``max_call_ms`` and ``fuel_per_call``. Read but not applied (`notes` says
so): ``workers`` (this host reads and scans on one thread),
``sandbox.checkpoint_mib`` and ``sandbox.max_quarantined`` (no trap
recovery here), ``[live]`` (no live mode). Refused: ``tenants.key`` and
``tenants.rules_dir`` (per
tenant routing changes the output; with the API, run one `Detector` per
tenant).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._types import DEFAULT_CALL_TIMEOUT, BuiltInRule, Config, Limits, Profile, RuleConfig, Sandbox
from .errors import ConfigError
from .rules import builtin_rules, resolve_rules

__all__ = ["SettingsError", "FileSettings", "load_settings", "parse_settings"]

#: Default bytes of input per call: 1024 KiB.
DEFAULT_CHUNK_KIB = 1024
#: Largest accepted ``chunk_kib``: 64 MiB.
MAX_CHUNK_KIB = 64 * 1024

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1

#: The keys of a built-in's section (the Rust host's ``RuleSection``).
_RULE_KEYS = {
    "window_seconds": _U64,
    "min_distinct": _U32,
    "commands": list,
    "providers": list,
    "suppress_seconds": _U64,
    "window": str,
}
#: The sections besides the built-ins'.
_SECTIONS: dict[str, dict[str, Any]] = {
    "limits": {
        "max_event_bytes": _U32,
        "max_open_groups": _U32,
        "max_list_entries": _U32,
        "max_time_jump_seconds": _U64,
        "time_confirmations": _U32,
    },
    "sandbox": {
        "max_memory_mib": _U64,
        "max_call_ms": _U64,
        "fuel_per_call": _U64,
        "checkpoint_mib": _U64,
        "max_quarantined": _U64,
    },
    "tenants": {"key": str, "max_tenants": _U64, "rules_dir": str},
    "live": {"idle_ms": _U64, "max_lag_seconds": _U64},
}
_TOP = {
    "rules": list,
    "profile": str,
    "allowed_lateness_seconds": _U64,
    "early_alerts": bool,
    "chunk_kib": _U64,
    "workers": _U64,
}


class SettingsError(ValueError):
    """The configuration file (or an option) is invalid; the message names
    the key. The command exits with status 2."""


@dataclass
class FileSettings:
    """What a configuration file (and the command line over it) sets; every
    field left ``None`` takes its default."""

    #: The ``rules`` entries: built-ins by short name, ``catalogue``, rule
    #: files and directories by path (resolved by `config`).
    rules: list[str] | None = None
    profile: Profile | None = None
    allowed_lateness_seconds: int | None = None
    #: Early alerts (``Config.early_alerts``); this host has no live mode,
    #: so unset is off, as in ``recon detect`` outside live mode.
    early_alerts: bool | None = None
    chunk_kib: int | None = None
    workers: int | None = None
    #: Each built-in's section (``[sentinel]``, ...), by its short name.
    rule_sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)
    tenants: dict[str, Any] = field(default_factory=dict)
    live: dict[str, Any] = field(default_factory=dict)

    def chunk_bytes(self) -> int:
        n = DEFAULT_CHUNK_KIB if self.chunk_kib is None else self.chunk_kib
        if not 1 <= n <= MAX_CHUNK_KIB:
            raise SettingsError(f"chunk_kib = {n} is out of range; it must be between 1 and {MAX_CHUNK_KIB}")
        return n * 1024

    def check_workers(self) -> None:
        if self.workers == 0:
            raise SettingsError("workers must be at least 1")
        if self.workers is not None and self.workers > 256:
            raise SettingsError(f"workers = {self.workers} is out of range; it must be between 1 and 256")

    def config(self) -> Config:
        """The detector configuration: the built-ins ``rules`` names (all
        when it names none) with their sections, and the rule files it
        names, read (`resolve_rules`; an entry that is neither raises
        `SettingsError`). Ranges are the component's to judge."""

        def ms(key: str, seconds: int | None) -> int | None:
            if seconds is None:
                return None
            if seconds * 1000 > _U64:
                raise SettingsError(f"{key} = {seconds} is too large")
            return seconds * 1000

        try:
            named = resolve_rules(self.rules)
        except ConfigError as e:
            raise SettingsError(e.message) from None
        rules = []
        for short in named.rules:
            section = self.rule_sections.get(short, {})
            rules.append(
                RuleConfig(
                    rule=short,
                    window_ms=ms("window_seconds", section.get("window_seconds")),
                    min_distinct=section.get("min_distinct"),
                    commands=section.get("commands"),
                    providers=section.get("providers"),
                    suppress_ms=ms("suppress_seconds", section.get("suppress_seconds")),
                    window=_window(short, section.get("window")),
                )
            )
        lim = self.limits
        return Config(
            rules=tuple(rules),
            rule_files=named.rule_files,
            profile=self.profile or Profile.DEFAULT,
            allowed_lateness_ms=ms("allowed_lateness_seconds", self.allowed_lateness_seconds),
            early_alerts=self.early_alerts,
            limits=Limits(
                max_event_bytes=lim.get("max_event_bytes"),
                max_open_groups=lim.get("max_open_groups"),
                max_list_entries=lim.get("max_list_entries"),
                max_time_jump_ms=ms("max_time_jump_seconds", lim.get("max_time_jump_seconds")),
                time_confirmations=lim.get("time_confirmations"),
            ),
        )

    def sandbox_bounds(self) -> Sandbox:
        """The sandbox bounds (``[sandbox]``)."""
        s = self.sandbox
        memory = Sandbox().max_memory_bytes
        if "max_memory_mib" in s:
            mib = s["max_memory_mib"]
            if mib <= 0 or mib > (1 << 44):
                raise SettingsError(f"sandbox.max_memory_mib = {mib} is out of range")
            memory = mib << 20
        timeout: float | None = DEFAULT_CALL_TIMEOUT
        if "max_call_ms" in s:
            timeout = s["max_call_ms"] / 1000 if s["max_call_ms"] > 0 else None
        fuel = s.get("fuel_per_call") or None
        return Sandbox(max_memory_bytes=memory, call_timeout=timeout, fuel_per_call=fuel)

    def notes(self) -> list[str]:
        """Keys that are read but not applied by this host, each with why."""
        out = []
        if self.workers is not None:
            out.append("workers: this host reads and scans on one thread")
        for key in ("checkpoint_mib", "max_quarantined"):
            if key in self.sandbox:
                out.append(f"sandbox.{key}: this host has no trap recovery (a trap ends the run)")
        if self.live:
            out.append("[live]: this host has no live mode (windows close on event time only)")
        return out

    def check_supported(self) -> None:
        if self.tenants.get("rules_dir") is not None:
            raise SettingsError(
                "tenants.rules_dir: rules of each tenant need per-tenant routing, which the Python "
                "host does not implement; give each tenant's Detector its own rule_files with the "
                "API, or use the Rust CLI"
            )
        if self.tenants.get("key") is not None:
            raise SettingsError(
                "tenants.key is not supported by the Python host (per-tenant routing changes the "
                "output); run one Detector per tenant with the API, or use the Rust CLI"
            )


def _window(rule: str, value: Any) -> str | None:
    """A built-in's ``window`` key: ``tumbling`` or ``sliding``."""
    if value is None or value in ("tumbling", "sliding"):
        return value  # type: ignore[no-any-return]
    raise SettingsError(f"{rule}.window: unknown variant `{value}`, expected `tumbling` or `sliding`")


def _type_name(t: Any) -> str:
    if t is list:
        return "an array"
    if t is str:
        return "a string"
    return f"an integer from 0 to {t}"


def _check(key: str, value: Any, t: Any) -> Any:
    if t is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{key}: expected a boolean, found {value!r}")
        return value
    if t is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{key}: expected an array of strings, found {value!r}")
        return value
    if t is str:
        if not isinstance(value, str):
            raise SettingsError(f"{key}: expected a string, found {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= t:
        raise SettingsError(f"{key}: expected {_type_name(t)}, found {value!r}")
    return value


def _unknown(where: str, key: str, known: Mapping[str, Any]) -> SettingsError:
    expected = ", ".join(f"`{k}`" for k in known)
    return SettingsError(f"{where}unknown field `{key}`, expected one of {expected}")


def parse_settings(text: str, name: str = "<config>", builtins: tuple[BuiltInRule, ...] | None = None) -> FileSettings:
    """Parses configuration text; raises `SettingsError` naming the key.
    Each built-in (``builtins``, default the component's: `builtin_rules`)
    has a section of its own, by its short name."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{name}: {e}") from None
    if builtins is None:
        builtins = builtin_rules()
    rule_sections = {b.short_name: _RULE_KEYS for b in builtins}
    sections = {**rule_sections, **_SECTIONS}
    s = FileSettings()
    known = {**_TOP, **{k: dict for k in sections}}
    for key, value in doc.items():
        if key not in known:
            raise _unknown(f"{name}: ", key, known)
        if key in sections:
            if not isinstance(value, dict):
                raise SettingsError(f"{name}: [{key}]: expected a table, found {value!r}")
            fields = sections[key]
            checked = {}
            for k, v in value.items():
                if k not in fields:
                    raise _unknown(f"{name}: [{key}]: ", k, fields)
                checked[k] = _check(f"{name}: {key}.{k}", v, fields[k])
            if key in rule_sections:
                s.rule_sections[key] = checked
            else:
                setattr(s, key, checked)
            continue
        v = _check(f"{name}: {key}", value, _TOP[key])
        if key == "rules":
            # Names and paths: what each stands for is resolved by
            # `FileSettings.config`, as the Rust host resolves them.
            s.rules = list(v)
        elif key == "profile":
            if v not in ("default", "seed"):
                raise SettingsError(f"{name}: profile: unknown variant `{v}`, expected `default` or `seed`")
            s.profile = Profile(v)
        else:
            setattr(s, key, v)
    return s


def load_settings(path: str | Path) -> FileSettings:
    """Reads and parses a configuration file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SettingsError(f"reading {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise SettingsError(f"reading {path}: {e}") from None
    return parse_settings(text, str(path))
