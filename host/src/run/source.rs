//! What a run starts from when the user names nothing: the built-in component and the bundled
//! data set (both compiled into the binary), and which engine runs the batches.

use std::path::PathBuf;

use stratbox_engine::{Mvt, Strategy};

use crate::data::Input;
use crate::util::digest::sha256_hex;

/// The default backtester component, built from `guest/` by the build script.
pub const DEFAULT_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mvt.wasm"));

/// Where the build script put every component it built (the default one and the test ones).
pub const COMPONENTS_DIR: &str = env!("OUT_DIR");

/// The bundled data set's file name: the name it has in `data/`, in messages and in the
/// results' metadata (which record the name and the digest of the bytes, so a run on the
/// bundled set writes the same file as a run on `--data data/HISTDATA_COM_ASCII_EURUSD_M12018.zip`).
pub const BUNDLED_DATA_NAME: &str = "HISTDATA_COM_ASCII_EURUSD_M12018.zip";

/// The bundled data set's bytes, compiled into the binary: the 2018 EURUSD M1 year (3.4 MB, see
/// `data/PROVENANCE.md`), so that an installed or copied binary has its default data without
/// the checkout it was built from.
pub const BUNDLED_DATA: &[u8] = include_bytes!("../../../data/HISTDATA_COM_ASCII_EURUSD_M12018.zip");

/// The bundled data set, as the loader's input.
pub fn bundled_data() -> Input {
    Input::Bytes {
        name: BUNDLED_DATA_NAME.into(),
        bytes: BUNDLED_DATA,
    }
}

/// What to read: the files `given`, or the bundled data set when none are given.
pub fn data_inputs(given: &[PathBuf]) -> Vec<Input> {
    if given.is_empty() {
        vec![bundled_data()]
    } else {
        given.iter().map(Input::from).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_is_the_checkouts_file_under_its_name() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(BUNDLED_DATA_NAME);
        assert_eq!(std::fs::read(&file).unwrap(), BUNDLED_DATA);
        assert_eq!(bundled_data().path().file_name(), file.file_name());
        assert_eq!(data_inputs(&[]), vec![bundled_data()]);
        assert_eq!(data_inputs(std::slice::from_ref(&file)), vec![Input::File(file)]);
    }
}
