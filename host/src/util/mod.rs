//! Small utilities with one owner each, shared by the subsystems: hex digests, UTC time text,
//! atomic file writes, and untrusted text made safe to show. They sit here, below everything else, so that no subsystem has to import
//! another one for a helper (which is how import cycles start).

pub mod digest;
pub mod fs;
pub mod text;
pub mod time;
