//! Reading the one data file inside a `.zip` download.
//!
//! HistData ships each month or year as a zip holding the CSV (and, in some downloads, a `.txt`
//! gap report next to it), so a zip is accepted when exactly one entry is a data file: the only
//! file, or else the only `.csv`.

use std::io::{Cursor, Read};

/// The inner file's name and bytes, or why the archive is unusable.
pub(crate) fn read_single(bytes: &[u8]) -> Result<(String, Vec<u8>), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let names: Vec<String> = zip
        .file_names()
        .filter(|n| !n.ends_with('/') && !n.starts_with("__MACOSX/"))
        .map(str::to_string)
        .collect();
    let chosen = if names.len() == 1 {
        names[0].clone()
    } else {
        let csvs: Vec<&String> = names
            .iter()
            .filter(|n| n.to_ascii_lowercase().ends_with(".csv"))
            .collect();
        match csvs.as_slice() {
            [one] => (*one).clone(),
            _ => {
                return Err(format!(
                    "expected exactly one data file inside, found {} ({})",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
    };
    let mut entry = zip.by_name(&chosen).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(entry.size().min(1 << 31) as usize);
    entry
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decompress {chosen}: {e}"))?;
    Ok((chosen, out))
}
