//! A run's state file (`--state`): the detectors a run starts from, and
//! what it leaves for the next run. The file is locked for the whole run;
//! a detector is resumed only from a snapshot saved under the same
//! configuration (its fingerprint, see `state`); at the end the open
//! windows are saved, or with `--finish` closed and the file removed.

use std::path::{Path, PathBuf};

use crate::guard::GuardedDetector;
use crate::runtime::{Config, Runtime};
use crate::settings::RunConfig;
use crate::state::{self, StateError, StateLock};
use crate::tenants::{Router, TenantId};

use super::DetectError;

/// A run's state file, locked until the run ends.
pub(super) struct StateFile {
    path: PathBuf,
    fingerprint: String,
    keyed: bool,
    /// Held until the run ends: a second run on the same state is refused.
    _lock: StateLock,
}

/// The detectors a run starts with, and the configuration they run.
pub(super) struct Start<'r> {
    /// One detector, or one per tenant with a tenant key.
    pub router: Router<'r>,
    /// Per tenant resumed under changed rules of its own: the rules that
    /// started over (their windows empty), for the run's messages.
    pub restarted: Vec<(TenantId, Vec<String>)>,
    /// The contract configuration the detectors run.
    pub config: Config,
    /// The state file, if the run keeps one.
    pub state: Option<StateFile>,
}

/// New detectors for `run`, with early alerts `early`; or, with a state
/// file, the detectors it holds. A stream resumed without saying whether
/// it wants early alerts (`run.early_alerts` unset) keeps the setting it
/// was saved with, since its mode's default may differ from this run's.
pub(super) fn start<'r>(
    runtime: &'r Runtime,
    run: &RunConfig,
    early: bool,
    path: Option<&Path>,
) -> Result<Start<'r>, DetectError> {
    let key = run.tenant_key.clone();
    let fingerprint_of = |config: &Config| state::fingerprint(config, key.as_ref());
    let mut config = run.detector_with_early(early);
    let Some(path) = path else {
        let router = Router::new(
            runtime,
            &config,
            run.guard,
            key,
            run.max_tenants,
            &run.tenant_rules,
        )?;
        return Ok(Start {
            router,
            restarted: Vec::new(),
            config,
            state: None,
        });
    };
    let lock = state::lock(path)?;
    let saved = state::load(path)?;
    let mut fingerprint = fingerprint_of(&config);
    if run.early_alerts.is_none()
        && !saved.is_empty()
        && saved.iter().all(|e| e.config != fingerprint)
    {
        let other = run.detector_with_early(!early);
        let other_fingerprint = fingerprint_of(&other);
        if saved.iter().all(|e| e.config == other_fingerprint) {
            config = other;
            fingerprint = other_fingerprint;
        }
    }
    let mut restarted = Vec::new();
    let router = match &key {
        None => {
            if let Some(other) = saved.iter().find(|e| e.rule != state::DETECTOR) {
                // Saved by a run with a tenant key.
                return Err(StateError::ConfigChanged {
                    path: path.to_owned(),
                    rule: other.rule.clone(),
                }
                .into());
            }
            let mut router = Router::new(runtime, &config, run.guard, None, 0, &[])?;
            if let Some(bytes) = state::snapshot_of(path, &saved, state::DETECTOR, &fingerprint)? {
                router.tenants_mut()[0].detector =
                    GuardedDetector::restore(runtime, &bytes, run.guard)?;
            }
            router
        }
        Some(_) => {
            let mut router = Router::new(
                runtime,
                &config,
                run.guard,
                key.clone(),
                run.max_tenants,
                &run.tenant_rules,
            )?;
            for entry in &saved {
                let id = TenantId::from_state_name(&entry.rule).ok_or_else(|| {
                    StateError::ConfigChanged {
                        path: path.to_owned(),
                        rule: entry.rule.clone(),
                    }
                })?;
                if let Some(bytes) = state::snapshot_of(path, &saved, &entry.rule, &fingerprint)? {
                    let (_, rules) = router.restore(id.clone(), &bytes)?;
                    if !rules.is_empty() {
                        restarted.push((id, rules));
                    }
                }
            }
            router
        }
    };
    Ok(Start {
        router,
        restarted,
        config,
        state: Some(StateFile {
            path: path.to_owned(),
            fingerprint,
            keyed: key.is_some(),
            _lock: lock,
        }),
    })
}

impl StateFile {
    /// Keeps the stream open: every detector's snapshot, for the next run.
    /// Its alerts must have been handed out first, so that none is saved
    /// twice.
    pub(super) fn save(&self, router: &mut Router<'_>) -> Result<(), DetectError> {
        let mut entries = Vec::new();
        for t in router.tenants_mut() {
            let bytes = t.detector.snapshot()?;
            let name = if self.keyed {
                t.id.state_name()
            } else {
                state::DETECTOR.to_owned()
            };
            entries.push(state::saved(&name, &self.fingerprint, &bytes));
        }
        state::save(&self.path, entries)?;
        Ok(())
    }

    /// The stream has ended: nothing carries over.
    pub(super) fn remove(&self) -> Result<(), DetectError> {
        state::remove(&self.path)?;
        Ok(())
    }
}
