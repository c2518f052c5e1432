//! Builds the guest component (`guest/`, for wasm32-wasip2) and hands it to the host, which
//! embeds it with `include_bytes!`, so `cargo build` / `cargo test` need no step before them and
//! the `stratbox` binary runs from anywhere.
//!
//! Why a nested cargo with its own target dir: sharing the outer target dir deadlocks silently on
//! cargo's build lock. Why strip the outer `CARGO_*`/`RUSTFLAGS` variables: they describe the
//! host build (target, profile, flags, jobserver) and would leak into the guest build. The guest
//! is outside the workspace so it keeps its own lock file and its own release profile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Variables of the outer build that must not reach the nested one.
fn is_outer_build_var(key: &str) -> bool {
    (key.starts_with("CARGO_") && key != "CARGO_HOME")
        || matches!(
            key,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "RUSTC"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTDOC"
                | "TARGET"
                | "HOST"
                | "OUT_DIR"
                | "OPT_LEVEL"
                | "PROFILE"
                | "DEBUG"
                | "NUM_JOBS"
                | "MAKEFLAGS"
                | "MFLAGS"
        )
}

/// Sets `STRATBOX_LOADER_DIGEST` to a hash of the data loader's sources: part of the key of
/// the parsed-data cache, so bars parsed by one version of the loader are never read by another.
/// (A change detector, not a security measure: the cache directory is private to the user.)
fn loader_digest(dir: &Path) {
    rerun_if_changed_dir(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("host/src/data is readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    // FNV-1a, 64 bits, over each file's name and contents.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&file).unwrap_or_default();
        for &b in name.as_bytes().iter().chain(&[0]).chain(&bytes) {
            hash = (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=STRATBOX_LOADER_DIGEST={hash:016x}");
}

fn rerun_if_changed_dir(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                rerun_if_changed_dir(&path);
            } else {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let guest = root.join("guest");
    for dir in ["guest", "engine", "wit"] {
        rerun_if_changed_dir(&root.join(dir));
    }
    println!("cargo:rerun-if-env-changed=STRATBOX_GUEST_TARGET_DIR");
    loader_digest(&root.join("host").join("src").join("data"));

    let target_dir = std::env::var_os("STRATBOX_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("guest"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guest)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
            "--manifest-path",
        ])
        .arg(guest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str()
            && is_outer_build_var(k)
        {
            cmd.env_remove(k);
        }
    }
    // The guest's panic messages name source files: remapped, the .wasm does not carry the
    // build machine's checkout and cargo home paths. (Two checkout paths still build components
    // that differ in a few bytes of layout: README, Platforms.)
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags = format!("--remap-path-prefix={}=/stratbox", root.display());
    if let Some(home) = cargo_home {
        flags += &format!("\x1f--remap-path-prefix={}=/cargo", home.display());
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags);
    println!("cargo:rerun-if-env-changed=CARGO_HOME");
    let output = cmd
        .output()
        .expect("cannot run cargo to build the guest component");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2")
            && (stderr.contains("target may not be installed") || stderr.contains("can't find crate for"))
        {
            "\n\nThe wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`."
        } else {
            ""
        };
        panic!("building the guest component failed:\n{stderr}{hint}");
    }
    let release = target_dir.join("wasm32-wasip2").join("release");
    for (file, name) in [
        ("stratbox_guest.wasm", "mvt.wasm"),
        ("stratbox_breakout.wasm", "breakout.wasm"),
        ("stratbox_hostile.wasm", "hostile.wasm"),
    ] {
        let src = release.join(file);
        std::fs::copy(&src, out_dir.join(name))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", src.display()));
    }
}
