"""Exceptions: the component's typed errors, traps, and input errors.

Every exception this package raises on purpose derives from `ReconError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._types import RejectReason

__all__ = [
    "ReconError",
    "ComponentLoadError",
    "ConfigError",
    "EventError",
    "SnapshotError",
    "ComponentTrap",
    "DetectorClosed",
    "InputError",
    "RuleError",
]

ConfigErrorKind = Literal["out-of-range", "invalid-list", "rules", "invalid-option"]
SnapshotErrorKind = Literal["malformed", "unsupported-version", "invalid-config"]
TrapKind = Literal["deadline", "fuel", "memory", "trap"]


class ReconError(Exception):
    """Base class of this package's errors."""


class ComponentLoadError(ReconError):
    """The detector component could not be found, compiled or instantiated,
    or is not the component this host is written for."""


@dataclass(frozen=True)
class RuleError:
    """Where and why the component refused a rule file (the contract's
    ``rule-error``)."""

    #: The rule file's name as given (`RuleFile.name`).
    file: str
    #: The rule at fault (its ``name``, ``id`` or title), when one is.
    rule: str | None
    #: The line in the file, from 1, when known.
    line: int | None
    #: The field or key at fault, when one is.
    field: str | None
    #: What is wrong, naming the construct.
    message: str

    def __str__(self) -> str:
        """As ``recon detect`` words it: ``FILE:LINE: rule "R": field "F":
        MESSAGE``, absent parts left out."""
        s = self.file
        if self.line is not None:
            s += f":{self.line}"
        if self.rule is not None:
            s += f": rule {_debug_str(self.rule)}"
        if self.field is not None:
            s += f": field {_debug_str(self.field)}"
        return f"{s}: {self.message}"


def _debug_str(text: str) -> str:
    """A string quoted and escaped as Rust's ``{:?}`` writes it."""
    out = ['"']
    for ch in text:
        c = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c == 0:
            out.append("\\0")
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\u{{{c:x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class ConfigError(ReconError, ValueError):
    """A configuration was refused.

    ``kind`` is the component's ``config-error`` case: ``out-of-range`` or
    ``invalid-list``, whose message names the field (the contract's
    kebab-case name, e.g. ``window-ms``) and the accepted range, or
    ``rules``, a rule file refused (``rule_error`` holds where and why; the
    message words it as ``recon detect`` does: ``FILE:LINE: rule "R":
    field "F": MESSAGE``); or ``invalid-option`` for a value this host
    cannot hand to the component at all (a wrong type, an unknown built-in,
    a negative number, a rule file that cannot be read), whose message
    names the `Config` field.
    """

    def __init__(self, kind: ConfigErrorKind, message: str, *, rule_error: RuleError | None = None) -> None:
        super().__init__(message)
        self.kind: ConfigErrorKind = kind
        self.message = message
        self.rule_error = rule_error


class EventError(ReconError, ValueError):
    """`Detector.push` was handed an event no rule can read.

    ``reason`` is the machine-readable reject reason; ``message`` names the
    field and what is wrong with it, e.g. ``eventTime "yesterday" is not
    RFC 3339``.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class SnapshotError(ReconError, ValueError):
    """`Detector.restore` refused the bytes.

    ``kind``: ``malformed`` (not a snapshot of this format, or damaged),
    ``unsupported-version`` (``version`` holds the snapshot's format
    version), or ``invalid-config`` (``config_error`` holds why the stored
    configuration is invalid).
    """

    def __init__(
        self,
        kind: SnapshotErrorKind,
        message: str,
        *,
        version: int | None = None,
        config_error: ConfigError | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: SnapshotErrorKind = kind
        self.message = message
        self.version = version
        self.config_error = config_error


class ComponentTrap(ReconError, RuntimeError):
    """A call into the component trapped: it ran past its deadline
    (``kind == "deadline"``), burned its fuel (``"fuel"``), failed to
    allocate (``"memory"``: the sandbox's memory cap refused to grow its
    memory), or failed otherwise (``"trap"``).

    The detector's instance is unusable afterwards: later calls raise
    `DetectorClosed`. Keep snapshots to resume from.
    """

    def __init__(self, call: str, kind: TrapKind, detail: str) -> None:
        super().__init__(f"the detector component trapped in `{call}` ({kind}): {detail}")
        self.call = call
        self.kind: TrapKind = kind
        self.detail = detail


class DetectorClosed(ReconError, RuntimeError):
    """The detector was closed, or trapped earlier, and cannot be used."""


class InputError(ReconError, OSError):
    """An input could not be read (whole or from some point on): I/O, a
    corrupt gzip stream, or a JSON document whose structure is broken.
    ``source`` names the input."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
