// Type declarations of recon-detector: the recon detector component
// (wit/detector.wit, recon:detector/detection@0.5.0) on Node.js.

/// <reference types="node" />

/**
 * A built-in rule by its short name (as on the command line and in the
 * configuration file: `sentinel`) or its full name (as in alerts and stats:
 * `sentinel-aws-cli-recon`). Which built-ins there are is the component's
 * to say: see `builtInRules()`.
 */
export type RuleName = string;
/**
 * A rule's name as alerts and stats carry it: a built-in's full name, or a
 * data rule's Sigma `name` (else its `id`, else its title).
 */
export type FullRuleName = string;

/** One of the component's built-in rules. */
export interface BuiltInRule {
  /** The contract's name (`sentinel-aws-cli-recon`), which alerts carry. */
  name: string;
  /** The command line's and the configuration file's (`sentinel`): the name's first word. */
  short: string;
}

/** One Sigma rule file, as text (the component parses it; the contract's `rule-file`). */
export interface RuleFile {
  /** Where it came from, for messages (a path, or any label). */
  name: string;
  /** The YAML text: one or more documents (detection, correlation and filter rules). */
  text: string;
}

/** One rule a configuration runs, as the component's registry (`list-rules`) describes it. */
export interface RuleInfo {
  /** The rule's name (alerts' `rule`). */
  name: string;
  /** Its upstream or Sigma id (empty when it has none). */
  id: string;
  title: string;
  kind: 'built-in' | 'correlation' | 'detection';
  /** The rule file it came from (data rules), else null. */
  file: string | null;
  /** Window width, ms (1 for a detection rule running alone). */
  windowMs: number;
  window: 'tumbling' | 'sliding';
  /** Suppression span, ms of event time (0: none). */
  suppressMs: number;
  /** When a group alerts, as written: `gte 8`, `gt 50, lte 100`. */
  threshold: string;
  /** What is compared with the threshold: `count`, or `distinct <field>`. */
  measure: string;
  groupBy: string[];
  /** The detection rules whose events it counts (data rules). */
  detections: string[];
  /** The Sigma filter rules applied to those detection rules. */
  filters: string[];
  severity: string;
  tactics: string[];
  techniques: string[];
  /** The `rules[]` settings that apply to it (built-ins: `window-ms`, `min-distinct`, `commands` or `providers`, and `suppress-ms`; data rules: none). */
  settings: string[];
}

/** Integers up to 2^53 as numbers; 64-bit fields also take bigints. */
export type U64 = number | bigint;

/** One built-in rule of a detector. Options left out take the rule's default. */
export interface RuleOptions {
  rule: RuleName;
  /** Window width in ms. Default 60000 (Sentinel), 10000 (Elastic). Must be positive. */
  windowMs?: U64;
  /** Smallest distinct count that alerts. Default 8 (Sentinel), 6 (Elastic). At least 1. */
  minDistinct?: number;
  /** Sentinel: the suspicious commands (`service.command`). Default: the seed's list. Must not be empty. */
  commands?: string[];
  /** After an alert of a group goes out, its alerts of windows starting within this many ms of event time are held back and counted (the next alert that goes out carries the count). Default 0: none. At most 7 days. */
  suppressMs?: U64;
  /** `tumbling` (default: the seed's epoch-aligned windows) or `sliding` (at each event, the window before it; one alert per episode). */
  window?: 'tumbling' | 'sliding';
  /** Elastic: the event sources that count (`iam.amazonaws.com`, ...). Default: the seed's nine. Must not be empty. */
  providers?: string[];
}

/** Bounds on what one detector accepts and holds (WIT `limits`). */
export interface LimitOptions {
  /** Largest event accepted, in bytes of JSON text. Default 262144 (256 KiB). */
  maxEventBytes?: number;
  /** Most groups (window x key) one rule holds open; past it, events are rejected as `state-limit`. Default 100000. */
  maxOpenGroups?: number;
  /** Most entries kept in one group's lists (counts stay exact; the alert says `truncated`). Default 10000. */
  maxListEntries?: number;
  /** Largest jump ahead of the watermark one record makes alone, in ms. Default 3600000; at least 1000. */
  maxTimeJumpMs?: U64;
  /** Records that must agree before the watermark follows a jump. Default 16; 1 to 1024. */
  timeConfirmations?: number;
}

