"""Alerts, and the NDJSON line `recon detect` writes for each.

The line (`Alert.to_json`) follows the Rust host's ``host/src/output.rs``
byte for byte: keys in a fixed order, ``window_start``/``window_end`` as
RFC 3339 UTC, ``row`` and ``custom_details`` embedded as the JSON text the
component wrote, each entity as ``{"type": kind, <field>: <value>, ...}``,
compact separators, non-ASCII written as UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["Entity", "Alert", "format_time"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JSON_SPACE = " \t\n\r"
_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Year, month, day of a day count from 1970-01-01 (proleptic
    Gregorian, any year: Howard Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def format_time(ms: int) -> str:
    """Milliseconds since the epoch as RFC 3339 in UTC, as the Rust host
    writes them: ``2026-02-08T16:31:00Z``, with a fraction (trailing zeros
    dropped) only when there is one, e.g. ``1969-12-31T23:59:59.999Z``.
    Times RFC 3339 cannot write (outside years 0 to 9999) fall back to the
    number of milliseconds, as text."""
    days, rem = divmod(ms, 86_400_000)
    year, month, day = _civil_from_days(days)
    if not 0 <= year <= 9999:
        return str(ms)
    secs, millis = divmod(rem, 1000)
    hh, rest = divmod(secs, 3600)
    mm, ss = divmod(rest, 60)
    fraction = f".{millis:03d}".rstrip("0") if millis else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}{fraction}Z"


def _raw_json(text: str, what: str) -> str:
    """JSON text as embedded verbatim (surrounding whitespace aside); it
    must be valid JSON, as the Rust host requires."""
    try:
        json.loads(text)
    except ValueError as e:
        raise ValueError(f"the alert's {what} is not valid JSON: {e}") from None
    return text.strip(_JSON_SPACE)


@dataclass(frozen=True)
class Entity:
    """An entity of an alert (Sentinel entity mapping)."""

    #: Entity type, e.g. ``Account``.
    kind: str
    #: Identifier name and value pairs, e.g. ``(("Name", "alice"),)``.
    fields: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, str]:
        """``{"type": kind, <field>: <value>, ...}``, as alert lines show it."""
        d = {"type": self.kind}
        for k, v in self.fields:
            d[k] = v
        return d


@dataclass(frozen=True)
class Alert:
    """One alert: a group whose window closed with a distinct count at or
    above the threshold (the contract's ``alert``)."""

    #: ``sentinel-aws-cli-recon`` or ``elastic-aws-discovery-burst``.
    rule: str
    #: The upstream rule's own id.
    rule_id: str
    #: Stable id from rule, window and group: the same alert always has the
    #: same id, so consumers can de-duplicate.
    id: str
    #: Window start (inclusive), ms since the epoch.
    window_start_ms: int
    #: Window end (exclusive), ms since the epoch.
    window_end_ms: int
    #: The query's output row: a JSON object as text, field names exactly
    #: as the query emits them (`row_data` parses it).
    row: str
    title: str
    description: str
    #: ``Low``, ``Medium`` or ``High``.
    severity: str
    #: MITRE ATT&CK tactics.
    tactics: tuple[str, ...]
    #: MITRE ATT&CK technique ids.
    techniques: tuple[str, ...]
    entities: tuple[Entity, ...]
    #: Custom details: a JSON object as text (``{}`` when none).
    custom_details: str
    #: True when a list in ``row`` was cut at ``limits.max_list_entries``.
    truncated: bool

    @property
    def window_start(self) -> datetime:
        """Window start as an aware UTC datetime."""
        return _EPOCH + timedelta(milliseconds=self.window_start_ms)

    @property
    def window_end(self) -> datetime:
        """Window end as an aware UTC datetime."""
        return _EPOCH + timedelta(milliseconds=self.window_end_ms)

    @property
    def row_data(self) -> dict[str, Any]:
        """``row``, parsed."""
        value: dict[str, Any] = json.loads(self.row)
        return value

    @property
    def custom_details_data(self) -> dict[str, Any]:
        """``custom_details``, parsed."""
        value: dict[str, Any] = json.loads(self.custom_details)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The alert line's content as plain data (``row`` and
        ``custom_details`` parsed)."""
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The line `recon detect` prints for this alert (no line end),
        byte for byte."""
        e = _encode_str
        entities = ",".join(
            "{" + ",".join(f"{e(k)}:{e(v)}" for k, v in ent.to_dict().items()) + "}"
            for ent in self.entities
        )
        return (
            "{"
            f'"rule":{e(self.rule)},'
            f'"rule_id":{e(self.rule_id)},'
            f'"id":{e(self.id)},'
            f'"window_start":{e(format_time(self.window_start_ms))},'
            f'"window_end":{e(format_time(self.window_end_ms))},'
            f'"row":{_raw_json(self.row, "row")},'
            f'"title":{e(self.title)},'
            f'"description":{e(self.description)},'
            f'"severity":{e(self.severity)},'
            f'"tactics":[{",".join(e(t) for t in self.tactics)}],'
            f'"techniques":[{",".join(e(t) for t in self.techniques)}],'
            f'"entities":[{entities}],'
            f'"custom_details":{_raw_json(self.custom_details, "custom_details")},'
            f'"truncated":{"true" if self.truncated else "false"}'
            "}"
        )
