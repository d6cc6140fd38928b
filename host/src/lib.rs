//! The `recon` host: runs the sandboxed detector component over CloudTrail.
//! No clap, no anyhow here: the command line (`src/bin/recon/`) turns its
//! arguments into these types.
//!
//! - [`runtime`]: compile and instantiate the component under wasmtime with
//!   memory and fuel limits; typed calls to the `detector` resource.
//! - [`guard`]: a detector or scanner that recovers from traps.
//! - [`tenants`]: one detector per tenant, each in its own instance.
//! - [`sources`]: what to read: directories, zip members, delivery order.
//! - [`input`]: I/O around the reader crate: reader threads, gzip, chunks.
//! - [`settings`]: the configuration file, resolved once into a run's
//!   [`settings::RunConfig`].
//! - [`rules`]: the rules this host runs, one row each.
//! - [`rule_tests`]: `recon rules test`, a rule file's test cases run
//!   through [`detect`].
//! - [`choice`]: the named values of settings (`--format`, `--order`, …).
//! - [`live`]: live mode, windows closed on this machine's clock.
//! - [`detect`]: the `recon detect` pipeline.
//! - [`output`]: alerts as NDJSON.
//! - [`state`]: detector snapshots kept between runs (`--state`).
//! - `nats`: `recon nats …`, the detector scaled out on NATS JetStream
//!   (with the `nats` feature).

pub mod catalogue;
pub mod choice;
pub mod detect;
pub mod guard;
pub mod input;
pub mod live;
#[cfg(feature = "nats")]
pub mod nats;
pub mod output;
pub mod rule_tests;
pub mod rules;
pub mod runtime;
pub mod settings;
pub mod sources;
pub mod state;
pub mod tenants;

/// The message of a panic caught by `catch_unwind` (where native code runs
/// on untrusted bytes, so that a bug there costs one input, with a clear
/// error, never the process: docs/hostile-input.md).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

#[cfg(test)]
mod tests {
    /// The library is the command line's servant, never the reverse: clap
    /// and anyhow belong to `src/bin/recon/` alone.
    #[test]
    fn the_library_leaves_the_command_line_crates_to_the_binary() {
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "bin") {
                        sources(&path, out);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 20, "found only {files:?}");
        // Spelled in pieces, so that this test does not find itself.
        let crates = [concat!("cl", "ap"), concat!("any", "how")];
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for name in crates {
                    assert!(
                        !code.contains(name),
                        "{}:{}: the library uses {name}: {line}",
                        file.display(),
                        n + 1
                    );
                }
            }
        }
    }
}
