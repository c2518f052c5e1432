//! SHA-256 digests as stratbox writes them: lower-case hex, and the two-thread "split" digest
//! of large artifacts.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of `bytes`, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a byte stream given in pieces, computed as two halves on two threads:
/// `SHA-256(SHA-256(first half) || SHA-256(second half))`, split at the piece boundary nearest
/// the middle. Why: artifacts with a data set's columns in them are ~25 MB, and hashing them on
/// one core took longer than the batches it saves.
pub fn split_digest(pieces: &[&[u8]]) -> [u8; 32] {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut seen = 0;
    let split = pieces
        .iter()
        .position(|p| {
            seen += p.len();
            seen * 2 >= total
        })
        .map_or(pieces.len(), |i| i + 1);
    let hash = |part: &[&[u8]]| {
        let mut h = Sha256::new();
        part.iter().for_each(|p| h.update(p));
        h.finalize()
    };
    let (a, b) = pieces.split_at(split);
    let (da, db) = std::thread::scope(|s| {
        let other = s.spawn(|| hash(b));
        (hash(a), other.join().expect("hashing does not panic"))
    });
    let mut h = Sha256::new();
    h.update(da);
    h.update(db);
    h.finalize().into()
}

/// The integrity digest of a file's bytes: [`split_digest`] of its two halves, as hex.
pub fn halves_digest(bytes: &[u8]) -> String {
    let (a, b) = bytes.split_at(bytes.len() / 2);
    hex(&split_digest(&[a, b]))
}

/// [`halves_digest`] of a file, read in place: each half by its own thread through a small
/// buffer, so a 25 MB artifact is neither held in memory nor hashed on one core.
pub fn file_halves_digest(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let half = len / 2;
    let hash = |from: u64, to: u64| -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; (1 << 20).min((to - from) as usize).max(1)];
        let mut at = from;
        while at < to {
            let want = ((to - at) as usize).min(buf.len());
            let got = read_at(&file, &mut buf[..want], at).ok()?;
            if got == 0 {
                return None;
            }
            h.update(&buf[..got]);
            at += got as u64;
        }
        Some(h.finalize().into())
    };
    let (a, b) = std::thread::scope(|s| {
        let other = s.spawn(|| hash(half, len));
        (hash(0, half), other.join().ok().flatten())
    });
    let mut h = Sha256::new();
    h.update(a?);
    h.update(b?);
    Some(hex(&h.finalize()))
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn split_digest_is_the_digest_of_the_halves_digests_whatever_the_pieces() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (a, b) = data.split_at(500);
        let mut outer = Sha256::new();
        outer.update(Sha256::digest(a));
        outer.update(Sha256::digest(b));
        let expected: [u8; 32] = outer.finalize().into();
        assert_eq!(split_digest(&[a, b]), expected);
        assert_eq!(halves_digest(&data), hex(&expected));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &data).unwrap();
        assert_eq!(file_halves_digest(&path), Some(hex(&expected)));
    }
}
