//! The `recon` host: runs the sandboxed detector component over CloudTrail.
//!
//! - [`runtime`]: compile and instantiate the component under wasmtime with
//!   memory and fuel limits; typed calls to the `detector` resource.
//! - [`input`]: read CloudTrail exports in every layout real ones use.
//! - [`sources`]: what to read: directories, zip members, delivery order.
//! - [`settings`]: the configuration file and its mapping onto the contract.
//! - [`detect`]: the `recon detect` pipeline.
//! - [`output`]: alerts as NDJSON.
//! - [`state`]: detector snapshots kept between runs (`--state`).
//! - [`nats`]: `recon nats …`, the detector scaled out on NATS JetStream.

pub mod detect;
pub mod guard;
pub mod input;
pub mod nats;
pub mod output;
pub mod runtime;
pub mod settings;
pub mod sources;
pub mod state;
pub mod tenants;