/** Configuration of a detector (WIT `config`). Unknown keys are an error. */
export interface DetectorOptions {
  /** The built-in rules, each at most once, by name or with settings. Default: every built-in, in the component's order. The order is that of stats and batch results (data rules follow), and breaks ties in `drain`. May be empty when `ruleFiles` holds a rule. */
  rules?: Array<RuleName | RuleOptions>;
  /** Rules as data: Sigma rule files, which the component parses and compiles (a refused one: a ConfigError of kind `rules`). Default none. See `resolveRules` for reading them as `recon detect --rules` does. */
  ruleFiles?: RuleFile[];
  /** When set, of the runnable rules the rule files define, only those named run (the others are compiled and checked, and left idle): how a partitioned host gives each detector one data rule. Every name must be one of them. Default: all of them. */
  onlyRules?: string[];
  /** `default`: the queries' evident intent; `seed`: their letter. Default `default`. */
  profile?: 'default' | 'seed';
  /** How far behind the watermark an event may arrive and still count, in ms. Default 900000 (15 minutes). */
  allowedLatenessMs?: U64;
  /** Early alerts: also report a group (kind `early`) the moment it reaches the threshold, before its window closes; the final alert follows. Default false. */
  earlyAlerts?: boolean;
  limits?: LimitOptions;
  /** Bounds this host puts on the detector's component instance. */
  sandbox?: SandboxOptions;
}

/** Bounds the host puts on a detector's component instance (not part of the component's config). */
export interface SandboxOptions {
  /** Cap on the instance's linear memory, MiB (1 to 4096). Growing past it traps, which ends the detector. Default 256. */
  maxMemoryMib?: number;
}

export type Outcome = 'accepted' | 'filtered' | 'late' | 'state-limit';
export type RejectReason =
  | 'invalid-json'
  | 'not-an-object'
  | 'unknown-shape'
  | 'missing-time'
  | 'invalid-time'
  | 'too-large'
  | 'state-limit';

/** What one rule made of a batch. */
export interface RuleCounts {
  rule: FullRuleName;
  accepted: number;
  filtered: number;
  late: number;
  rejected: number;
}

/** What a batch call did. For every rule, accepted + filtered + late + rejected + the batch's rejected = records. */
export interface BatchResult {
  /** Records in the batch (for pushNdjson: non-blank lines). */
  records: number;
  /** Records no rule could read. */
  rejected: number;
  rules: RuleCounts[];
  /** Rejected events by index (the line of pushNdjson, blank lines counted); `rule` is null when no rule could read the record. */
  errors: Array<{ index: number; rule: FullRuleName | null; reason: RejectReason; message: string }>;
  /** Indexes of records far ahead of the watermark (counted, not trusted to move it alone). */
  ahead: number[];
}

export interface RuleStats {
  rule: FullRuleName;
  pushed: number;
  accepted: number;
  filtered: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
  late: number;
  /** Of the late events, the furthest behind the watermark when it arrived, in ms (0 when none was late; events late only because the stream had ended are left out). */
  lateWorstMs: number;
  /** The smallest `allowedLatenessMs` that would have applied every late event of this rule so far (0 when none was late). */
  latenessNeededMs: number;
  openWindows: number;
  openGroups: number;
  alerts: number;
  ahead: number;
  /** Final alerts held back by suppression (`suppressMs`). */
  suppressed: number;
  /** ms since the epoch; null until the first `timeConfirmations` records. */
  watermark: number | null;
}

export interface Stats {
  pushed: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
  rules: RuleStats[];
  pendingAlerts: number;
}

/** An alert, in the shape of a `recon detect` output line. */
export interface Alert {
  rule: FullRuleName;
  rule_id: string;
  /** Stable id from rule, window and group: the same alert always has the same id. */
  id: string;
  /** `final` (the window closed) or `early` (the threshold reached before it closed). */
  kind: 'final' | 'early';
  /** RFC 3339 UTC, e.g. `2026-02-08T16:31:00Z`. */
  window_start: string;
  window_end: string;
  /** The query's output row (field names as the query emits them). */
  row: Record<string, unknown>;
  title: string;
  description: string;
  severity: 'Low' | 'Medium' | 'High' | string;
  tactics: string[];
  techniques: string[];
  /** `{ type: kind, <field>: <value>, ... }` per entity. */
  entities: Array<{ type: string } & Record<string, string>>;
  custom_details: Record<string, unknown>;
  truncated: boolean;
  /** Alerts of the same group held back by suppression since its previous alert (present only when some were). */
  suppressed?: number;
}

