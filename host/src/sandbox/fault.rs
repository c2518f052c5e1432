//! What went wrong, in plain words: a component that cannot be used at all ([`LoadError`]) and
//! a batch that failed ([`BatchError`]), and the classification of wasmtime's errors into the
//! limit or fault they stand for.
//!
//! Why separate: wasmtime reports most breaches as text (a trap code at best), and recognising
//! them is pattern matching that deserves its own tests; the sandbox itself only gathers the
//! evidence (the error, the guest's stderr, how long it ran) and hands it here.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::Trap;

use super::limits::Limits;
use crate::util::text::untrusted;

/// A component that cannot be used at all (before any batch runs).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    #[error("component {origin} is not a valid stratbox backtester: {reason}")]
    Invalid { origin: String, reason: String },
    #[error(
        "component {origin} needs {needs_mib} MiB of linear memory to start, more than the cap of \
         {cap_mib} MiB (--memory-mib)"
    )]
    MemoryCap {
        origin: String,
        needs_mib: u64,
        cap_mib: usize,
    },
}

impl LoadError {
    /// `reason` why `origin` cannot be used, as the right variant: wasmtime's refusal of a
    /// starting memory above the cap names the cap, anything else is an invalid component.
    /// The reason is escaped and bounded: wasmtime's messages quote names the component chose.
    pub(crate) fn refused(origin: &str, cap_bytes: usize, reason: String) -> LoadError {
        match memory_minimum(&reason) {
            Some(bytes) => LoadError::MemoryCap {
                origin: origin.to_string(),
                needs_mib: bytes.div_ceil(1 << 20),
                cap_mib: cap_bytes >> 20,
            },
            None => LoadError::Invalid {
                origin: origin.to_string(),
                reason: untrusted(&reason),
            },
        }
    }
}

/// The starting memory size in wasmtime's refusal of a memory larger than the cap, if that is
/// what `text` is (the pooling allocator says "minimum byte size of N").
fn memory_minimum(text: &str) -> Option<u64> {
    let after = text.split("minimum byte size of ").nth(1)?;
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// A guest's output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// Why one batch failed, in plain words. Serialisable: checkpoints store it as it was seen.
///
/// Every string in it that a component could influence (its error, its panic message, its
/// stderr, wasmtime's trap text with the component's function names) is escaped and bounded
/// when the error is made ([`crate::util::text`]), so no display of it needs to care.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum BatchError {
    #[error("exceeded the deadline of {limit:?} (ran {seen:.2?})")]
    Deadline { limit: Duration, seen: Duration },
    #[error("exhausted the instruction budget of {limit} fuel")]
    Fuel { limit: u64 },
    #[error("hit the memory cap of {limit} MiB (tried to grow to {seen})")]
    Memory { limit: usize, seen: String },
    #[error("reply larger than the cap of {limit} bytes")]
    ReplyTooLarge { limit: usize },
    #[error("wrote more than the {limit}-byte cap to its {stream}")]
    OutputCap { stream: Stream, limit: usize },
    #[error("panicked: {message}")]
    Panic { message: String },
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("trapped: {trap}{}", if .stderr.is_empty() { String::new() } else { format!(" (guest stderr: {})", .stderr) })]
    Trap { trap: String, stderr: String },
    #[error("returned an error: {0}")]
    Guest(String),
    #[error("sent a malformed reply: {0}")]
    Malformed(String),
}

/// The last 400 characters of a guest's stderr on one line (a Rust guest's panic message ends
/// it), escaped.
fn stderr_tail(stderr: &str) -> String {
    let one_line = stderr
        .trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" / ");
    let count = one_line.chars().count();
    let tail: String = one_line.chars().skip(count.saturating_sub(400)).collect();
    untrusted(&tail)
}

impl BatchError {
    /// The guest's own error string, escaped and bounded.
    pub(crate) fn guest(message: &str) -> BatchError {
        BatchError::Guest(untrusted(message))
    }

    /// A reply that does not decode or does not hold what was asked, escaped and bounded (a
    /// decoder's message may quote the reply's bytes).
    pub(crate) fn malformed(message: &str) -> BatchError {
        BatchError::Malformed(untrusted(message))
    }

