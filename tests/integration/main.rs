//! Integration tests: the real detector component, built by the host's
//! build script, driven through the `recon` host library and CLI on real
//! CloudTrail samples. One test binary, ripgrep-style.

mod catalogue;
mod catalogue_reference;
mod cli;
mod component;
mod delivery;
mod differential;
mod feeds;
mod hostile;
mod hostile_files;
mod lateness;
mod live;
mod nats; // `recon nats`: host/Cargo.toml turns the `nats` feature on for tests
mod ocsf;
mod recovery;
mod reference;
mod rule_tests;
mod samples;
mod shapes;
mod streaming;
mod tenants;
mod tuning;
mod util;
