//! Loading and running the detector component under wasmtime, inside a
//! sandbox: the component gets no imports at all (an empty linker), its
//! memory is capped, and every call runs against a deadline (epoch
//! interruption, and optionally a fuel budget) so a runaway guest traps
//! instead of hanging the pipeline.
//!
//! Compiling the component takes most of a second; [`Runtime::cached`]
//! keeps the compiled code in a cache directory, checked before it is
//! trusted, so later starts take milliseconds.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{
    Config as EngineConfig, Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "detector-component",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::exports::recon::detector::detection::{
    Alert, AlertKind, ApplyError, BatchError, BatchResult, Config, ConfigError, Entity, EventError,
    Limits, Outcome, Placement, Profile, ReasonCount, RejectReason, Rule, RuleConfig, RuleCounts,
    RuleError, RuleFile, RuleInfo, RuleKind, RuleStats, Scanned, SnapshotError, Stats, WindowMode,
};
/// The contract's reader types (0.3.0).
pub use bindings::exports::recon::detector::detection::{
    AlertFormat, Chunk as ReadChunk, ChunkLocations, Location, ReadEvent, ReadReport, ReadResult,
    ReadStep, ReaderOptions, TooLarge,
};
use bindings::{DetectorComponent, DetectorComponentPre};

/// The detector component, built from `guest/` by this crate's build script.
pub static COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/recon_detector.component.wasm"));

/// Default cap on one instance's linear memory: 256 MiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 << 20;
/// Default longest one call may run: 10 s. Scanning a 1 MiB buffer takes a
/// few milliseconds, so only a runaway guest comes near it.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the deadline clock ticks: the resolution of
/// [`SandboxLimits::call_timeout`].
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bounds the host enforces on a component instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Most bytes of linear memory the instance may grow to; growing past
    /// it traps.
    pub max_memory_bytes: usize,
    /// Longest one call (`push-ndjson`, `flush`, …) may run before it
    /// traps; `None` disables the deadline. Enforced by epoch interruption,
    /// which costs the guest almost nothing.
    pub call_timeout: Option<Duration>,
    /// Fuel (roughly, wasm instructions) one call may burn; `None` (the
    /// default) disables fuel metering. Deterministic where the deadline is
    /// not, but it slows the guest down by about a third.
    pub fuel_per_call: Option<u64>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            call_timeout: Some(DEFAULT_CALL_TIMEOUT),
            fuel_per_call: None,
        }
    }
}

/// What can go wrong between the host and the component.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The component bytes could not be compiled or linked.
    #[error("loading the detector component: {0}")]
    Load(String),
    /// A call into the component trapped or failed; the instance is
    /// unusable afterwards.
    #[error("the detector component failed in `{call}`: {message}")]
    Guest {
        /// The contract function called.
        call: &'static str,
        /// The trap, when the failure was one.
        trap: Option<Trap>,
        /// Description.
        message: String,
    },
    /// The component refused the configuration.
    #[error("invalid detector configuration: {}", config_error_text(.0))]
    Config(ConfigError),
    /// The component refused a snapshot.
    #[error("cannot restore the snapshot: {0}")]
    Snapshot(SnapshotError),
    /// The detector refused a scanner's payload.
    #[error("the detector refused a scanned payload: {0:?}")]
    Apply(ApplyError),
}

/// A refused configuration in words: the message, or for a rule file,
/// `file:line: rule "r": field "f": message` (the core's wording).
pub fn config_error_text(e: &ConfigError) -> String {
    match e {
        ConfigError::OutOfRange(m) | ConfigError::InvalidList(m) => m.clone(),
        ConfigError::Rules(r) => recon_guest::RuleError {
            file: r.file.clone(),
            rule: r.rule.clone(),
            line: r.line,
            field: r.field.clone(),
            message: r.message.clone(),
        }
        .to_string(),
    }
}

