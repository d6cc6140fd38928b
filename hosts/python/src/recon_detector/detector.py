"""`Detector`: one running detection, in a sandboxed component instance of
its own (the contract's ``detector`` resource)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Sequence

from wasmtime.component import Variant

from ._runtime import Base64Step, Bytes, BytesStep, Instance, TextStep
from ._types import (
    BatchError,
    BatchResult,
    Config,
    InputVerdict,
    Outcome,
    Profile,
    ReadReport,
    ReadResult,
    RejectReason,
    Rule,
    RuleConfig,
    RuleCounts,
    RuleFile,
    RuleStats,
    Sandbox,
    Stats,
)
from .alert import Alert, Entity
from .errors import ConfigError, DetectorClosed, EventError, RuleError, SnapshotError

__all__ = ["Detector", "Input"]

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1
_S64 = (-(1 << 63), (1 << 63) - 1)


# ---------------------------------------------------------------------------
# Config -> the contract's config record.


def _invalid(message: str) -> ConfigError:
    return ConfigError("invalid-option", message)


def _uint(path: str, value: object, top: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise _invalid(f"{path} must be an integer from 0 to {top} (or None), not {value!r}")
    return value


def _window(path: str, value: object) -> str | None:
    if value is None:
        return None
    if value not in ("tumbling", "sliding"):
        raise _invalid(f"{path} must be 'tumbling' or 'sliding' (or None), not {value!r}")
    return str(value)


def _strings(path: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, set, frozenset)):
        raise _invalid(f"{path} must be a list of strings (or None), not {value!r}")
    out = list(value)
    for i, item in enumerate(out):
        if not isinstance(item, str):
            raise _invalid(f"{path}[{i}] must be a string, not {item!r}")
    return out


def _builtin_name(name: object, where: str) -> str:
    """A built-in's contract name from its short or contract name; the
    built-ins are the component's (`rules.builtin_rules`)."""
    from .rules import builtin_rules

    builtins = builtin_rules()
    for b in builtins:
        if isinstance(name, str) and name in (b.name, b.short_name):
            return b.name
    expected = " or ".join(b.short_name for b in builtins)
    full = " or ".join(b.name for b in builtins if b.name != b.short_name)
    raise _invalid(
        f"{where}: unknown rule {name!r}; expected a built-in: {expected}" + (f", or {full}" if full else "")
        + " (a data rule comes in rule_files, with no settings here)"
    )


def _lower_rule_files(files: object) -> list[SimpleNamespace]:
    if isinstance(files, (str, bytes, RuleFile)) or not isinstance(files, Sequence):
        raise _invalid(f"rule_files must be a list of RuleFile, not {files!r}")
    out = []
    for i, f in enumerate(files):
        if not isinstance(f, RuleFile):
            raise _invalid(f"rule_files[{i}] must be a recon_detector.RuleFile, not {type(f).__name__}")
        if not isinstance(f.name, str):
            raise _invalid(f"rule_files[{i}].name must be a string, not {f.name!r}")
        if not isinstance(f.text, str):
            raise _invalid(f"rule_files[{i}].text must be a string (the file's YAML), not {type(f.text).__name__}")
        out.append(SimpleNamespace(name=f.name, text=f.text))
    return out


def _lower_config(config: Config) -> SimpleNamespace:
    if not isinstance(config, Config):
        raise _invalid(f"config must be a recon_detector.Config, not {type(config).__name__}")
    if config.rules is not None and (
        isinstance(config.rules, (str, RuleConfig)) or not isinstance(config.rules, Sequence)
    ):
        raise _invalid(f"rules must be a list of rules, not {config.rules!r}")
    rules = []
    for i, rc in enumerate(config.rule_configs()):
        rule = _builtin_name(rc.rule, f"rules[{i}]")
        rules.append(
            SimpleNamespace(
                **{
                    "rule": rule,
                    "window-ms": _uint(f"rules[{i}].window_ms", rc.window_ms, _U64),
                    "min-distinct": _uint(f"rules[{i}].min_distinct", rc.min_distinct, _U32),
                    "commands": _strings(f"rules[{i}].commands", rc.commands),
                    "providers": _strings(f"rules[{i}].providers", rc.providers),
                    "suppress-ms": _uint(f"rules[{i}].suppress_ms", rc.suppress_ms, _U64),
                    "window": _window(f"rules[{i}].window", rc.window),
                }
            )
        )
    rule_files = _lower_rule_files(config.rule_files)
    try:
        profile = Profile(config.profile)
    except ValueError:
        raise _invalid(f"profile must be 'default' or 'seed', not {config.profile!r}") from None
    lim = config.limits
    limits = SimpleNamespace(
        **{
            "max-event-bytes": _uint("limits.max_event_bytes", lim.max_event_bytes, _U32),
            "max-open-groups": _uint("limits.max_open_groups", lim.max_open_groups, _U32),
            "max-list-entries": _uint("limits.max_list_entries", lim.max_list_entries, _U32),
            "max-time-jump-ms": _uint("limits.max_time_jump_ms", lim.max_time_jump_ms, _U64),
            "time-confirmations": _uint("limits.time_confirmations", lim.time_confirmations, _U32),
        }
    )
    return SimpleNamespace(
        **{
            "rules": rules,
            "rule-files": rule_files,
            "only-rules": _strings("only_rules", config.only_rules),
            "profile": profile.value,
            "allowed-lateness-ms": _uint("allowed_lateness_ms", config.allowed_lateness_ms, _U64),
            "limits": limits,
            "early-alerts": config.early_alerts,
        }
    )


