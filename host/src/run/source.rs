//! What a run starts from when the user names nothing: the built-in component and the bundled
//! data set, and which engine runs the batches.

use std::path::{Path, PathBuf};

use stratbox_engine::{Mvt, Strategy};

use crate::util::digest::sha256_hex;

/// The default backtester component, built from `guest/` by the build script.
pub const DEFAULT_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mvt.wasm"));

/// Where the build script put every component it built (the default one and the test ones).
pub const COMPONENTS_DIR: &str = env!("OUT_DIR");

/// The bundled data set: the 2018 EURUSD M1 year (see `data/PROVENANCE.md`).
pub fn bundled_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("HISTDATA_COM_ASCII_EURUSD_M12018.zip")
}

/// The data files to read: `given`, or the bundled data set when none are given.
pub fn data_paths(given: &[PathBuf]) -> Vec<PathBuf> {
    if given.is_empty() {
        vec![bundled_data()]
    } else {
        given.to_vec()
    }
}

/// Whether a component that describes itself as `name` with `params` is the built-in family,
/// which the native engine (and the replays of the report and `trades`) can run.
pub fn is_builtin_family(name: &str, params: &[String]) -> bool {
    name == Mvt::NAME && params.iter().map(String::as_str).eq(Mvt::PARAMS.iter().copied())
}

/// Where batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Sandbox,
    Native,
}

/// A component to run: its bytes and a name for messages.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    pub bytes: Vec<u8>,
    pub origin: String,
}

impl ComponentSource {
    pub fn default_component() -> ComponentSource {
        ComponentSource {
            bytes: DEFAULT_COMPONENT.to_vec(),
            origin: "built-in mvt component".into(),
        }
    }

    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}
