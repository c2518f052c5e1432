//! Putting a data set's columns into a component's memory image (protocol 3, "resident
//! columns"), so that no batch copies them.
//!
//! Why: a fresh instance per batch would otherwise receive the ~24 MB of columns of a year of
//! minute bars through `run-batch`'s `list<u8>` every time: wasmtime copies them into the
//! instance's memory and, after the batch, resets those pages again. That was ~11 ms per batch,
//! 5-10 % of one. wasmtime maps a module's data segments copy-on-write into each new instance
//! (its "memory image"), so columns that are a data segment cost a batch nothing but the pages
//! it reads, and those stay mapped in the pool slot from one batch to the next.
//!
//! How: the core module that declares [`RESIDENT_COLUMNS_SECTION`] gets one more active data
//! segment holding the columns, placed where its initial memory ended, and its initial memory
//! grows to cover it. The module's allocator never writes there: it only uses memory above what
//! the module was linked with after growing it, and growth starts above the columns. The
//! component is otherwise byte for byte the same, and it is compiled (and cached) like any
//! other, keyed by its bytes.
//!
//! Only the binary format's section framing is rewritten here (a few LEB128 numbers); the
//! result is validated by wasmtime when it compiles it.

use std::time::Duration;

use sha2::{Digest, Sha256};
use stratbox_engine::protocol::{DAILY_PNL_SECTION, RESIDENT_COLUMNS_SECTION, STREAMED_COLUMNS_SECTION};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::component::{Compiled, compile, key_of, load_cached, store_cached};
use crate::cache::Cache;
use crate::util::digest::split_digest;

/// Wasm's page size; modules with another page size are left alone.
const PAGE: u64 = 65_536;

/// A component with the columns in its memory image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The rewritten component.
    pub bytes: Vec<u8>,
    /// Where the columns start in the instance's linear memory.
    pub columns_at: u32,
}

/// Artifacts with a data set's columns in them kept in the cache (each is as large as its
/// columns, ~25 MB for a year of minute bars); storing another removes the least recently used.
const KEEP_COLUMN_ARTIFACTS: usize = 8;

/// A component compiled with a data set's columns in its memory image.
pub struct WithColumns {
    pub component: Component,
    /// Where the columns start in each instance's linear memory.
    pub columns_at: u32,
    /// Bytes of the block of columns there.
    pub columns_len: u64,
    pub compiled: Compiled,
}

/// `component` with `columns` in its memory image (see the module docs), loaded from `cache`
/// or compiled and stored there. `Ok(None)` when the component does not read resident columns,
/// or when they would end beyond `max_end` bytes of its memory.
///
/// The key is the component's digest, the columns' digest and the engine's settings. The
/// columns are hashed where they lie, in pieces on two threads (~8 ms for a year), and the
/// ~24 MB block is only built, and the component only rewritten and compiled, on a miss.
#[cfg(target_endian = "little")]
pub(crate) fn compile_with_columns(
    engine: &Engine,
    component: &[u8],
    columns: &stratbox_engine::ColumnsRef,
    max_end: usize,
    timeout: Duration,
    cache: &Cache,
) -> Result<Option<WithColumns>, String> {
    use stratbox_engine::protocol::{RESIDENT_COLUMNS_HEADER, column_pieces, encode_resident_columns};
    let Some(columns_at) = columns_at(component) else {
        return Ok(None);
    };
    let pieces = column_pieces(columns);
    let mut parts: Vec<&[u8]> = vec![&RESIDENT_COLUMNS_HEADER];
    for (len, values) in &pieces {
        parts.push(len);
        parts.push(values);
    }
    let columns_len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    if columns_at as u64 + columns_len > max_end as u64 {
        return Ok(None);
    }
    let name = format!(
        "columns-{}.cwasm",
        key_of(engine, &[&Sha256::digest(component), &split_digest(&parts)])
    );
    let found = |component, compiled| {
        Some(WithColumns {
            component,
            columns_at,
            columns_len,
            compiled,
        })
    };
    if let Some(c) = load_cached(engine, cache, &name) {
        cache.touch(&name);
        return Ok(found(c, Compiled::FromCache));
    }
    let block = encode_resident_columns(columns);
    let Some(embedded) = embed_columns(component, &block) else {
        return Ok(None);
    };
    drop(block);
    let (c, _) = compile(engine, &embedded.bytes, embedded.bytes.len(), timeout, None)?;
    drop(embedded);
    if store_cached(cache, &name, &c) {
        cache.evict("columns-", ".cwasm", KEEP_COLUMN_ARTIFACTS);
    }
    Ok(found(c, Compiled::Fresh))
}