# ---------------------------------------------------------------------------
# The contract's values -> Python.


def _get(record: Any, name: str) -> Any:
    return getattr(record, name)


def _config_error(v: Any) -> ConfigError:
    if isinstance(v, Variant) and v.tag in ("out-of-range", "invalid-list"):
        return ConfigError(v.tag, str(v.payload))  # type: ignore[arg-type]
    if isinstance(v, Variant) and v.tag == "rules" and v.payload is not None:
        p = v.payload
        r = RuleError(file=p.file, rule=p.rule, line=p.line, field=p.field, message=p.message)
        return ConfigError("rules", str(r), rule_error=r)
    raise TypeError(f"unexpected config-error value {v!r}")


def _reasons(items: Iterable[Any]) -> dict[RejectReason, int]:
    return {RejectReason(_get(rc, "reason")): int(_get(rc, "count")) for rc in items}


def _rule_counts(rules: Iterable[Any]) -> tuple[RuleCounts, ...]:
    return tuple(
        RuleCounts(rule=str(c.rule), accepted=c.accepted, filtered=c.filtered, late=c.late, rejected=c.rejected)
        for c in rules
    )


def _read_result(r: Any) -> ReadResult:
    reports = []
    for p in r.reports:
        at = p.at
        reports.append(
            ReadReport(
                line=None if at is None else getattr(at, "line"),
                record=None if at is None else getattr(at, "record"),
                reason=None if p.reason is None else RejectReason(p.reason),
                rule=None if p.rule is None else str(p.rule),
                message=p.message,
                log_event=None if at is None else _get(at, "log-event"),
            )
        )
    v = r.verdict
    return ReadResult(
        records=r.records,
        skipped=r.skipped,
        rules=_rule_counts(r.rules),
        reports=tuple(reports),
        unreadable=r.unreadable,
        control_messages=_get(r, "control-messages"),
        verdict=None
        if v is None
        else InputVerdict(
            records=int(v.records),
            misshapen=int(v.misshapen),
            none_readable=bool(_get(v, "none-readable")),
            looks_like=_get(v, "looks-like"),
            message=v.message,
        ),
    )


def _merge(a: ReadResult | None, b: ReadResult) -> ReadResult:
    """Two steps' results as one."""
    if a is None:
        return b
    rules = tuple(
        RuleCounts(
            rule=x.rule,
            accepted=x.accepted + y.accepted,
            filtered=x.filtered + y.filtered,
            late=x.late + y.late,
            rejected=x.rejected + y.rejected,
        )
        for x, y in zip(a.rules, b.rules)
    )
    return ReadResult(
        records=a.records + b.records,
        skipped=a.skipped + b.skipped,
        rules=rules,
        reports=a.reports + b.reports,
        unreadable=a.unreadable if a.unreadable is not None else b.unreadable,
        control_messages=a.control_messages + b.control_messages,
        verdict=b.verdict if b.verdict is not None else a.verdict,
    )