/** One running detection in a component instance of its own. */
export declare class Detector implements Disposable {
  private constructor();
  /** Builds a detector; throws ConfigError when the options are invalid. */
  static create(options?: DetectorOptions): Promise<Detector>;
  /** Rebuilds a detector from `snapshot()` bytes; throws SnapshotError for damaged or foreign bytes. */
  static restore(snapshot: Uint8Array | ArrayBuffer, options?: { sandbox?: SandboxOptions }): Promise<Detector>;
  /** The rules (full names), in configuration order. */
  readonly rules: readonly FullRuleName[];
  /** The allowed lateness it runs with, in ms (the option, else the component's default); null for a restored detector. */
  readonly allowedLatenessMs: number | null;
  /** Bytes of linear memory the detector's component instance holds (it never shrinks). */
  readonly memoryBytes: number;
  /** One event (JSON text, or an object to serialise); throws EventError when no rule can read it. */
  push(event: string | object): Array<{ rule: FullRuleName; outcome: Outcome }>;
  /** Many events, in order; rejections are in the result. */
  pushBatch(events: Iterable<string | object>): BatchResult;
  /** Newline-delimited JSON, one record per line; rejections are in the result, by line. */
  pushNdjson(data: string | Uint8Array | ArrayBuffer): BatchResult;
  /** Advances the watermark to `to` (ms since the epoch, or a Date); with no argument ends the stream. Returns the alerts produced. */
  flush(to?: number | bigint | Date): number;
  /** The alerts produced so far (then forgotten), by window end, rule, group. */
  drain(): Alert[];
  stats(): Stats;
  /** Configuration, state and counters as bytes for `Detector.restore`. */
  snapshot(): Uint8Array;
  /**
   * Opens an input: bytes of any layout (NDJSON, `{"Records":[...]}`,
   * arrays, gzip) read by the component's reader, their records pushed in
   * the same call. `maxRecordBytes` defaults to `limits.maxEventBytes`
   * (else 256 KiB), `chunkBytes` to 1 MiB: the component's defaults.
   */
  openInput(options?: { maxRecordBytes?: number; chunkBytes?: number }): Input;
  /** Frees the detector; later calls throw. */
  close(): void;
  [Symbol.dispose](): void;
}

/** Where a record came from: the line (line-delimited input) and/or the record within a document or a line's `Records` array, 1-based. */
export interface Loc {
  line?: number;
  record?: number;
}

/** Something worth telling about what an input step read. */
export interface ReadReport {
  /** Line of the input (line-delimited input), 1-based, or null. */
  line: number | null;
  /** Record within a document or a line's `Records` array, 1-based, or null; with `logEvent`, the CloudWatch Logs message (a document's top-level value). */
  record: number | null;
  /** Log event within a CloudWatch Logs message's `logEvents`, 1-based, or null: `line 3, log event 2`. */
  logEvent: number | null;
  /** The rejection's reason; null for a time far ahead of the stream. */
  reason: RejectReason | null;
  /** The rule, for a rejection by one rule (`state-limit`). */
  rule: string | null;
  /** The report as `recon detect` words it, without the input's name: `line 7: rejected (invalid-time): ...`. */
  message: string;
}

/** What one step of an input read and pushed. */
export interface ReadResult {
  /** Records the reader handed on and the detector took. */
  records: number;
  /**
   * Records the reader skipped: for their size (each in `reports`, reason
   * `too-large`) and envelope values that hold no record (each in
   * `reports`, reason `unknown-shape`): never handed to the detector, so
   * not in its counters (`stats()`); `recon detect` adds them to the
   * records read.
   */
  skipped: number;
  rules: RuleCounts[];
  reports: ReadReport[];
  /** Set when the input cannot be read from here on (later bytes are ignored). */
  unreadable: string | null;
  /** CloudWatch Logs control messages (a subscription's health checks) skipped at this step: not records, in no other count. */
  controlMessages: number;
  /** Set by the step that ends the input (`end()`) when most of its records were not CloudTrail, or none could be read. */
  verdict: InputVerdict | null;
}

/** What an input looked like, when most of its records were not CloudTrail (`ReadResult.verdict`). */
export interface InputVerdict {
  /** Records read from the input (handed on, or skipped by the reader). */
  records: number;
  /** Of them, rejected for their shape (`invalid-json`, `not-an-object`, `unknown-shape`). */
  misshapen: number;
  /** No record could be read: `recon detect` exits non-zero. */
  noneReadable: boolean;
  /** What the input looks like, when recognised (`S3 event notifications`, `CloudTrail digest files`, ...). */
  looksLike: string | null;
  /** The notice as `recon detect` words it, without the input's name. */
  message: string;
}

/** One input being read into a detector (`Detector#openInput`). */
export declare class Input {
  /** The next bytes (a string is its UTF-8), cut anywhere. */
  feed(data: Uint8Array | string): ReadResult;
  /** The input paused: pushes the complete records held. */
  pause(): ReadResult;
  /** The input ended: pushes everything held; frees the reader. */
  end(): ReadResult;
  /** Frees the reader. */
  close(): void;
}

