"""The contract's types (wit/detector.wit) as Python enums and dataclasses.

Configuration (`Config`, `RuleConfig`, `RuleFile`, `Limits`) maps field
for field onto the contract's ``config`` record, in snake_case; a field
left ``None`` takes the contract's documented default, which the
docstrings repeat. `Sandbox` holds the bounds this host puts around the
component.

A rule is named by text (`Rule` is ``str``): a built-in by the contract's
name (``sentinel-aws-cli-recon``) or its short name (``sentinel``), a data
rule by its Sigma name. Which built-ins there are is the component's to
say (`recon_detector.builtin_rules`); nothing here lists them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Sequence, TypeAlias, Union

__all__ = [
    "Rule",
    "RuleKind",
    "RuleFile",
    "RuleInfo",
    "BuiltInRule",
    "Profile",
    "RejectReason",
    "Outcome",
    "RuleConfig",
    "Limits",
    "Config",
    "Sandbox",
    "RuleCounts",
    "BatchError",
    "BatchResult",
    "RuleStats",
    "Stats",
    "ReadReport",
    "ReadResult",
    "InputVerdict",
]


#: A rule's name (the contract's ``rule``): a built-in's contract name
#: (``sentinel-aws-cli-recon``, which alerts carry) or, where a built-in is
#: named in a configuration, its short name (``sentinel``); a data rule's
#: Sigma ``name`` (else its ``id``, else its title). Plain text: statistics,
#: outcomes and errors carry the contract's name as a ``str``.
Rule: TypeAlias = str


class RuleKind(str, enum.Enum):
    """What kind of rule a registry entry (`RuleInfo`) is."""

    #: One of the component's built-ins, configured by `RuleConfig`.
    BUILT_IN = "built-in"
    #: A Sigma correlation: grouped, windowed, counted.
    CORRELATION = "correlation"
    #: A Sigma detection rule running alone: one alert per matching event.
    DETECTION = "detection"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class BuiltInRule:
    """One of the component's built-in rules (`recon_detector.builtin_rules`)."""

    #: The contract's name (``sentinel-aws-cli-recon``), which alerts carry.
    name: str
    #: The command line's and the configuration file's name (``sentinel``):
    #: the name's first word, or the whole name when two built-ins share it.
    short_name: str


@dataclass(frozen=True)
class RuleFile:
    """One Sigma rule file, as text (the contract's ``rule-file``): the
    component parses and compiles it; this host parses nothing."""

    #: Where it came from, for messages (a path, or any label).
    name: str
    #: The YAML text: one or more documents (detection, correlation and
    #: filter rules).
    text: str


@dataclass(frozen=True)
class RuleInfo:
    """One rule a configuration runs, as the component's registry
    (``list-rules``, `recon_detector.list_rules`) describes it."""

    #: The rule's name (alerts' ``rule``).
    name: str
    #: Its upstream or Sigma id (empty when it has none).
    id: str
    title: str
    kind: RuleKind
    #: The rule file it came from (data rules), else ``None``.
    file: str | None
    #: Window width, ms (1 for a detection rule running alone).
    window_ms: int
    #: ``tumbling`` or ``sliding``.
    window: str
    #: Suppression span, ms of event time (0: none).
    suppress_ms: int
    #: When a group alerts, as written: ``gte 8``, ``gt 50, lte 100``.
    threshold: str
    #: What is compared with the threshold: ``count``, or ``distinct <field>``.
    measure: str
    group_by: tuple[str, ...]
    #: The detection rules whose events it counts (data rules).
    detections: tuple[str, ...]
    #: The Sigma filter rules applied to those detection rules.
    filters: tuple[str, ...]
    severity: str
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    #: The `RuleConfig` fields that apply to it (built-ins: ``window-ms``,
    #: ``min-distinct``, ``commands`` or ``providers``, and ``suppress-ms``;
    #: data rules: none).
    settings: tuple[str, ...]