def _utf8_end(data: bytes) -> int:
    """Where the last complete UTF-8 sequence of ``data`` ends: ``len(data)``
    unless it ends inside a multi-byte character."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return n
        if b >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n if back >= need else n - back
    return n


def _batch_result(r: Any) -> BatchResult:
    return BatchResult(
        records=r.records,
        rejected=r.rejected,
        rules=_rule_counts(r.rules),
        errors=tuple(
            BatchError(
                index=e.index,
                rule=None if e.rule is None else str(e.rule),
                reason=RejectReason(e.error.reason),
                message=e.error.message,
            )
            for e in r.errors
        ),
        ahead=tuple(r.ahead),
    )


def _stats(s: Any) -> Stats:
    return Stats(
        pushed=s.pushed,
        rejected=s.rejected,
        rejected_by_reason=_reasons(_get(s, "rejected-by-reason")),
        rules=tuple(
            RuleStats(
                rule=str(r.rule),
                pushed=r.pushed,
                accepted=r.accepted,
                filtered=r.filtered,
                rejected=r.rejected,
                rejected_by_reason=_reasons(_get(r, "rejected-by-reason")),
                late=r.late,
                open_windows=_get(r, "open-windows"),
                open_groups=_get(r, "open-groups"),
                alerts=r.alerts,
                ahead=r.ahead,
                watermark=r.watermark,
                late_worst_ms=_get(r, "late-worst-ms"),
                lateness_needed_ms=_get(r, "lateness-needed-ms"),
                suppressed=r.suppressed,
            )
            for r in s.rules
        ),
        pending_alerts=_get(s, "pending-alerts"),
    )


def _alert(a: Any, instance: Instance) -> Alert:
    return Alert(
        rule=a.rule,
        rule_id=_get(a, "rule-id"),
        id=a.id,
        window_start_ms=_get(a, "window-start"),
        window_end_ms=_get(a, "window-end"),
        row=a.row,
        title=a.title,
        description=a.description,
        severity=a.severity,
        tactics=tuple(a.tactics),
        techniques=tuple(a.techniques),
        entities=tuple(Entity(kind=e.kind, fields=tuple((k, v) for k, v in e.fields)) for e in a.entities),
        custom_details=_get(a, "custom-details"),
        truncated=a.truncated,
        kind=a.kind,
        suppressed=a.suppressed,
        _instance=instance,
    )


def _event_text(event: object) -> str | bytes:
    """An event as JSON text: strings as they are, bytes as they are,
    anything else serialised compactly (``json.dumps``)."""
    if isinstance(event, str):
        return event
    if isinstance(event, (bytes, bytearray, memoryview)):
        return bytes(event)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _time_ms(t: int | datetime) -> int:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        delta = t - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"a time is ms since the epoch (int) or a datetime, not {t!r}")
    if not _S64[0] <= t <= _S64[1]:
        raise ValueError(f"time {t} ms is out of range")
    return t


# ---------------------------------------------------------------------------


class Detector:
    """One running detection: its rules, their open windows, watermark,
    pending alerts and counters.

    Each detector runs in a WebAssembly component instance (and wasmtime
    store) of its own, bounded by `sandbox`: detectors share nothing, and a
    trap ends only the one it happens in. Not thread-safe: use a detector
    from one thread at a time.

    >>> d = Detector(Config(rules=["sentinel"]))
    >>> d.push_ndjson(open("trail.jsonl", "rb").read())   # doctest: +SKIP
    >>> d.flush()
    >>> for alert in d.drain(): print(alert.to_json())
    """

    def __init__(self, config: Config | None = None, *, sandbox: Sandbox | None = None) -> None:
        """Builds a detector; raises `ConfigError` when the configuration is
        invalid (the component's message names the field)."""
        config = Config() if config is None else config
        lowered = _lower_config(config)
        self._instance = Instance(sandbox or Sandbox())
        created = self._instance.call("[static]detector.create", lowered)
        if isinstance(created, Variant):
            self._instance.close()
            raise _config_error(created)
        self._handle = created
        self._config: Config | None = config
        # The built-ins, then the data rules of the rule files: the
        # component's names, as its stats list them.
        self._rules: tuple[Rule, ...] = tuple(r.rule for r in self.stats().rules)

    @classmethod
    def restore(cls, snapshot: bytes, *, sandbox: Sandbox | None = None) -> "Detector":
        """A detector as it was when `snapshot` was taken: configuration,
        open windows, watermarks, pending alerts and counters. Damaged or
        foreign bytes raise `SnapshotError`."""
        if not isinstance(snapshot, (bytes, bytearray, memoryview)):
            raise TypeError("a snapshot is bytes")
        self = cls.__new__(cls)
        self._instance = Instance(sandbox or Sandbox())
        restored = self._instance.call("[static]detector.restore", Bytes(snapshot))
        # result<detector, snapshot-error>; wasmtime hands back the error's
        # payload: a string (malformed), an int (unsupported-version) or a
        # config-error variant (invalid-config).
        if isinstance(restored, (str, int, Variant)):
            self._instance.close()
            if isinstance(restored, str):
                raise SnapshotError("malformed", restored)
            if isinstance(restored, int):
                raise SnapshotError(
                    "unsupported-version",
                    f"the snapshot's format version {restored} is not supported",
                    version=restored,
                )
            inner = _config_error(restored)
            raise SnapshotError(
                "invalid-config", f"the snapshot's configuration is invalid: {inner.message}", config_error=inner
            )
        self._handle = restored
        self._config = None
        self._rules = tuple(r.rule for r in self.stats().rules)
        return self

    # -- properties ---------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules' names (the built-ins' contract names, then the data
        rules'), in configuration order: the order of outcomes and stats."""
        return self._rules

    @property
    def config(self) -> Config | None:
        """The configuration the detector was created with (``None`` for a
        restored one: the snapshot holds it, the contract does not hand it
        back)."""
        return self._config

    @property
    def sandbox(self) -> Sandbox:
        """The bounds of this detector's instance."""
        return self._instance.sandbox

    @property
    def closed(self) -> bool:
        """True once `close` was called or a call trapped."""
        return self._instance.dead is not None

    # -- the contract's methods ---------------------------------------------

    def push(self, event: str | bytes | Mapping[str, Any] | Any) -> dict[Rule, Outcome]:
        """Pushes one event: JSON text, or an object serialised with
        `json.dumps`. Returns each rule's outcome, in configuration order.
        Raises `EventError` when no rule can read the event (it is counted
        as rejected all the same)."""
        raw = _event_text(event)
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                # The contract's strings are Unicode; push-ndjson judges
                # (and counts) bytes that are not, as push would.
                one_line = raw.replace(b"\n", b" ").replace(b"\r", b" ")
                result = self.push_ndjson(one_line)
                e = result.errors[0]
                raise EventError(e.reason, e.message) from None
        else:
            text = raw
        out = self._instance.call("[method]detector.push", self._handle, text)
        if isinstance(out, list):
            return {rule: Outcome(o) for rule, o in zip(self._rules, out)}
        raise EventError(RejectReason(out.reason), out.message)

    def push_batch(self, events: Iterable[str | Mapping[str, Any] | Any]) -> BatchResult:
        """Pushes many events in one call, in order, as `push` on each would;
        a bad one is reported by index in the result, never raised. Events
        are JSON text (``str``, or UTF-8 ``bytes``) or objects serialised
        with `json.dumps`; bytes that are not UTF-8 raise `ValueError`
        before anything is pushed."""
        texts = []
        for i, e in enumerate(events):
            t = _event_text(e)
            if isinstance(t, bytes):
                try:
                    t = t.decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(
                        f"events[{i}] is not UTF-8; the contract's strings are Unicode "
                        "(push_ndjson takes raw bytes, and rejects such a record as invalid-json)"
                    ) from None
            texts.append(t)
        return _batch_result(self._instance.call("[method]detector.push-batch", self._handle, texts))

    def push_ndjson(self, records: bytes | bytearray | memoryview | str) -> BatchResult:
        """Pushes the records of a buffer of newline-delimited JSON, one per
        line (``\\r\\n`` too; blank lines skipped but counted in indexes; the
        last line needs no line end): the bulk input. Bad records (not
        JSON, not UTF-8, no time, ...) are counted and reported by line
        index in the result, never raised.

        The buffer is copied into the component's memory, which the
        sandbox's memory cap bounds: hand over about a megabyte at a time.
        """
        if isinstance(records, str):
            data = records.encode("utf-8")
        elif isinstance(records, (bytes, bytearray, memoryview)):
            data = bytes(records)
        else:
            raise TypeError("push_ndjson takes bytes (or str)")
        return _batch_result(self._instance.call("[method]detector.push-ndjson", self._handle, Bytes(data)))

    def flush(self, time_ms: int | datetime | None = None) -> int:
        """Advances the watermark to ``time_ms`` (ms since the epoch, or a
        datetime; naive ones are UTC) if that is later, closing every window
        that became final. With ``None``, ends the stream: closes every
        window (later events are late). Returns how many alerts the closed
        windows produced (`drain` hands them out)."""
        to = None if time_ms is None else _time_ms(time_ms)
        return int(self._instance.call("[method]detector.flush", self._handle, to))

    def drain(self) -> list[Alert]:
        """The alerts produced so far, then forgotten: ordered by window end,
        then rule (configuration order), then group."""
        return [_alert(a, self._instance) for a in self._instance.call("[method]detector.drain", self._handle)]

    def stats(self) -> Stats:
        """The detector's counters."""
        return _stats(self._instance.call("[method]detector.stats", self._handle))

    def snapshot(self) -> bytes:
        """Configuration, open windows, watermarks, pending alerts and
        counters, as bytes `Detector.restore` reads."""
        data: bytes = self._instance.call("[method]detector.snapshot", self._handle, bytes_result=True)
        return data

    def open_input(self, *, max_record_bytes: int | None = None, chunk_bytes: int | None = None) -> "Input":
        """Opens an input for this detector: bytes of any layout CloudTrail
        is delivered in (NDJSON, ``{"Records":[...]}`` documents, arrays,
        concatenated objects, gzip), read by the component's reader, their
        records pushed in the same call. One input per file or stream; a
        detector may read several in turn.

        ``max_record_bytes`` (longest record handed on) defaults to this
        detector's ``limits.max_event_bytes``, else the component's default
        (256 KiB); ``chunk_bytes`` (bytes of records pushed at once) to the
        component's (1 MiB). Raises `ConfigError` when one is out of range.
        """
        if max_record_bytes is None and self._config is not None:
            max_record_bytes = self._config.limits.max_event_bytes
        options = SimpleNamespace(
            **{
                "max-record-bytes": _uint("max_record_bytes", max_record_bytes, _U32),
                "chunk-bytes": _uint("chunk_bytes", chunk_bytes, _U32),
            }
        )
        created = self._instance.call("[static]reader.create", options)
        if isinstance(created, Variant):
            raise _config_error(created)
        return Input(self, created)

    def _read(self, reader: Any, step: Any) -> ReadResult:
        return _read_result(self._instance.call("[method]detector.read", self._handle, reader, step))

    # -- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Frees the detector; later calls raise `DetectorClosed`."""
        self._handle = None
        self._instance.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<recon_detector.Detector rules={list(self._rules)} {state}>"


class Input:
    """One input being read into a detector (`Detector.open_input`).

    Each call returns a `ReadResult`: the records the bytes completed and
    pushed, per-rule counts, reports worded as ``recon detect`` words them
    (with where each record was: line, record, log event), ``unreadable``
    once the input cannot be read from there on (later bytes are then
    ignored), the CloudWatch Logs control messages skipped, and (from
    `end` only) the input's `InputVerdict` when most of its records were
    not CloudTrail or none could be read.

    Bytes that are valid UTF-8 cross into the component as a string (one
    copy in wasmtime-py, where a byte list costs a value per byte); others
    (gzip) as their base64 text, decoded in the component (encoding and
    decoding cost far less than a value per byte). Either way the reader
    sees the same bytes.
    """

    def __init__(self, detector: Detector, reader: Any) -> None:
        self._detector = detector
        self._reader = reader
        #: The start of a UTF-8 character cut by the end of the last piece.
        self._carry = b""
        self._ended = False

    def _step(self, step: Any) -> ReadResult:
        if self._ended:
            raise DetectorClosed("the input has ended")
        return self._detector._read(self._reader, step)

    def feed(self, data: bytes | bytearray | memoryview | str) -> ReadResult:
        """The next bytes of the input (``str``: its UTF-8), cut anywhere."""
        if isinstance(data, str):
            if self._carry:
                return _merge(self._flush_carry(), self._step(Variant("text", data)))
            return self._step(Variant("text", data))
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("feed takes bytes (or str)")
        data = self._carry + bytes(data)
        self._carry = b""
        if not data.isascii():
            end = _utf8_end(data)
            try:
                data[:end].decode("utf-8")  # only checked: the bytes cross as they are
            except UnicodeDecodeError:
                return self._step(Base64Step(base64.b64encode(data)))
            data, self._carry = data[:end], data[end:]
        return self._step(TextStep(data))

    def _flush_carry(self) -> ReadResult:
        carry, self._carry = self._carry, b""
        return self._step(BytesStep(carry))

    def pause(self) -> ReadResult:
        """The input paused (nothing more for now): pushes the complete
        records held, so alerts are not held back."""
        first = self._flush_carry() if self._carry else None
        return _merge(first, self._step(Variant("pause")))

    def end(self) -> ReadResult:
        """The input ended: pushes everything held (a last line needs no
        line end); a document cut short is reported. Frees the reader."""
        first = self._flush_carry() if self._carry else None
        result = _merge(first, self._step(Variant("end")))
        self.close()
        return result

    def close(self) -> None:
        """Frees the reader in the component (done by `end`)."""
        self._ended = True
        reader, self._reader = self._reader, None
        instance = self._detector._instance
        if reader is not None and instance.dead is None:
            try:
                reader.drop(instance.store)
            except Exception:  # pragma: no cover - the instance is going away
                pass

    def __enter__(self) -> "Input":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
