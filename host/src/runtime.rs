//! Loading and running the detector component under wasmtime, inside a
//! sandbox: the component gets no imports at all (an empty linker), its
//! memory is capped, and every call runs on a fuel budget so a runaway
//! guest traps instead of hanging the pipeline.

use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config as EngineConfig, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "detector-component",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::exports::recon::detector::detection::{
    Alert, BatchError, BatchResult, Config, ConfigError, Entity, EventError, Limits, Outcome,
    Profile, ReasonCount, RejectReason, Rule, SnapshotError, Stats,
};
use bindings::{DetectorComponent, DetectorComponentPre};

/// The detector component, built from `guest/` by this crate's build script.
pub static COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/recon_detector.component.wasm"));

/// Default cap on one instance's linear memory: 256 MiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 << 20;
/// Default fuel (roughly, wasm instructions) one call may burn: 20 billion,
/// seconds of CPU. A batch of 1,000 CloudTrail records uses well under 1%.
pub const DEFAULT_FUEL_PER_CALL: u64 = 20_000_000_000;

/// Bounds the host enforces on a component instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Most bytes of linear memory the instance may grow to; growing past
    /// it traps.
    pub max_memory_bytes: usize,
    /// Fuel for one call (`push-batch`, `flush`, …); `None` disables fuel
    /// metering. Running out traps the call.
    pub fuel_per_call: Option<u64>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            fuel_per_call: Some(DEFAULT_FUEL_PER_CALL),
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
    #[error("invalid detector configuration: {0}")]
    Config(ConfigError),
    /// The component refused a snapshot.
    #[error("cannot restore the snapshot: {0}")]
    Snapshot(SnapshotError),
}

fn guest_error(call: &'static str) -> impl FnOnce(wasmtime::Error) -> HostError {
    move |e| HostError::Guest {
        call,
        trap: e.downcast_ref::<Trap>().copied(),
        message: format!("{e:?}"),
    }
}

/// A compiled component, ready to instantiate many times.
pub struct Runtime {
    engine: Engine,
    pre: DetectorComponentPre<StoreLimits>,
    limits: SandboxLimits,
}

impl Runtime {
    /// Compiles the embedded component.
    pub fn new(limits: SandboxLimits) -> Result<Runtime, HostError> {
        Runtime::from_bytes(COMPONENT, limits)
    }

    /// Compiles a component from bytes (the embedded one, or another build
    /// of the same contract).
    pub fn from_bytes(bytes: &[u8], limits: SandboxLimits) -> Result<Runtime, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:?}"));
        let mut config = EngineConfig::new();
        config.consume_fuel(limits.fuel_per_call.is_some());
        let engine = Engine::new(&config).map_err(load)?;
        let component = Component::new(&engine, bytes).map_err(load)?;
        // An empty linker: the component may import nothing.
        let linker = Linker::<StoreLimits>::new(&engine);
        let pre = linker.instantiate_pre(&component).map_err(load)?;
        let pre = DetectorComponentPre::new(pre).map_err(load)?;
        Ok(Runtime {
            engine,
            pre,
            limits,
        })
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
        let mut store = Store::new(&self.engine, limits);
        store.limiter(|l| l);
        if let Some(fuel) = self.limits.fuel_per_call {
            store.set_fuel(fuel).map_err(guest_error("instantiate"))?;
        }
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(guest_error("instantiate"))?;
        Ok(Instance {
            store,
            bindings,
            fuel_per_call: self.limits.fuel_per_call,
        })
    }
}

/// A detector living in an [`Instance`]. Valid only with the instance that
/// made it.
#[derive(Debug, Clone, Copy)]
pub struct DetectorHandle(ResourceAny);

/// One component instance: its store, and any number of detectors.
pub struct Instance {
    store: Store<StoreLimits>,
    bindings: DetectorComponent,
    fuel_per_call: Option<u64>,
}

impl Instance {
    fn refuel(&mut self, call: &'static str) -> Result<(), HostError> {
        if let Some(fuel) = self.fuel_per_call {
            self.store.set_fuel(fuel).map_err(guest_error(call))?;
        }
        Ok(())
    }

    /// Creates a detector from a configuration.
    pub fn create(&mut self, config: &Config) -> Result<DetectorHandle, HostError> {
        self.refuel("create")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_create(&mut self.store, config)
            .map_err(guest_error("create"))?
            .map(DetectorHandle)
            .map_err(HostError::Config)
    }

    /// Recreates a detector from `snapshot` bytes.
    pub fn restore(&mut self, snapshot: &[u8]) -> Result<DetectorHandle, HostError> {
        self.refuel("restore")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_restore(&mut self.store, snapshot)
            .map_err(guest_error("restore"))?
            .map(DetectorHandle)
            .map_err(HostError::Snapshot)
    }

    /// Pushes one event.
    pub fn push(
        &mut self,
        h: DetectorHandle,
        event: &str,
    ) -> Result<Result<Outcome, EventError>, HostError> {
        self.refuel("push")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_push(&mut self.store, h.0, event)
            .map_err(guest_error("push"))
    }

    /// Pushes a batch of events in one call.
    pub fn push_batch(
        &mut self,
        h: DetectorHandle,
        events: &[String],
    ) -> Result<BatchResult, HostError> {
        self.refuel("push-batch")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_push_batch(&mut self.store, h.0, events)
            .map_err(guest_error("push-batch"))
    }

    /// Advances the watermark (`Some`) or ends the stream (`None`).
    pub fn flush(&mut self, h: DetectorHandle, to: Option<i64>) -> Result<u32, HostError> {
        self.refuel("flush")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_flush(&mut self.store, h.0, to)
            .map_err(guest_error("flush"))
    }

    /// Takes the pending alerts.
    pub fn drain(&mut self, h: DetectorHandle) -> Result<Vec<Alert>, HostError> {
        self.refuel("drain")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_drain(&mut self.store, h.0)
            .map_err(guest_error("drain"))
    }

    /// Reads the counters.
    pub fn stats(&mut self, h: DetectorHandle) -> Result<Stats, HostError> {
        self.refuel("stats")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_stats(&mut self.store, h.0)
            .map_err(guest_error("stats"))
    }

    /// Serialises a detector.
    pub fn snapshot(&mut self, h: DetectorHandle) -> Result<Vec<u8>, HostError> {
        self.refuel("snapshot")?;
        let d = self.bindings.recon_detector_detection().detector();
        d.call_snapshot(&mut self.store, h.0)
            .map_err(guest_error("snapshot"))
    }

    /// Drops a detector and frees its state.
    pub fn drop_detector(&mut self, h: DetectorHandle) -> Result<(), HostError> {
        h.0.resource_drop(&mut self.store)
            .map_err(guest_error("drop"))
    }
}

impl Config {
    /// A configuration with every tunable at its documented default.
    pub fn defaults(rule: Rule, profile: Profile) -> Config {
        Config {
            rule,
            profile,
            window_ms: None,
            min_distinct: None,
            commands: None,
            providers: None,
            allowed_lateness_ms: None,
            limits: Limits {
                max_event_bytes: None,
                max_open_groups: None,
                max_list_entries: None,
            },
        }
    }
}