/// Whether `component` has a core module that declares it answers with daily P&L (protocols 4
/// and 5, custom section [`DAILY_PNL_SECTION`]). Components without it get protocols 2 and 3,
/// and their results have no daily file.
pub fn books_daily(component: &[u8]) -> bool {
    any_module_declares(component, DAILY_PNL_SECTION)
}

/// Whether `component` has a core module that declares it reads the bars through the host's
/// `series` import (protocol 6, custom section [`STREAMED_COLUMNS_SECTION`]).
pub fn streams_bars(component: &[u8]) -> bool {
    any_module_declares(component, STREAMED_COLUMNS_SECTION)
}

fn any_module_declares(component: &[u8], section: &str) -> bool {
    top_level_modules(component)
        .ok()
        .into_iter()
        .flatten()
        .any(|m| declares(&component[m.body.clone()], section))
}

/// Whether `component` has a core module that declares it reads resident columns.
#[cfg(test)]
fn reads_resident_columns(component: &[u8]) -> bool {
    declaring_module(component).is_some()
}

/// Where the columns would start in the memory of `component`'s declaring module: the end of
/// its initial memory. `None` when no module declares [`RESIDENT_COLUMNS_SECTION`] or its
/// memory is of a kind this does not handle (imported, 64-bit, shared, or a custom page size).
pub(crate) fn columns_at(component: &[u8]) -> Option<u32> {
    let module = declaring_module(component)?;
    let (_, min, _) = module_memory(&component[module.body.clone()])?;
    u32::try_from(min.checked_mul(PAGE)?).ok()
}

/// `component` with `block` (the bytes of `encode_resident_columns`) as a data segment of the
/// module that declares [`RESIDENT_COLUMNS_SECTION`], at [`columns_at`]. `None` as for
/// [`columns_at`], or when the memory's maximum is too small for the columns; the caller then
/// copies the columns in as usual. The block is copied once, straight into the result.
pub(crate) fn embed_columns(component: &[u8], block: &[u8]) -> Option<Embedded> {
    let target = declaring_module(component)?;
    let module = &component[target.body.clone()];
    let (head, tail, columns_at) = embed_in_module(module, block.len() as u64)?;
    let module_len = (head.len() + block.len() + tail.len()) as u64;
    let mut bytes = Vec::with_capacity(component.len() + block.len() + head.len() + 16);
    bytes.extend_from_slice(&component[..target.section.start]);
    bytes.push(1); // core module section
    leb_u(&mut bytes, module_len);
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(block);
    bytes.extend_from_slice(&tail);
    bytes.extend_from_slice(&component[target.section.end..]);
    Some(Embedded { bytes, columns_at })
}

/// The section holding the declaring module.
fn declaring_module(component: &[u8]) -> Option<Section> {
    top_level_modules(component)
        .ok()?
        .into_iter()
        .find(|m| declares(&component[m.body.clone()], RESIDENT_COLUMNS_SECTION))
}

/// A section: where it lies in full (id, size, contents) and where its contents lie.
#[derive(Debug, Clone)]
struct Section {
    id: u8,
    section: std::ops::Range<usize>,
    body: std::ops::Range<usize>,
}

/// The sections after the 8-byte preamble of a module or component.
fn sections(bytes: &[u8]) -> Result<Vec<Section>, ()> {
    let mut out = Vec::new();
    let mut at = 8;
    if bytes.len() < at || &bytes[..4] != b"\0asm" {
        return Err(());
    }
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let size = read_leb(bytes, &mut at)? as usize;
        let end = at.checked_add(size).filter(|&e| e <= bytes.len()).ok_or(())?;
        out.push(Section {
            id,
            section: start..end,
            body: at..end,
        });
        at = end;
    }
    Ok(out)
}

