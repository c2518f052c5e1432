//! Writing files so that a reader, or a killed run, never sees half of one: a temporary name in
//! the same directory, flushed and synced, then renamed into place. And directories private to
//! the user, for the caches.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A temporary sibling of `path`, in the same directory so the rename is atomic.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `path` through a temporary file and a rename, creating its directory. On any error
/// the temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(file.file())?;
    file.commit()
}

/// A file being written under a temporary name beside `path`: [`AtomicFile::commit`] flushes,
/// syncs and renames it into place; dropped without a commit (an error, a panic, a return
/// with `?`), the temporary file is removed and `path` is left as it was.
///
/// Why a guard and not only [`write_atomic`]'s closure: a writer fed from several sources
/// (the daily file, built batch by batch from the checkpoints) fails with their own error
/// types, which a guard lets each caller keep.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates the temporary file of `path`, and `path`'s directory.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        AtomicFile::create_at(path, temp_path(path))
    }

    /// [`AtomicFile::create`] with the temporary file at `tmp`, which must be on `path`'s file
    /// system (the rename is then atomic). For a file written over a whole run, whose temporary
    /// name belongs in the run's checkpoint directory: a killed run then leaves nothing beside
    /// its results, and its rerun writes over its own leftover.
    pub fn create_at(path: &Path, tmp: PathBuf) -> io::Result<AtomicFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(&tmp)?;
        Ok(AtomicFile {
            path: path.to_owned(),
            tmp,
            file: Some(file),
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let mut file = self.file.take().expect("open until committed");
        file.flush()?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        // Renamed: nothing left for Drop to remove.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// [`write_atomic`] of bytes already in memory.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, |f| f.write_all(bytes))
}

/// Creates `dir` private to the user, or checks that an existing one is (0700 on unix; refused
/// if group or others can write to it and it cannot be made private).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o022 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is writable by others (mode {:o})",
                        dir.display(),
                        mode & 0o777
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_neither_the_file_nor_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("out.txt");
        let err = write_atomic(&path, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("stopped"))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 0);
        write_bytes_atomic(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
    }

    #[cfg(unix)]
    #[test]
    fn private_dir_is_made_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&cache).unwrap();
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