class Profile(str, enum.Enum):
    """How literally the rules follow their published query text."""

    #: The queries' evident intent (reads aws-cli v2 user agents, restores
    #: the lost comma of the Sentinel command list, fills AccountUPNSuffix).
    DEFAULT = "default"
    #: The queries' letter: what the SIEM returns, quirks included.
    SEED = "seed"

    def __str__(self) -> str:
        return self.value


class RejectReason(str, enum.Enum):
    """Why an event was rejected (counted per reason, never dropped silently)."""

    INVALID_JSON = "invalid-json"
    NOT_AN_OBJECT = "not-an-object"
    UNKNOWN_SHAPE = "unknown-shape"
    MISSING_TIME = "missing-time"
    INVALID_TIME = "invalid-time"
    TOO_LARGE = "too-large"
    STATE_LIMIT = "state-limit"

    def __str__(self) -> str:
        return self.value


class Outcome(str, enum.Enum):
    """What one rule made of one readable event (`Detector.push`)."""

    ACCEPTED = "accepted"
    FILTERED = "filtered"
    LATE = "late"
    STATE_LIMIT = "state-limit"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RuleConfig:
    """One built-in rule of a detector (the contract's ``rule-config``).

    ``None`` takes the rule's default.
    """

    #: The built-in, by its short (``"sentinel"``) or full name.
    rule: Rule
    #: Window width in ms. Default 60000 (Sentinel), 10000 (Elastic).
    window_ms: int | None = None
    #: Smallest distinct count that alerts. Default 8 (Sentinel), 6 (Elastic).
    min_distinct: int | None = None
    #: Sentinel: the suspicious commands (``service.command``, whole terms,
    #: any case). Default: the seed's list as the profile reads it.
    commands: Sequence[str] | None = None
    #: Elastic: the event sources that count. Default: the seed's nine.
    providers: Sequence[str] | None = None
    #: After an alert of a group goes out, its alerts of windows starting
    #: within this many ms of event time are held back and counted (the
    #: next alert that goes out carries the count). Default 0: none.
    suppress_ms: int | None = None
    #: ``"tumbling"`` (default: the seed's epoch-aligned windows) or
    #: ``"sliding"`` (at each event, the window before it; one alert per
    #: episode).
    window: str | None = None


@dataclass(frozen=True)
class Limits:
    """Bounds on what one detector accepts and holds (the contract's ``limits``)."""

    #: Largest event in bytes of JSON text; larger ones are rejected as
    #: ``too-large`` unread. Default 262144 (256 KiB).
    max_event_bytes: int | None = None
    #: Most groups (window x key) one rule holds open; past it, events are
    #: rejected as ``state-limit``. Default 100000.
    max_open_groups: int | None = None
    #: Most entries kept in an alert's lists (counts stay exact; the alert
    #: says ``truncated``). Default 10000.
    max_list_entries: int | None = None
    #: Largest jump ahead of the watermark one record makes alone, in ms.
    #: Default 3600000 (one hour); at least 1000.
    max_time_jump_ms: int | None = None
    #: Records that must agree before the watermark follows a jump.
    #: Default 16; 1 to 1024 (1: the classic watermark).
    time_confirmations: int | None = None


RuleSpec = Union[RuleConfig, str]