fn guest_error(call: &'static str) -> impl FnOnce(wasmtime::Error) -> HostError {
    move |e| HostError::Guest {
        call,
        trap: e.downcast_ref::<Trap>().copied(),
        message: format!("{e:?}"),
    }
}

/// Where a compiled component came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// No cache was asked for: compiled now.
    NotCached,
    /// Loaded from this cache file.
    Hit(PathBuf),
    /// Compiled now and written to this file (`None` inside when writing
    /// failed: the run goes on, uncached). The reason an existing entry
    /// was not used, if there was one.
    Miss {
        /// The file written, if writing worked.
        written: Option<PathBuf>,
        /// Why an existing entry was refused (damaged, foreign, stale).
        refused: Option<String>,
    },
}

/// First bytes of a cache file; the digit is the file format version.
const CACHE_MAGIC: &[u8; 8] = b"RECONCW1";

/// The store's resource limits, which also remember how large the linear
/// memory has grown (it never shrinks): the instance's memory footprint.
pub struct Limiter {
    limits: StoreLimits,
    memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if ok {
            self.memory_bytes = self.memory_bytes.max(desired);
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// Stops the deadline clock when the runtime is dropped.
struct Ticker(Arc<AtomicBool>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A compiled component, ready to instantiate many times, from any thread.
pub struct Runtime {
    engine: Engine,
    pre: DetectorComponentPre<Limiter>,
    limits: SandboxLimits,
    cache: CacheOutcome,
    _ticker: Option<Ticker>,
}

impl Runtime {
    /// Compiles the embedded component.
    pub fn new(limits: SandboxLimits) -> Result<Runtime, HostError> {
        Runtime::from_bytes(COMPONENT, limits)
    }

    /// Compiles a component from bytes (the embedded one, or another build
    /// of the same contract).
    pub fn from_bytes(bytes: &[u8], limits: SandboxLimits) -> Result<Runtime, HostError> {
        let engine = engine(&limits)?;
        let component = Component::new(&engine, bytes).map_err(load)?;
        Runtime::link(engine, &component, limits, CacheOutcome::NotCached)
    }

    /// The embedded component, compiled once and kept in `dir`: later
    /// calls load the compiled code instead of compiling again. An entry is
    /// used only when its name matches this component, this wasmtime and
    /// this engine configuration, and its checksum matches its content;
    /// anything else is recompiled and rewritten. The directory must be as
    /// trusted as the program itself (compiled code in it is run).
    pub fn cached(limits: SandboxLimits, dir: &Path) -> Result<Runtime, HostError> {
        let engine = engine(&limits)?;
        let path = dir.join(cache_name(&engine, COMPONENT));
        let mut refused = None;
        match std::fs::read(&path) {
            Ok(bytes) => match checked_body(&bytes) {
                Ok(body) => {
                    // SAFETY: `body` was written by `Component::serialize` of
                    // this program for this engine configuration (the file
                    // name encodes both) and its checksum matches, so it is
                    // the compiled code we wrote, not damaged or foreign.
                    match unsafe { Component::deserialize(&engine, body) } {
                        Ok(component) => {
                            let outcome = CacheOutcome::Hit(path);
                            return Runtime::link(engine, &component, limits, outcome);
                        }
                        Err(e) => refused = Some(format!("{e}")),
                    }
                }
                Err(why) => refused = Some(why),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => refused = Some(e.to_string()),
        }
        let component = Component::new(&engine, COMPONENT).map_err(load)?;
        let written = component
            .serialize()
            .ok()
            .and_then(|body| write_cache(dir, &path, &body).ok())
            .map(|()| path);
        Runtime::link(
            engine,
            &component,
            limits,
            CacheOutcome::Miss { written, refused },
        )
    }

    fn link(
        engine: Engine,
        component: &Component,
        limits: SandboxLimits,
        cache: CacheOutcome,
    ) -> Result<Runtime, HostError> {
        // An empty linker: the component may import nothing.
        let linker = Linker::<Limiter>::new(&engine);
        let pre = linker.instantiate_pre(component).map_err(load)?;
        let pre = DetectorComponentPre::new(pre).map_err(load)?;
        let ticker = limits.call_timeout.map(|_| {
            let stop = Arc::new(AtomicBool::new(false));
            let (engine, flag) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("recon-deadline".into())
                .spawn(move || {
                    while !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map(|_| Ticker(stop))
        });
        let ticker = match ticker {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                return Err(HostError::Load(format!("starting the deadline clock: {e}")));
            }
            None => None,
        };
        Ok(Runtime {
            engine,
            pre,
            limits,
            cache,
            _ticker: ticker,
        })
    }

    /// Where the compiled component came from.
    pub fn cache_outcome(&self) -> &CacheOutcome {
        &self.cache
    }

    /// The sandbox bounds every instance gets.
    pub fn limits(&self) -> SandboxLimits {
        self.limits
    }

    /// The imports the component declares, as `name` strings (the contract
    /// promises none).
    pub fn component_imports(&self) -> Vec<String> {
        let ty = self.pre.instance_pre().component().component_type();
        ty.imports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect()
    }

    /// A fresh instance with its own memory and detectors.
    pub fn instantiate(&self) -> Result<Instance, HostError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.max_memory_bytes)
            .instances(4)
            .tables(8)
            .memories(2)
            .build();
        let mut store = Store::new(
            &self.engine,
            Limiter {
                limits,
                memory_bytes: 0,
            },
        );
        store.limiter(|l| l);
        let deadline = self
            .limits
            .call_timeout
            .map(|t| (t.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1);
        let mut instance_store = InstanceStore {
            store,
            fuel_per_call: self.limits.fuel_per_call,
            deadline,
        };
        instance_store.arm("instantiate")?;
        let bindings = self
            .pre
            .instantiate(&mut instance_store.store)
            .map_err(guest_error("instantiate"))?;
        Ok(Instance {
            inner: instance_store,
            bindings,
        })
    }
}

fn load(e: wasmtime::Error) -> HostError {
    HostError::Load(format!("{e:?}"))
}

fn engine(limits: &SandboxLimits) -> Result<Engine, HostError> {
    let mut config = EngineConfig::new();
    config.consume_fuel(limits.fuel_per_call.is_some());
    config.epoch_interruption(limits.call_timeout.is_some());
    Engine::new(&config).map_err(load)
}

/// The cache file name: a digest of the component, this crate's version
/// and wasmtime's compatibility hash of the engine configuration.
fn cache_name(engine: &Engine, component: &[u8]) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = ShaHasher(Sha256::new());
    h.0.update(component);
    h.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = h.0.finalize();
    format!("recon-component-{}.cwasm", crate::state::hex(&digest[..16]))
}

/// The compiled code inside a cache file, if its header and checksum hold.
fn checked_body(bytes: &[u8]) -> Result<&[u8], String> {
    let rest = bytes
        .strip_prefix(CACHE_MAGIC)
        .ok_or("not a recon cache file")?;
    if rest.len() < 32 {
        return Err("the cache file is truncated".into());
    }
    let (sum, body) = rest.split_at(32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("the cache file's checksum does not match its content".into());
    }
    Ok(body)
}

/// Writes a cache entry atomically: a temporary file, then a rename.
fn write_cache(dir: &Path, path: &Path, body: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = Vec::with_capacity(body.len() + 40);
    bytes.extend_from_slice(CACHE_MAGIC);
    bytes.extend_from_slice(&Sha256::digest(body));
    bytes.extend_from_slice(body);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)
}

/// The default cache directory: `$RECON_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/recon`, else `~/.cache/recon`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RECON_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("recon"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("recon"))
}

/// A detector living in an [`Instance`]. Valid only with the instance that
/// made it.
#[derive(Debug, Clone, Copy)]
pub struct DetectorHandle(ResourceAny);

/// A scanner living in an [`Instance`].
#[derive(Debug, Clone, Copy)]
pub struct ScannerHandle(ResourceAny);

/// A reader living in an [`Instance`].
#[derive(Debug, Clone, Copy)]
pub struct ReaderHandle(ResourceAny);

struct InstanceStore {
    store: Store<Limiter>,
    fuel_per_call: Option<u64>,
    deadline: Option<u64>,
}

impl InstanceStore {
    /// Gives the next call its full budget.
    fn arm(&mut self, call: &'static str) -> Result<(), HostError> {
        if let Some(fuel) = self.fuel_per_call {
            self.store.set_fuel(fuel).map_err(guest_error(call))?;
        }
        if let Some(ticks) = self.deadline {
            self.store.set_epoch_deadline(ticks);
        }
        Ok(())
    }
}

/// One component instance: its store, and any number of detectors and
/// scanners.
pub struct Instance {
    inner: InstanceStore,
    bindings: DetectorComponent,
}

macro_rules! call {
    ($self:ident, $name:literal, $iface:ident, $method:ident ( $($arg:expr),* )) => {{
        $self.inner.arm($name)?;
        let i = $self.bindings.recon_detector_detection().$iface();
        i.$method(&mut $self.inner.store, $($arg),*).map_err(guest_error($name))
    }};
}

impl Instance {
    /// Creates a detector from a configuration.
    pub fn create(&mut self, config: &Config) -> Result<DetectorHandle, HostError> {
        call!(self, "create", detector, call_create(config))?
            .map(DetectorHandle)
            .map_err(HostError::Config)
    }