    /// The kind of failure, without its details: two failures of one kind have the same
    /// cause as far as the host can tell (a deadline is a deadline, whatever the time it ran).
    pub fn kind(&self) -> &'static str {
        match self {
            BatchError::Deadline { .. } => "deadline",
            BatchError::Fuel { .. } => "fuel",
            BatchError::Memory { .. } => "memory",
            BatchError::ReplyTooLarge { .. } => "reply size",
            BatchError::OutputCap { .. } => "output cap",
            BatchError::Panic { .. } => "panic",
            BatchError::StackOverflow => "stack overflow",
            BatchError::Trap { .. } => "trap",
            BatchError::Guest(_) => "error",
            BatchError::Malformed(_) => "malformed reply",
        }
    }
}

/// A Rust guest keeps its data stack in linear memory, growing down towards address 0: deep
/// recursion runs the stack pointer below 0 and the next store faults out of bounds. wasmtime
/// reports that as a plain memory fault, so recognise it by its shape: a fault at the top of the
/// 32-bit address space, or a backtrace that is one function calling itself over and over.
fn looks_like_stack_overflow(text: &str) -> bool {
    if text.contains("memory fault at wasm address 0xffff") {
        return true;
    }
    let frames: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" - ").map(|(_, f)| f.trim_end_matches(|c| c != '>')))
        .collect();
    frames.len() >= 16 && frames.windows(2).filter(|w| w[0] == w[1]).count() >= frames.len() - 2
}

/// `MESSAGE (at FILE:LINE:COL)` from a Rust panic report
/// (`thread '..' panicked at FILE:LINE:COL:\nMESSAGE\nnote: ...`).
fn panic_message(stderr: &str) -> String {
    let Some(start) = stderr.rfind("panicked at ") else {
        return stderr.trim().to_string();
    };
    let report = &stderr[start + "panicked at ".len()..];
    let (location, rest) = report.split_once('\n').unwrap_or((report, ""));
    let message: Vec<&str> = rest.lines().take_while(|l| !l.starts_with("note: ")).collect();
    format!(
        "{} (at {})",
        message.join(" / ").trim(),
        location.trim_end_matches(':')
    )
}

/// What the sandbox saw when a call failed.
pub(crate) struct Evidence<'a> {
    /// The trap code, when wasmtime's error carries one.
    pub trap: Option<Trap>,
    /// wasmtime's error with its causes (`{:#}`), backtrace included.
    pub text: &'a str,
    /// What the guest wrote to stderr (lossily decoded).
    pub stderr: &'a str,
    /// Bytes the guest wrote to stdout and stderr.
    pub written: (usize, usize),
    /// How long the call ran.
    pub ran: Duration,
}