@dataclass(frozen=True)
class Config:
    """A detector's configuration (the contract's ``config``).

    The component validates ranges and lists; what it refuses raises
    `ConfigError` with its message, which names the field.
    """

    #: The built-in rules, each at most once, as `RuleConfig` or names;
    #: their order is that of statistics and batch results (data rules
    #: follow) and breaks ties in `Detector.drain`. ``None`` (the default):
    #: every built-in, in the component's order. May be empty when
    #: ``rule_files`` holds a rule.
    rules: Sequence[RuleSpec] | None = None
    #: Rules as data: Sigma rule files (`RuleFile`), which the component
    #: parses and compiles when the detector is created (a refused one
    #: raises `ConfigError` of kind ``rules``). Default none. See
    #: `recon_detector.resolve_rules` to read them as ``recon detect
    #: --rules`` does.
    rule_files: Sequence[RuleFile] = ()
    #: When set, of the runnable rules the rule files define, only those
    #: named run (the others are compiled and checked, and left idle): how
    #: a partitioned host gives each detector one data rule. Every name
    #: must be one of them. Default ``None``: all of them.
    only_rules: Sequence[str] | None = None
    #: Letter or intent of the queries. Default ``Profile.DEFAULT``.
    profile: Profile | str = Profile.DEFAULT
    #: How far behind the watermark an event may arrive and still count, in
    #: ms. Default 900000 (15 minutes: CloudTrail's S3 delivery).
    allowed_lateness_ms: int | None = None
    #: State bounds.
    limits: Limits = field(default_factory=Limits)
    #: Early alerts: also report a group (an alert of kind ``early``) the
    #: moment its distinct count reaches the threshold, before its window
    #: closes; the final alert follows. Default ``False``.
    early_alerts: bool | None = None

    def rule_configs(self) -> tuple[RuleConfig, ...]:
        """The built-ins as `RuleConfig`s (names turned into default ones;
        ``rules=None``: every built-in the component has)."""
        if self.rules is None:
            from .rules import builtin_rules

            return tuple(RuleConfig(rule=b.name) for b in builtin_rules())
        return tuple(r if isinstance(r, RuleConfig) else RuleConfig(rule=r) for r in self.rules)


#: Default `Sandbox.max_memory_bytes`: 256 MiB (the Rust host's default).
DEFAULT_MAX_MEMORY_BYTES = 256 << 20
#: Default `Sandbox.call_timeout`: 10 s (the Rust host's default).
DEFAULT_CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Sandbox:
    """Bounds this host enforces on a detector's component instance.

    Each `Detector` runs in an instance (and a wasmtime store) of its own,
    so these bound one detector, and a trap ends only that one.
    """

    #: Cap on the instance's linear memory, in bytes (wasmtime's store
    #: limits): growing past it fails inside the component, whose allocator
    #: then traps (`ComponentTrap`). Input handed over in one call is copied
    #: into that memory and counts against the cap. Default 256 MiB.
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    #: Longest one call may run, in seconds (epoch interruption, ticking
    #: every 10 ms while a call runs); ``None`` disables the deadline.
    #: Default 10 s.
    call_timeout: float | None = DEFAULT_CALL_TIMEOUT
    #: Fuel (about one unit per WebAssembly instruction) one call may burn;
    #: ``None`` (the default) disables metering, which costs speed when on.
    fuel_per_call: int | None = None


@dataclass(frozen=True)
class RuleCounts:
    """What one rule made of a batch."""

    rule: Rule
    accepted: int
    filtered: int
    late: int
    rejected: int


@dataclass(frozen=True)
class BatchError:
    """A rejected event of a batch."""

    #: Position in the batch from 0: the list index (`Detector.push_batch`)
    #: or the line (`Detector.push_ndjson`, blank lines counted).
    index: int
    #: ``None`` when no rule could read the record; else the rule that
    #: rejected it (``state-limit``).
    rule: Rule | None
    reason: RejectReason
    #: Names the field and what is wrong with it.
    message: str


@dataclass(frozen=True)
class BatchResult:
    """The result of `Detector.push_batch` / `Detector.push_ndjson`.

    For every rule, ``accepted + filtered + late + rejected`` plus the
    batch's ``rejected`` equals ``records``.
    """

    #: Records in the batch (for NDJSON: non-blank lines).
    records: int
    #: Records no rule could read.
    rejected: int
    #: Per rule, in configuration order.
    rules: tuple[RuleCounts, ...]
    #: Rejections, in index order.
    errors: tuple[BatchError, ...]
    #: Indexes of records far ahead of the watermark (counted, but not
    #: trusted to move it alone).
    ahead: tuple[int, ...]