    /// Recreates a detector from `snapshot` bytes.
    pub fn restore(&mut self, snapshot: &[u8]) -> Result<DetectorHandle, HostError> {
        call!(self, "restore", detector, call_restore(snapshot))?
            .map(DetectorHandle)
            .map_err(HostError::Snapshot)
    }

    /// Recreates a detector from `snapshot` bytes under `config` (changed
    /// rules start over): the detector, and the rules that started over.
    pub fn reload(
        &mut self,
        snapshot: &[u8],
        config: &Config,
    ) -> Result<(DetectorHandle, Vec<Rule>), HostError> {
        call!(self, "reload", detector, call_reload(snapshot, config))?
            .map(|(d, restarted)| (DetectorHandle(d), restarted))
            .map_err(HostError::Snapshot)
    }

    /// Creates a scanner from a configuration.
    pub fn create_scanner(&mut self, config: &Config) -> Result<ScannerHandle, HostError> {
        call!(self, "scanner.create", scanner, call_create(config))?
            .map(ScannerHandle)
            .map_err(HostError::Config)
    }

    /// Pushes one event through every rule.
    pub fn push(
        &mut self,
        h: DetectorHandle,
        event: &str,
    ) -> Result<Result<Vec<Outcome>, EventError>, HostError> {
        call!(self, "push", detector, call_push(h.0, event))
    }