/// The core modules directly inside a component (section id 1).
fn top_level_modules(component: &[u8]) -> Result<Vec<Section>, ()> {
    // A component's preamble has layer 1 in bytes 6..8; a core module's has layer 0.
    if component.get(6..8) != Some(&[1, 0]) {
        return Err(());
    }
    Ok(sections(component)?.into_iter().filter(|s| s.id == 1).collect())
}

/// Whether a core module has the custom section `name`.
fn declares(module: &[u8], name: &str) -> bool {
    let Ok(sections) = sections(module) else {
        return false;
    };
    sections
        .iter()
        .filter(|s| s.id == 0)
        .any(|s| custom_name(&module[s.body.clone()]) == Some(name.as_bytes()))
}

fn custom_name(body: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    let len = read_leb(body, &mut at).ok()? as usize;
    body.get(at..at.checked_add(len)?)
}

/// The module with a data segment of `len` bytes appended, as the bytes before the segment's
/// contents and the bytes after them, and where the segment goes (the end of the initial
/// memory, which grows to hold it).
fn embed_in_module(module: &[u8], len: u64) -> Option<(Vec<u8>, Vec<u8>, u32)> {
    let sections = sections(module).ok()?;
    let (flags, min, max) = module_memory(module)?;
    let columns_at = min.checked_mul(PAGE)?;
    let new_min = columns_at.checked_add(len)?.div_ceil(PAGE);
    if new_min > 65_536 || max.is_some_and(|m| m < new_min) {
        return None;
    }
    let columns_at = u32::try_from(columns_at).ok()?;
    let (mut head, mut tail) = (Vec::with_capacity(module.len()), Vec::new());
    head.extend_from_slice(&module[..8]);
    let mut data_written = false;
    for s in &sections {
        let out = if data_written { &mut tail } else { &mut head };
        let body = &module[s.body.clone()];
        match s.id {
            5 => {
                let mut b = vec![1, flags];
                leb_u(&mut b, new_min);
                if let Some(max) = max {
                    leb_u(&mut b, max);
                }
                put_section(out, 5, &b);
            }
            12 => {
                let mut at = 0;
                let count = read_leb(body, &mut at).ok()?;
                let mut b = Vec::new();
                leb_u(&mut b, count + 1);
                put_section(out, 12, &b);
            }
            11 => {
                let mut at = 0;
                let count = read_leb(body, &mut at).ok()?;
                let mut b = Vec::with_capacity(body.len() + 16);
                leb_u(&mut b, count + 1);
                b.extend_from_slice(&body[at..]);
                segment_header(&mut b, columns_at, len);
                out.push(11);
                leb_u(out, b.len() as u64 + len);
                out.extend_from_slice(&b);
                data_written = true;
            }
            _ => out.extend_from_slice(&module[s.section.clone()]),
        }
    }
    // Rust modules always have a data section; one without is left alone rather than given a
    // section in the right place among the others.
    data_written.then_some((head, tail, columns_at))
}

/// The module's memory, from its memory section: (flags, minimum pages, maximum pages).
fn module_memory(module: &[u8]) -> Option<(u8, u64, Option<u64>)> {
    let sections = sections(module).ok()?;
    let memory = sections.iter().find(|s| s.id == 5)?;
    single_memory(&module[memory.body.clone()])
}

/// The memory section's only memory, if it is a plain 32-bit one with 64 KiB pages:
/// (flags, minimum pages, maximum pages).
fn single_memory(body: &[u8]) -> Option<(u8, u64, Option<u64>)> {
    let mut at = 0;
    if read_leb(body, &mut at).ok()? != 1 {
        return None;
    }
    let flags = *body.get(at)?;
    at += 1;
    if flags & !1 != 0 {
        return None; // shared, 64-bit or custom page size
    }
    let min = read_leb(body, &mut at).ok()?;
    let max = if flags & 1 == 1 {
        Some(read_leb(body, &mut at).ok()?)
    } else {
        None
    };
    (at == body.len()).then_some((flags, min, max))
}

/// The start of an active segment of memory 0 at `at` holding `len` bytes: flags 0,
/// `i32.const at`, `end`, the length; the bytes follow.
fn segment_header(out: &mut Vec<u8>, at: u32, len: u64) {
    out.push(0);
    out.push(0x41); // i32.const
    leb_s(out, at as i32 as i64);
    out.push(0x0b); // end
    leb_u(out, len);
}