@dataclass(frozen=True)
class RuleStats:
    """Counters of one rule since the detector was created (or as restored).

    ``pushed == accepted + filtered + rejected + late``.
    """

    rule: Rule
    pushed: int
    accepted: int
    filtered: int
    rejected: int
    rejected_by_reason: Mapping[RejectReason, int]
    late: int
    open_windows: int
    open_groups: int
    alerts: int
    ahead: int
    #: ms since the epoch; ``None`` until the first confirmations.
    watermark: int | None
    #: Of the late events, the furthest behind the watermark when it
    #: arrived, in ms (0 when none was late; events late only because the
    #: stream had ended are left out).
    late_worst_ms: int = 0
    #: The smallest ``allowed_lateness_ms`` that would have applied every
    #: late event of this rule so far (0 when none was late).
    lateness_needed_ms: int = 0
    #: Final alerts held back by suppression.
    suppressed: int = 0


@dataclass(frozen=True)
class Stats:
    """A detector's counters."""

    pushed: int
    rejected: int
    rejected_by_reason: Mapping[RejectReason, int]
    rules: tuple[RuleStats, ...]
    #: Alerts produced and not yet drained.
    pending_alerts: int


@dataclass(frozen=True)
class ReadReport:
    """Something worth telling about what a step of an input read (the
    contract's ``read-report``)."""

    #: The line of the input (line-delimited input), from 1, or ``None``.
    line: int | None
    #: The record within a document or a line's ``Records`` array, from 1,
    #: or ``None``; with ``log_event``, the CloudWatch Logs message (a
    #: document's top-level value) the log event is in.
    record: int | None
    #: The rejection's reason; ``None`` for a time far ahead of the stream.
    reason: RejectReason | None
    #: The rule, for a rejection by one rule (``state-limit``).
    rule: Rule | None
    #: The report as ``recon detect`` words it, without the input's name:
    #: ``line 7: rejected (invalid-time): ...``.
    message: str
    #: The log event within a CloudWatch Logs message's ``logEvents``, from
    #: 1, or ``None``: ``line 3, log event 2``.
    log_event: int | None = None


@dataclass(frozen=True)
class InputVerdict:
    """What an input looked like, when most of its records were not
    CloudTrail records or none could be read (the contract's
    ``input-verdict``, in `ReadResult.verdict` at the end of an input)."""

    #: Records read from the input (handed on, or skipped by the reader).
    records: int
    #: Of them, rejected for their shape (``invalid-json``,
    #: ``not-an-object``, ``unknown-shape``).
    misshapen: int
    #: No record could be read: ``recon detect`` exits non-zero.
    none_readable: bool
    #: What the input looks like, when recognised (``S3 event
    #: notifications``, ``CloudTrail digest files``, ...).
    looks_like: str | None
    #: The notice as ``recon detect`` words it, without the input's name.
    message: str


@dataclass(frozen=True)
class ReadResult:
    """What one step of an input (`Detector.open_input`) read and pushed."""

    #: Records the reader handed on and the detector took.
    records: int
    #: Records the reader skipped: for their size (each in ``reports``,
    #: reason ``too-large``) and envelope values that hold no record (each
    #: in ``reports``, reason ``unknown-shape``): never handed to the
    #: detector, so not in its counters (`Stats`); ``recon detect`` adds
    #: them to the records read.
    skipped: int
    #: Per rule, in configuration order.
    rules: tuple[RuleCounts, ...]
    #: Rejections, too-large records and far-ahead times, in input order.
    reports: tuple[ReadReport, ...]
    #: Set when the input cannot be read from here on (later bytes are
    #: ignored): the worded reason, without the input's name.
    unreadable: str | None
    #: CloudWatch Logs control messages (a subscription's health checks)
    #: skipped at this step: not records, in no other count.
    control_messages: int = 0
    #: Set by the step that ends the input (`Input.end`) when most of its
    #: records were not CloudTrail records, or none could be read.
    verdict: InputVerdict | None = None
