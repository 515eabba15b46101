//! The journey bytecode: instruction set and program container ([`program`]), the `.jbc` file
//! format ([`encode()`]: magic, version, checksum, postcard body), the structural [`verify`]er that
//! runs before anything executes, and the [`disasm`]bler.
//!
//! The VM depends on this crate only: a `.jbc` runs without the front end linked in.

pub mod disasm;
pub mod encode;
pub mod program;
pub mod verify;

pub use encode::{DecodeError, FORMAT_VERSION, decode, encode, frame, unframe};
pub use program::*;

/// A stable 64-bit FNV-1a hash: the same bytes give the same value on every platform, thread
/// count and Rust version. Used for project fingerprints and for split, experiment and holdout
/// assignment.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(0xcbf2_9ce4_8422_2325, bytes)
}

/// FNV-1a continued from `hash` over more bytes.
fn fnv1a_from(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The assignment bucket (0..10000, hundredths of a percent) of a contact for one split,
/// experiment or holdout: FNV-1a of `contact 0xFF journey 0xFF key`, modulo 10000.
pub fn bucket(contact: &str, journey: &str, key: &str) -> u32 {
    // The parts hashed in turn: the same value as over their concatenation, without building it.
    let mut hash = fnv1a(contact.as_bytes());
    for part in [journey, key] {
        hash = fnv1a_from(fnv1a_from(hash, &[0xFF]), part.as_bytes());
    }
    (hash % 10_000) as u32
}