fn put_section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
    out.push(id);
    leb_u(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn read_leb(bytes: &[u8], at: &mut usize) -> Result<u64, ()> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or(())?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(())
}

fn leb_u(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn leb_s(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        if done {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module by hand: one memory of `min` pages, one data segment, the declaring custom
    /// section when `declare`.
    fn module(min: u64, declare: bool) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        put_section(&mut m, 5, &[1, 0, min as u8]);
        put_section(&mut m, 12, &[1]);
        let mut data = vec![1];
        data_segment(&mut data, 1024, b"hello");
        put_section(&mut m, 11, &data);
        if declare {
            let mut c = Vec::new();
            leb_u(&mut c, RESIDENT_COLUMNS_SECTION.len() as u64);
            c.extend_from_slice(RESIDENT_COLUMNS_SECTION.as_bytes());
            c.push(3);
            put_section(&mut m, 0, &c);
        }
        m
    }

    fn data_segment(out: &mut Vec<u8>, at: u32, bytes: &[u8]) {
        segment_header(out, at, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    fn component(modules: &[Vec<u8>]) -> Vec<u8> {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        for m in modules {
            put_section(&mut c, 1, m);
        }
        c
    }

    #[test]
    fn the_columns_go_where_the_initial_memory_ended_and_the_memory_grows_to_hold_them() {
        let block: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let c = component(&[module(1, false), module(2, true)]);
        assert!(reads_resident_columns(&c));
        assert_eq!(columns_at(&c), Some(2 * 65_536));
        let e = embed_columns(&c, &block).unwrap();
        assert_eq!(e.columns_at, 2 * 65_536);
        let modules = top_level_modules(&e.bytes).unwrap();
        assert_eq!(modules.len(), 2);
        assert_eq!(
            &e.bytes[modules[0].body.clone()],
            &module(1, false)[..],
            "other module untouched"
        );
        let m = &e.bytes[modules[1].body.clone()];
        let s = sections(m).unwrap();
        let memory = s.iter().find(|s| s.id == 5).unwrap();
        // 2 pages + 70,000 bytes end in the 4th page.
        assert_eq!(single_memory(&m[memory.body.clone()]), Some((0, 4, None)));
        let count = s.iter().find(|s| s.id == 12).unwrap();
        assert_eq!(&m[count.body.clone()], &[2]);
        let data = &m[s.iter().find(|s| s.id == 11).unwrap().body.clone()];
        let mut expected = vec![2];
        data_segment(&mut expected, 1024, b"hello");
        data_segment(&mut expected, 2 * 65_536, &block);
        assert_eq!(data, &expected[..]);
        assert!(declares(m, RESIDENT_COLUMNS_SECTION), "the declaration stays");
    }

    #[test]
    fn a_component_without_the_declaration_or_with_a_memory_too_small_is_left_alone() {
        let block = vec![7u8; 100];
        assert!(!reads_resident_columns(&component(&[module(1, false)])));
        assert_eq!(embed_columns(&component(&[module(1, false)]), &block), None);
        // A maximum of 1 page cannot hold columns placed after the first page.
        let mut m = module(1, true);
        let s = sections(&m).unwrap();
        let memory = s.iter().find(|s| s.id == 5).unwrap().section.clone();
        let mut limited = Vec::new();
        put_section(&mut limited, 5, &[1, 1, 1, 1]);
        m.splice(memory, limited);
        assert_eq!(embed_columns(&component(&[m]), &block), None);
        assert_eq!(embed_columns(b"not wasm", &block), None);
    }

    #[test]
    fn leb128_round_trips_and_signed_addresses_above_2_gib_are_i32_consts() {
        for v in [0u64, 1, 127, 128, 65_536, u32::MAX as u64] {
            let mut b = Vec::new();
            leb_u(&mut b, v);
            assert_eq!(read_leb(&b, &mut 0).unwrap(), v);
        }
        let mut b = Vec::new();
        leb_s(&mut b, 0x8000_0000u32 as i32 as i64);
        assert_eq!(b, [0x80, 0x80, 0x80, 0x80, 0x78], "i32.const -2^31");
        let mut b = Vec::new();
        leb_s(&mut b, 64);
        assert_eq!(b, [0xc0, 0x00], "64 needs a second byte for its sign");
    }
}
