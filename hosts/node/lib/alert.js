// Alerts as plain objects, and their lines. The component formats every
// alert (`format-alert` in wit/detector.wit): the native line `recon
// detect` prints and the OCSF finding, the same bytes from every host.

/** For alerts this package made: the component's alert, its formatter and its native line. */
const ORIGIN = new WeakMap();

/**
 * The plain alert object for one alert of the component (the jco value of
 * the WIT `alert` record): the native line, parsed.
 *
 * @returns {import('./index.js').Alert}
 */
export function toAlert(a, api) {
  const native = api.formatAlert(a, 'native', undefined);
  const alert = JSON.parse(native);
  ORIGIN.set(alert, { a, api, native });
  return alert;
}

const FORMATS = new Set(['native', 'ocsf']);

/**
 * The alert as one line of JSON (without the line end), formatted by the
 * component: `native` (default), byte for byte what `recon detect` prints,
 * or `ocsf`, an OCSF 1.8 Detection Finding; `tenant` puts a `tenant` member
 * first in the native line (and `metadata.tenant_uid` in the finding). Takes an alert this package returned
 * (`Detector#drain`, `detect`), whatever was done to the object since.
 *
 * @param {import('./index.js').Alert} alert
 * @param {{ format?: 'native' | 'ocsf', tenant?: string }} [options]
 * @returns {string}
 */
export function formatAlert(alert, { format = 'native', tenant } = {}) {
  const origin = ORIGIN.get(alert);
  if (!origin) throw new TypeError('formatAlert takes an alert this package returned (Detector#drain, detect)');
  if (!FORMATS.has(format)) throw new TypeError(`format must be 'native' or 'ocsf', got ${String(format)}`);
  if (tenant !== undefined && typeof tenant !== 'string') throw new TypeError('tenant must be a string');
  if (format === 'native' && tenant === undefined) return origin.native;
  return origin.api.formatAlert(origin.a, format, tenant);
}