    /// Pushes a batch of events in one call.
    pub fn push_batch(
        &mut self,
        h: DetectorHandle,
        events: &[String],
    ) -> Result<BatchResult, HostError> {
        call!(self, "push-batch", detector, call_push_batch(h.0, events))
    }

    /// Pushes a buffer of newline-delimited records in one call.
    pub fn push_ndjson(
        &mut self,
        h: DetectorHandle,
        records: &[u8],
    ) -> Result<BatchResult, HostError> {
        call!(
            self,
            "push-ndjson",
            detector,
            call_push_ndjson(h.0, records)
        )
    }

    /// Scans a buffer of newline-delimited records (stateless).
    pub fn scan(&mut self, s: ScannerHandle, records: &[u8]) -> Result<Scanned, HostError> {
        call!(self, "scan", scanner, call_scan(s.0, records))
    }

    /// Where each record of a buffer goes when each rule's work is split
    /// into `partitions` parts (see the contract's `partition-of`).
    pub fn partition_of(
        &mut self,
        s: ScannerHandle,
        records: &[u8],
        partitions: u32,
    ) -> Result<Vec<Placement>, HostError> {
        call!(
            self,
            "partition-of",
            scanner,
            call_partition_of(s.0, records, partitions)
        )
    }

    /// Applies a scanner's payload to a detector.
    pub fn apply(&mut self, h: DetectorHandle, payload: &[u8]) -> Result<BatchResult, HostError> {
        call!(self, "apply", detector, call_apply(h.0, payload))?.map_err(HostError::Apply)
    }

