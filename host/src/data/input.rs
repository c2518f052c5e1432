//! What the loader reads: a file, or bytes already in memory under a file's name (the bundled
//! data set, compiled into the binary so that it needs no checkout to run).
//!
//! Both are read the same way afterwards: the bytes are hashed (the digest goes into the
//! results), sniffed and parsed, and the name stands for the input in messages and metadata. So
//! bytes named like a file load exactly as that file would, down to the results' metadata, which
//! records the file name and its digest.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::DataError;

/// One input of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, read when loaded.
    File(PathBuf),
    /// Bytes that are part of the program, named like the file they were made from.
    Bytes { name: PathBuf, bytes: &'static [u8] },
}

impl Input {
    /// The path of a file, or the name of bytes: how messages and the metadata name the input.
    pub fn path(&self) -> &Path {
        match self {
            Input::File(path) => path,
            Input::Bytes { name, .. } => name,
        }
    }

    /// The input's bytes.
    pub(crate) fn read(&self) -> Result<Cow<'static, [u8]>, DataError> {
        match self {
            Input::File(path) => std::fs::read(path)
                .map(Cow::Owned)
                .map_err(|source| DataError::Io {
                    path: path.clone(),
                    source,
                }),
            Input::Bytes { bytes, .. } => Ok(Cow::Borrowed(bytes)),
        }
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Input {
        Input::File(path)
    }
}

impl From<&Path> for Input {
    fn from(path: &Path) -> Input {
        Input::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Input {
    fn from(path: &PathBuf) -> Input {
        Input::File(path.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_read_from_memory_under_their_name() {
        let input = Input::Bytes {
            name: "DAT_ASCII_EURUSD_M1_2018.csv".into(),
            bytes: b"20180101 170000;1.2;1.3;1.1;1.2;0\n",
        };
        assert_eq!(input.path(), Path::new("DAT_ASCII_EURUSD_M1_2018.csv"));
        assert!(matches!(input.read(), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let input = Input::from(Path::new("/nonexistent/stratbox/x.csv"));
        match input.read() {
            Err(DataError::Io { path, .. }) => assert_eq!(path, Path::new("/nonexistent/stratbox/x.csv")),
            other => panic!("{other:?}"),
        }
    }
}
