//! Builds the detector component from `guest/` and `wit/` so that a plain
//! `cargo build` or `cargo test` at the workspace root produces it.
//!
//! Modelled on wasmtime's `crates/test-programs/artifacts/build.rs`: the
//! guest is compiled by a nested cargo into its own target directory (so
//! it never contends with the outer build's lock; `guest_target_dir` says
//! where), with the outer build's encoded RUSTFLAGS stripped (they are for
//! the host target), then encoded as a component with `wit-component`. The
//! host embeds the result with `include_bytes!`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

/// The rule catalogue (`rules/*.yml`), embedded so `recon rules list` and
/// `--rules catalogue` work wherever the binary goes: one
/// `(name, include_str!)` entry per file, in name order.
fn write_catalogue(root: &std::path::Path, out_dir: &std::path::Path) {
    let dir = root.join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from(
        "/// The catalogue's files: (name, text).\npub const FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = format!("rules/{}", f.file_name().expect("a file").to_string_lossy());
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("catalogue.rs"), code).expect("writing catalogue.rs to OUT_DIR");
}

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();

    for path in [
        "guest/src",
        "guest/Cargo.toml",
        "reader/src",
        "reader/Cargo.toml",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    write_catalogue(&root, &out_dir);
    ensure_target();

    let target_dir = guest_target_dir(&out_dir, &root);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--package=recon-guest")
        .arg("--lib")
        .arg(format!("--target={TARGET}"))
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        // The guest is small: whole-program optimisation is cheap and pays.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        // wasm SIMD (every wasmtime on x86-64 and aarch64 runs it): `memchr`
        // and friends use 16-byte vectors. The host's own flags are for the
        // host target and are not passed on.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    eprintln!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the guest: {e}"));
    if !status.success() {
        panic!("building the guest component (recon-guest for {TARGET}) failed: {status}");
    }

    let module_path = target_dir
        .join(TARGET)
        .join("release")
        .join("recon_guest.wasm");
    let module = std::fs::read(&module_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", module_path.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("encoding {} as a component: {e:?}", module_path.display()));
    let out = out_dir.join("recon_detector.component.wasm");
    std::fs::write(&out, component).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The nested build's target directory. The guest does not depend on this
/// crate's features, but `OUT_DIR` does: `cargo run -p recon` builds
/// without `nats` and `cargo test --workspace` with it, so a directory
/// under `OUT_DIR` would compile the guest once for each. Beside the build
/// scripts' own directories instead (`<target>/release/build/`), one per
/// workspace (named by a hash of its path: worktrees may share a target
/// directory), every configuration shares one incremental guest build.
/// The outer build's lock keeps two of them from running at once.
fn guest_target_dir(out_dir: &Path, root: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut h);
    match out_dir.parent().and_then(Path::parent) {
        Some(build) => build.join(format!("recon-guest-target-{:016x}", h.finish())),
        None => out_dir.join("guest-target"),
    }
}

/// Makes sure the standard library for the wasm target is installed: adds
/// it with rustup when it is missing, or fails naming the exact command.
fn ensure_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Path| root.join("lib/rustlib").join(TARGET).join("lib").is_dir();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    eprintln!("the {TARGET} target is missing; running `rustup target add {TARGET}`");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !added || !sysroot.as_deref().is_some_and(installed) {
        panic!(
            "the Rust standard library for {TARGET} is not installed and could not be added; \
             run `rustup target add {TARGET}` and build again"
        );
    }
}