export interface DetectOptions extends DetectorOptions {
  /** Run on this detector (created or restored by you) instead of one made from the options; it is not closed at the end. */
  detector?: Detector;
  /** End the stream at the end of the source (`flush()`: every window closes). Default true. */
  finish?: boolean;
  /** Bytes of records per push. Default 1048576 (the component's default for a byte source). */
  chunkBytes?: number;
  /** When the source pauses this long (ms), what was read is pushed at once. Default 200. */
  lingerMs?: number;
  /** Record source: called after every batch, with a function giving where a batch index came from. */
  onBatch?: (result: BatchResult, locate: (index: number) => Loc) => void;
  /** Byte source: called after every step of the component's reader, with its reports. */
  onRead?: (result: ReadResult) => void;
  /** Stops the run (the generator throws the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Runs the rules over `source` and yields alerts as they become final; at
 * the end (unless `finish: false`) closes every window and yields the rest.
 * The generator's return value is the detector's final stats.
 *
 * `source` is bytes read as `recon detect` reads a file (a Readable such as
 * `fs.createReadStream(path)` or `process.stdin`, a web ReadableStream, a
 * Buffer or a string: NDJSON, `{"Records":[...]}`, a JSON array, gzipped or
 * not), or an (async) iterable of records (strings such as readline's
 * lines, Buffers, or objects).
 */
export declare function detect(
  source:
    | NodeJS.ReadableStream
    | ReadableStream<Uint8Array>
    | Uint8Array
    | string
    | Iterable<string | Uint8Array | object>
    | AsyncIterable<string | Uint8Array | object>,
  options?: DetectOptions,
): AsyncGenerator<Alert, Stats, undefined>;

/**
 * The alert as one JSON line (no line end), formatted by the component:
 * `native` (byte for byte what `recon detect` prints) or `ocsf` (an OCSF
 * 1.8 Detection Finding); with `tenant`, a `tenant` member first. Takes an
 * alert this package returned.
 */
export declare function formatAlert(alert: Alert, options?: { format?: 'native' | 'ocsf'; tenant?: string }): string;

/**
 * The component's built-in rules, in their declared order (read from its
 * `default-config`; nothing here names a rule).
 */
export declare function builtInRules(): Promise<ReadonlyArray<BuiltInRule>>;

/**
 * The registry: every rule a detector with these options would run (its
 * built-ins, then its data rules), described by the component. Throws a
 * ConfigError as `Detector.create` would.
 */
export declare function listRules(options?: DetectorOptions): Promise<RuleInfo[]>;

/** `catalogue`: the `resolveRules` entry naming the repository's rule catalogue (rules/). */
export declare const CATALOGUE: 'catalogue';

/**
 * The rules `entries` name, as `recon detect --rules` reads them: a
 * built-in's short name, `catalogue` (the repository's rules/ directory,
 * when this package runs from its checkout), else a Sigma rule file or a
 * directory of them (`*.yml`, `*.yaml`, recursive, in path order). No
 * entries: every built-in. Resolves to detector options (`rules`: the
 * built-ins named; `ruleFiles`: the files read, named as given); throws a
 * ConfigError (`invalid-option`) for an entry that is neither, or a file
 * that cannot be read.
 */
export declare function resolveRules(entries?: string[]): Promise<{ rules: string[]; ruleFiles: RuleFile[] }>;

/** What was transpiled at install: the interface, the component's size and SHA-256, the transpiler. */
export declare function componentInfo(): Promise<{
  interface: string;
  component: { source: string; bytes: number; sha256: string };
  transpiler: string;
}>;

export declare class ReconError extends Error {}
export declare class ConfigError extends ReconError {
  kind: 'out-of-range' | 'invalid-list' | 'rules' | 'invalid-option';
  /** For kind `rules`: where the rule file was refused, and why (`message` words it as `recon detect`: `FILE:LINE: rule "R": field "F": MESSAGE`). */
  ruleError: { file: string; rule: string | null; line: number | null; field: string | null; message: string } | null;
  /** True when the component refused the configuration (rather than this host, before calling it). */
  fromComponent: boolean;
}
export declare class EventError extends ReconError {
  reason: RejectReason;
}
export declare class SnapshotError extends ReconError {
  kind: 'malformed' | 'unsupported-version' | 'invalid-config';
  version?: number;
  configKind?: 'out-of-range' | 'invalid-list' | 'rules';
}
export declare class InputError extends ReconError {}
