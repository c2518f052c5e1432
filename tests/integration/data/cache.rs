//! The parsed-data cache (`LoadOptions::cache_dir`).

use std::path::PathBuf;

use stratbox::data::LoadOptions;

use super::{load1, tmp, write};

/// The cache's integrity digest of an entry, worked here from its definition (README, "Parsed
/// data is cached"): the SHA-256 of the SHA-256s of the entry's two halves, as hex.
fn halves_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let mut h = Sha256::new();
    h.update(Sha256::digest(a));
    h.update(Sha256::digest(b));
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The entries (not their digests) in the cache directory.
fn entries(cache: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bars"))
        .collect()
}

/// The parsed-data cache: a second load of the same file is read from the entry (shown by
/// planting a doctored entry with a valid checksum), a damaged entry is ignored, a changed file
/// is a different key, and data that fails to load is never cached.
#[test]
fn parsed_data_cache_is_used_only_when_it_matches_and_checks_out() {
    let d = tmp();
    let cache = d.path().join("cache");
    let file = crate::common::year_slice(d.path(), 500);
    let opts = LoadOptions {
        cache_dir: Some(cache.clone()),
        ..LoadOptions::default()
    };
    let parsed = load1(&file, &LoadOptions::default()).unwrap();
    assert_eq!(
        load1(&file, &opts).unwrap(),
        parsed,
        "first load: parsed, entry written"
    );
    let found = entries(&cache);
    assert_eq!(found.len(), 1, "{found:?}");
    let entry = &found[0];
    let digest_file = entry.with_extension("bars.sha256");

    // A doctored entry whose checksum is right is what the next load returns: the cache is read.
    let mut doctored = parsed.clone();
    doctored.0.close[0] += 1;
    let mut body = bincode::serialize(&doctored).unwrap();
    std::fs::write(entry, &body).unwrap();
    std::fs::write(&digest_file, halves_digest(&body)).unwrap();
    assert_eq!(load1(&file, &opts).unwrap(), doctored);

    // A damaged entry (checksum wrong) is ignored, and replaced by a good one.
    let last = body.len() - 8;
    body[last] ^= 1;
    std::fs::write(entry, &body).unwrap();
    assert_eq!(load1(&file, &opts).unwrap(), parsed);
    assert_eq!(load1(&file, &opts).unwrap(), parsed);

    // Same path, other contents: another key, so the old entry is not used.
    let lines = &crate::common::year_lines()[..499];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (bars, _) = load1(&file, &opts).unwrap();
    assert_eq!(bars.len(), 499);
    assert_eq!(entries(&cache).len(), 2);

    // Bad data is reported every time and leaves no entry.
    let bad = write(
        d.path(),
        "DAT_ASCII_EURUSD_M1_bad.csv",
        "20180101 170000;1.2;1.1;1.3;1.2;0\n",
    );
    assert!(load1(&bad, &opts).is_err());
    assert!(load1(&bad, &opts).is_err());
    assert_eq!(entries(&cache).len(), 2);
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        4,
        "each entry with its digest"
    );
}