/// Turns a failed call into the limit or fault it stands for.
pub(crate) fn classify(e: &Evidence, limits: &Limits) -> BatchError {
    let stderr = stderr_tail(e.stderr);
    if let Some(trap) = e.trap {
        return match trap {
            Trap::Interrupt => BatchError::Deadline {
                limit: limits.deadline,
                seen: e.ran,
            },
            Trap::OutOfFuel => BatchError::Fuel {
                limit: limits.fuel.unwrap_or(0),
            },
            Trap::StackOverflow => BatchError::StackOverflow,
            Trap::MemoryOutOfBounds if looks_like_stack_overflow(e.text) => BatchError::StackOverflow,
            // A Rust guest's panic prints its message to stderr, then aborts (`unreachable`).
            Trap::UnreachableCodeReached if e.stderr.contains("panicked at") => BatchError::Panic {
                message: untrusted(&panic_message(e.stderr)),
            },
            // The trap's own words ("out of bounds memory access", ...), not the backtrace.
            _ => BatchError::Trap {
                trap: trap.to_string(),
                stderr,
            },
        };
    }
    let text = e.text;
    if text.contains("forcing trap when growing memory") || text.contains("memory minimum size") {
        let seen = text
            .split("to ")
            .nth(1)
            .map(|s| s.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "more".into());
        return BatchError::Memory {
            limit: limits.memory_bytes >> 20,
            seen: untrusted(&seen),
        };
    }
    if text.contains("hostcalls has been exhausted") || text.contains("too much data is being copied") {
        return BatchError::ReplyTooLarge {
            limit: limits.reply_bytes,
        };
    }
    if text.contains("write beyond capacity of MemoryOutputPipe") {
        // The pipe that refused the write is the fuller one.
        let stream = if e.written.1 > e.written.0 {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        return BatchError::OutputCap {
            stream,
            limit: limits.output_bytes,
        };
    }
    BatchError::Trap {
        trap: untrusted(text.lines().next().unwrap_or_default()),
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(trap: Option<Trap>, text: &str, stderr: &str) -> BatchError {
        let limits = Limits {
            memory_bytes: 128 << 20,
            deadline: Duration::from_secs(2),
            fuel: Some(1000),
            reply_bytes: 4096,
            output_bytes: 100,
            ..Limits::default()
        };
        let evidence = Evidence {
            trap,
            text,
            stderr,
            written: (3, 100),
            ran: Duration::from_millis(2010),
        };
        classify(&evidence, &limits)
    }

    #[test]
    fn trap_codes_name_their_limit() {
        assert_eq!(
            seen(Some(Trap::Interrupt), "interrupt", ""),
            BatchError::Deadline {
                limit: Duration::from_secs(2),
                seen: Duration::from_millis(2010)
            }
        );
        assert_eq!(
            seen(Some(Trap::OutOfFuel), "", ""),
            BatchError::Fuel { limit: 1000 }
        );
        assert_eq!(seen(Some(Trap::StackOverflow), "", ""), BatchError::StackOverflow);
    }

    #[test]
    fn a_fault_at_the_top_of_memory_or_a_self_recursive_backtrace_is_a_stack_overflow() {
        let top = "error while executing\nmemory fault at wasm address 0xfffffff0 in linear memory";
        assert_eq!(
            seen(Some(Trap::MemoryOutOfBounds), top, ""),
            BatchError::StackOverflow
        );
        let frames: String = (0..20)
            .map(|i| format!("  {i}: 0x1234 - guest!recurse<T>\n"))
            .collect();
        assert_eq!(
            seen(Some(Trap::MemoryOutOfBounds), &format!("wasm trap\n{frames}"), ""),
            BatchError::StackOverflow
        );
        let plain = "wasm trap: out of bounds memory access\n  0: 0x1 - a\n  1: 0x2 - b";
        assert!(matches!(
            seen(Some(Trap::MemoryOutOfBounds), plain, ""),
            BatchError::Trap { .. }
        ));
    }

    #[test]
    fn a_rust_panic_report_becomes_its_message_and_location() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom: bad id\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            seen(Some(Trap::UnreachableCodeReached), "unreachable", stderr),
            BatchError::Panic {
                message: "boom: bad id (at src/lib.rs:10:5)".into()
            }
        );
        // Without a panic report, an `unreachable` is a plain trap with the stderr's tail.
        let e = seen(
            Some(Trap::UnreachableCodeReached),
            "unreachable",
            "line one\nline two\n",
        );
        assert_eq!(
            e.to_string(),
            "trapped: wasm trap: wasm `unreachable` instruction executed (guest stderr: line one / line two)"
        );
    }

    #[test]
    fn host_side_limits_are_recognised_by_their_words() {
        assert_eq!(
            seen(None, "forcing trap when growing memory to 145555456 bytes", ""),
            BatchError::Memory {
                limit: 128,
                seen: "145555456 bytes".into()
            }
        );
        assert_eq!(
            seen(None, "resource limit: hostcalls has been exhausted", ""),
            BatchError::ReplyTooLarge { limit: 4096 }
        );
        assert_eq!(
            seen(None, "write beyond capacity of MemoryOutputPipe", ""),
            BatchError::OutputCap {
                stream: Stream::Stderr,
                limit: 100
            }
        );
        assert_eq!(
            seen(None, "something else\ncaused by: detail", ""),
            BatchError::Trap {
                trap: "something else".into(),
                stderr: String::new()
            }
        );
    }

    #[test]
    fn a_starting_memory_over_the_cap_is_named_as_such() {
        let e = LoadError::refused(
            "x.wasm",
            32 << 20,
            "memory has a minimum byte size of 67108864 which exceeds the limit".into(),
        );
        assert_eq!(
            e.to_string(),
            "component x.wasm needs 64 MiB of linear memory to start, more than the cap of 32 MiB (--memory-mib)"
        );
        assert!(matches!(
            LoadError::refused("x.wasm", 32 << 20, "bad magic".into()),
            LoadError::Invalid { .. }
        ));
    }
}