    /// Advances the watermark (`Some`) or ends the stream (`None`).
    pub fn flush(&mut self, h: DetectorHandle, to: Option<i64>) -> Result<u32, HostError> {
        call!(self, "flush", detector, call_flush(h.0, to))
    }

    /// Takes the pending alerts.
    pub fn drain(&mut self, h: DetectorHandle) -> Result<Vec<Alert>, HostError> {
        call!(self, "drain", detector, call_drain(h.0))
    }

    /// Reads the counters.
    pub fn stats(&mut self, h: DetectorHandle) -> Result<Stats, HostError> {
        call!(self, "stats", detector, call_stats(h.0))
    }

    /// Serialises a detector.
    pub fn snapshot(&mut self, h: DetectorHandle) -> Result<Vec<u8>, HostError> {
        call!(self, "snapshot", detector, call_snapshot(h.0))
    }

    /// Creates a reader of one input.
    pub fn create_reader(&mut self, options: ReaderOptions) -> Result<ReaderHandle, HostError> {
        call!(self, "reader.create", reader, call_create(options))?
            .map(ReaderHandle)
            .map_err(HostError::Config)
    }

    /// Reads the next bytes of a reader's input.
    pub fn reader_feed(
        &mut self,
        r: ReaderHandle,
        bytes: &[u8],
    ) -> Result<Vec<ReadEvent>, HostError> {
        call!(self, "reader.feed", reader, call_feed(r.0, bytes))
    }

    /// Reads the next bytes of a reader's input, as text.
    pub fn reader_feed_text(
        &mut self,
        r: ReaderHandle,
        text: &str,
    ) -> Result<Vec<ReadEvent>, HostError> {
        call!(self, "reader.feed-text", reader, call_feed_text(r.0, text))
    }

    /// Tells a reader its input paused.
    pub fn reader_pause(&mut self, r: ReaderHandle) -> Result<Vec<ReadEvent>, HostError> {
        call!(self, "reader.pause", reader, call_pause(r.0))
    }

    /// Tells a reader its input ended.
    pub fn reader_finish(&mut self, r: ReaderHandle) -> Result<Vec<ReadEvent>, HostError> {
        call!(self, "reader.finish", reader, call_finish(r.0))
    }

    /// Reads one step of an input with `r` into detector `h`.
    pub fn read(
        &mut self,
        h: DetectorHandle,
        r: ReaderHandle,
        step: &ReadStep,
    ) -> Result<ReadResult, HostError> {
        call!(self, "read", detector, call_read(h.0, r.0, step))
    }

    /// Formats an alert with the component's formatter.
    pub fn format_alert(
        &mut self,
        alert: &Alert,
        format: AlertFormat,
        tenant: Option<&str>,
    ) -> Result<String, HostError> {
        self.inner.arm("format-alert")?;
        self.bindings
            .recon_detector_detection()
            .call_format_alert(&mut self.inner.store, alert, format, tenant)
            .map_err(guest_error("format-alert"))
    }

    /// The component's configuration with every default filled in.
    pub fn default_config(
        &mut self,
        rules: &[Rule],
        profile: Profile,
    ) -> Result<Config, HostError> {
        self.inner.arm("default-config")?;
        self.bindings
            .recon_detector_detection()
            .call_default_config(&mut self.inner.store, rules, profile)
            .map_err(guest_error("default-config"))
    }

