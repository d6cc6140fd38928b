"""Alerts, and the lines hosts write for them.

The lines are the component's (``format-alert`` in wit/detector.wit): the
native line ``recon detect`` prints and the OCSF 1.8 Detection Finding,
the same bytes from every host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Literal

__all__ = ["Entity", "Alert", "AlertFormat"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Output formats of `Alert.format`.
AlertFormat = Literal["native", "ocsf"]


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
    #: ``final`` (the window closed) or ``early`` (the threshold was
    #: reached before it closed; ``Config.early_alerts``).
    kind: str = "final"
    #: Alerts of the same group held back by suppression since its previous
    #: alert that went out (0 unless the rule suppresses).
    suppressed: int = 0
    #: The component instance that made the alert (it formats it).
    _instance: Any = field(default=None, repr=False, compare=False)

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
        return self.format("native")

    def format(self, format: AlertFormat = "native", tenant: str | None = None) -> str:
        """The alert as one line of JSON (no line end), as the component
        formats it: ``native`` (what ``recon detect`` prints) or ``ocsf``
        (an OCSF 1.8 Detection Finding, the native line under
        ``unmapped``); ``tenant`` puts a ``tenant`` member first in the
        native line (and ``metadata.tenant_uid`` in the finding)."""
        if format not in ("native", "ocsf"):
            raise ValueError(f"format must be 'native' or 'ocsf', not {format!r}")
        if tenant is not None and not isinstance(tenant, str):
            raise TypeError("tenant must be a str or None")
        from ._runtime import call_shared

        args = (self._lower(), format, tenant)
        if self._instance is not None and self._instance.dead is None:
            line: str = self._instance.call("format-alert", *args)
        else:
            line = call_shared("format-alert", *args)
        return line

    def _lower(self) -> SimpleNamespace:
        """The contract's ``alert`` record."""
        return SimpleNamespace(
            **{
                "rule": self.rule,
                "rule-id": self.rule_id,
                "id": self.id,
                "window-start": self.window_start_ms,
                "window-end": self.window_end_ms,
                "row": self.row,
                "title": self.title,
                "description": self.description,
                "severity": self.severity,
                "tactics": list(self.tactics),
                "techniques": list(self.techniques),
                "entities": [SimpleNamespace(kind=e.kind, fields=[tuple(f) for f in e.fields]) for e in self.entities],
                "custom-details": self.custom_details,
                "truncated": self.truncated,
                "kind": self.kind,
                "suppressed": self.suppressed,
            }
        )
