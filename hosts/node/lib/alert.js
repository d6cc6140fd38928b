// Alerts as the Rust host writes them (host/src/output.rs): one compact
// JSON object per line, keys in a fixed order, `row` and `custom_details`
// embedded as the JSON text the component wrote.

import { ReconError } from './errors.js';

/** For alerts made here: the component's alert, to format the exact line. */
const ORIGIN = new WeakMap();

const pad2 = (n) => String(n).padStart(2, '0');

/**
 * Milliseconds since the epoch as RFC 3339 in UTC, the way the Rust host's
 * `time` crate writes it: `YYYY-MM-DDTHH:MM:SSZ`, with the fraction only
 * when it is not zero and without trailing zeros (`.5`, `.999`). Times
 * outside years 0000-9999 are written as the number of milliseconds.
 *
 * @param {number | bigint} ms
 * @returns {string}
 */
export function formatTime(ms) {
  const big = BigInt(ms);
  // Years 0 to 9999; beyond, RFC 3339 cannot write the time.
  if (big < -62_167_219_200_000n || big > 253_402_300_799_999n) return big.toString();
  const d = new Date(Number(big));
  const year = d.getUTCFullYear();
  let text =
    `${String(year).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  const millis = d.getUTCMilliseconds();
  if (millis !== 0) text += `.${String(millis).padStart(3, '0').replace(/0+$/, '')}`;
  return `${text}Z`;
}

/** JSON text with the surrounding JSON whitespace removed, checked to parse. */
function rawJson(text, field) {
  const trimmed = text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
  try {
    return { text: trimmed, value: JSON.parse(trimmed) };
  } catch (e) {
    throw new ReconError(`the component wrote an alert whose ${field} is not JSON: ${e.message}`, { cause: e });
  }
}

/** An entity as `{"type": kind, field: value, ...}`: a later duplicate name replaces the value in place. */
function entityEntries(kind, fields) {
  const m = new Map([['type', kind]]);
  for (const [k, v] of fields) m.set(k, v);
  return m;
}

function entityJson(map) {
  return `{${[...map].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/**
 * The plain alert object for one alert of the component (the jco value of
 * the WIT `alert` record).
 *
 * @returns {import('./index.js').Alert}
 */
export function toAlert(a) {
  const row = rawJson(a.row, 'row');
  const details = rawJson(a.customDetails, 'custom_details');
  const alert = {
    rule: a.rule,
    rule_id: a.ruleId,
    id: a.id,
    window_start: formatTime(a.windowStart),
    window_end: formatTime(a.windowEnd),
    row: row.value,
    title: a.title,
    description: a.description,
    severity: a.severity,
    tactics: [...a.tactics],
    techniques: [...a.techniques],
    entities: a.entities.map((e) => Object.fromEntries(entityEntries(e.kind, e.fields))),
    custom_details: details.value,
    truncated: a.truncated,
  };
  ORIGIN.set(alert, { a, row: row.text, details: details.text });
  return alert;
}

function line(f) {
  const s = JSON.stringify;
  return (
    `{"rule":${s(f.rule)},"rule_id":${s(f.rule_id)},"id":${s(f.id)}` +
    `,"window_start":${s(f.window_start)},"window_end":${s(f.window_end)}` +
    `,"row":${f.row},"title":${s(f.title)},"description":${s(f.description)}` +
    `,"severity":${s(f.severity)},"tactics":${s(f.tactics)},"techniques":${s(f.techniques)}` +
    `,"entities":[${f.entities.join(',')}],"custom_details":${f.custom_details}` +
    `,"truncated":${f.truncated ? 'true' : 'false'}}`
  );
}

/**
 * The alert as one line of NDJSON (without the line end), byte for byte
 * what `recon detect` prints for it.
 *
 * For an alert this package returned, the line is made from what the
 * component produced (`row` and `custom_details` verbatim), whatever was
 * done to the object since. Any other object with the alert's fields is
 * serialised in the same key order.
 *
 * @param {import('./index.js').Alert} alert
 * @returns {string}
 */
export function formatAlert(alert) {
  const origin = ORIGIN.get(alert);
  if (origin) {
    const { a } = origin;
    return line({
      rule: a.rule,
      rule_id: a.ruleId,
      id: a.id,
      window_start: formatTime(a.windowStart),
      window_end: formatTime(a.windowEnd),
      row: origin.row,
      title: a.title,
      description: a.description,
      severity: a.severity,
      tactics: a.tactics,
      techniques: a.techniques,
      entities: a.entities.map((e) => entityJson(entityEntries(e.kind, e.fields))),
      custom_details: origin.details,
      truncated: a.truncated,
    });
  }
  return line({
    ...alert,
    row: JSON.stringify(alert.row),
    entities: (alert.entities ?? []).map((e) => JSON.stringify(e)),
    custom_details: JSON.stringify(alert.custom_details),
  });
}