    /// The registry: every rule `config` runs, built in or data, as the
    /// component describes it; or why it refuses the configuration.
    pub fn list_rules(
        &mut self,
        config: &Config,
    ) -> Result<Result<Vec<RuleInfo>, ConfigError>, HostError> {
        self.inner.arm("list-rules")?;
        self.bindings
            .recon_detector_detection()
            .call_list_rules(&mut self.inner.store, config)
            .map_err(guest_error("list-rules"))
    }

    /// The component's reader options with every default filled in.
    pub fn default_reader_options(&mut self) -> Result<ReaderOptions, HostError> {
        self.inner.arm("default-reader-options")?;
        self.bindings
            .recon_detector_detection()
            .call_default_reader_options(&mut self.inner.store)
            .map_err(guest_error("default-reader-options"))
    }

    /// How large the instance's linear memory has grown, in bytes (it never
    /// shrinks): the peak memory of everything the instance holds.
    pub fn memory_bytes(&self) -> usize {
        self.inner.store.data().memory_bytes
    }

    /// Drops a detector and frees its state.
    pub fn drop_detector(&mut self, h: DetectorHandle) -> Result<(), HostError> {
        h.0.resource_drop(&mut self.inner.store)
            .map_err(guest_error("drop"))
    }
}

impl RuleConfig {
    /// A rule with every tunable at its documented default.
    pub fn defaults(rule: Rule) -> RuleConfig {
        RuleConfig {
            rule,
            window_ms: None,
            min_distinct: None,
            commands: None,
            providers: None,
            suppress_ms: None,
            window: None,
        }
    }
}

impl Config {
    /// A configuration running `rules` with every tunable at its
    /// documented default.
    pub fn defaults(rules: &[Rule], profile: Profile) -> Config {
        Config {
            rules: rules
                .iter()
                .map(|r| RuleConfig::defaults(r.clone()))
                .collect(),
            rule_files: Vec::new(),
            only_rules: None,
            profile,
            allowed_lateness_ms: None,
            limits: Limits {
                max_event_bytes: None,
                max_open_groups: None,
                max_list_entries: None,
                max_time_jump_ms: None,
                time_confirmations: None,
            },
            early_alerts: None,
        }
    }
}

/// The contract configuration as the native core's settings (the two
/// mirror the same WIT record): for the native work beside the component
/// (`recon nats` places records with the core's scanner) and for tests.
pub fn guest_settings(c: &Config) -> recon_guest::config::Settings {
    use recon_guest::config as g;
    g::Settings {
        rules: c
            .rules
            .iter()
            .map(|r| g::RuleSettings {
                // The configuration is checked when resolved: its rules
                // are built-ins.
                rule: g::Rule::of_name(&r.rule)
                    .expect("a resolved configuration names built-ins only"),
                window_ms: r.window_ms,
                min_distinct: r.min_distinct,
                commands: r.commands.clone(),
                providers: r.providers.clone(),
                suppress_ms: r.suppress_ms,
                window: r.window.map(|w| match w {
                    WindowMode::Tumbling => g::WindowMode::Tumbling,
                    WindowMode::Sliding => g::WindowMode::Sliding,
                }),
            })
            .collect(),
        profile: match c.profile {
            Profile::Default => g::Profile::Default,
            Profile::Seed => g::Profile::Seed,
        },
        allowed_lateness_ms: c.allowed_lateness_ms,
        limits: g::LimitSettings {
            max_event_bytes: c.limits.max_event_bytes,
            max_open_groups: c.limits.max_open_groups,
            max_list_entries: c.limits.max_list_entries,
            max_time_jump_ms: c.limits.max_time_jump_ms,
            time_confirmations: c.limits.time_confirmations,
        },
        early_alerts: c.early_alerts,
        rule_files: c
            .rule_files
            .iter()
            .map(|f| recon_guest::sigma::RuleFile {
                name: f.name.clone(),
                text: f.text.clone(),
            })
            .collect(),
        only_rules: c.only_rules.clone(),
    }
}
