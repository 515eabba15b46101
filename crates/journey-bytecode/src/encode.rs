//! The `.jbc` framing, shared with state snapshots:
//!
//! ```text
//! offset size  field
//! 0      4     magic (b"JBC\0" for programs, b"JSN\0" for snapshots)
//! 4      2     format version, little endian
//! 6      2     body length in bytes, bits 32–47, little endian (zero below 4 GiB)
//! 8      4     body length in bytes, bits 0–31, little endian
//! 12     4     CRC-32 (IEEE) of the body, little endian
//! 16     n     body: postcard encoding of the value
//! ```
//!
//! postcard's wire format is stable and documented; the checksum catches truncation and bit rot
//! before decoding, and decoding never trusts a length it has not checked.

use crate::program::Program;
use serde::{Serialize, de::DeserializeOwned};
use std::fmt;

pub const PROGRAM_MAGIC: [u8; 4] = *b"JBC\0";
/// 2: contact heaps are arenas and snapshot instants use one-byte sentinels. 3: a `match`
/// names its enum. 4: a snapshot records its attribute types, enums and entry fields, and a
/// state keeps the program constants it holds on its own heap. (Bodies past 4 GiB, with header bytes 6–7 as the length's high bits, need
/// no new version: below 4 GiB those bytes are zero, as before.)
pub const FORMAT_VERSION: u16 = 4;
const HEADER: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooShort { len: usize },
    BadMagic { expected: [u8; 4], found: [u8; 4] },
    UnsupportedVersion { found: u16, supported: u16 },
    LengthMismatch { declared: usize, actual: usize },
    ChecksumMismatch { declared: u32, actual: u32 },
    Body(String),
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len } => write!(f, "file is {len} bytes, shorter than the 16-byte header: not a journey file, or truncated"),
            DecodeError::BadMagic { expected, found } => {
                let what = match expected {
                    b"JBC\0" => "a bytecode file (`journey build`)",
                    b"JSN\0" => "a state snapshot (`journey run` writes DIR/state.snapshot)",
                    _ => "a journey file",
                };
                // What it starts with, as text when it is text (a source file given by mistake).
                let start: String = found.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }).collect();
                write!(f, "not {what}: it starts with {start:?} (bytes {found:?}), not {:?}", String::from_utf8_lossy(&expected[..3]))
            }
            DecodeError::UnsupportedVersion { found, supported } => {
                write!(f, "format version {found} is not supported (this journey reads version {supported}); rebuild it with this journey")
            }
            DecodeError::LengthMismatch { declared, actual } => {
                write!(f, "body is {actual} bytes but the header declares {declared}: the file is truncated or padded")
            }
            DecodeError::ChecksumMismatch { declared, actual } => {
                write!(f, "checksum mismatch (header {declared:08x}, body {actual:08x}): the file is corrupt")
            }
            DecodeError::Body(e) => write!(f, "cannot decode the body: {e}"),
            DecodeError::Invalid(e) => write!(f, "invalid program: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The largest body the header can give the length of (48 bits: 256 TiB).
pub const MAX_BODY: u64 = (1 << 48) - 1;

/// A body length as the header holds it: bits 32–47, then bits 0–31.
fn split_len(len: u64) -> (u16, u32) {
    ((len >> 32) as u16, len as u32)
}

/// Frames an already-encoded body (of at most [`MAX_BODY`] bytes: an in-memory body is far
/// smaller).
pub fn frame(magic: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let (high, low) = split_len(body.len() as u64);
    out.extend_from_slice(&high.to_le_bytes());
    out.extend_from_slice(&low.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Counts and checksums what goes through it.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: std::io::Write> std::io::Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `value` framed like [`encode_value`] without building the body in memory first (a
/// million contacts' snapshot is hundreds of megabytes): the header with a zero length and
/// checksum, then the body through a checksumming writer. Returns the body's length and
/// checksum for [`complete_frame`], which fills them in.
pub fn write_frame_start<T: Serialize, W: std::io::Write>(magic: [u8; 4], value: &T, mut out: W) -> std::io::Result<(u64, u32)> {
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(&magic);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.write_all(&header)?;
    let (crc, len) = write_body(value, &mut out)?;
    if len > MAX_BODY {
        return Err(std::io::Error::other(format!("the body is {len} bytes, more than the format's 256 TiB limit: split the run with --shard")));
    }
    Ok((len, crc))
}

/// Fills in the length and checksum of a header written by [`write_frame_start`].
pub fn complete_frame<F: std::io::Write + std::io::Seek>(file: &mut F, len: u64, crc: u32) -> std::io::Result<()> {
    let (high, low) = split_len(len);
    file.seek(std::io::SeekFrom::Start(6))?;
    file.write_all(&high.to_le_bytes())?;
    file.write_all(&low.to_le_bytes())?;
    file.write_all(&crc.to_le_bytes())?;
    file.flush()
}

fn write_body<T: Serialize, W: std::io::Write>(value: &T, file: W) -> std::io::Result<(u32, u64)> {
    let mut body = Checksummed { inner: std::io::BufWriter::with_capacity(1 << 20, file), crc: crc32fast::Hasher::new(), len: 0 };
    postcard::to_io(value, &mut body).map_err(|e| std::io::Error::other(e.to_string()))?;
    std::io::Write::flush(&mut body)?;
    Ok((body.crc.finalize(), body.len))
}

/// Checks the header and checksum; returns the body.
pub fn unframe(magic: [u8; 4], bytes: &[u8]) -> Result<&[u8], DecodeError> {
    if bytes.len() < HEADER {
        return Err(DecodeError::TooShort { len: bytes.len() });
    }
    let found = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if found != magic {
        return Err(DecodeError::BadMagic { expected: magic, found });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    let high = u64::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let declared = high << 32 | u64::from(u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]));
    let body = &bytes[HEADER..];
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    if declared != body.len() {
        return Err(DecodeError::LengthMismatch { declared, actual: body.len() });
    }
    let checksum = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let actual = crc32fast::hash(body);
    if checksum != actual {
        return Err(DecodeError::ChecksumMismatch { declared: checksum, actual });
    }
    Ok(body)
}

pub fn encode_value<T: Serialize>(magic: [u8; 4], value: &T) -> Result<Vec<u8>, DecodeError> {
    let body = postcard::to_stdvec(value).map_err(|e| DecodeError::Body(e.to_string()))?;
    Ok(frame(magic, &body))
}

pub fn decode_value<T: DeserializeOwned>(magic: [u8; 4], bytes: &[u8]) -> Result<T, DecodeError> {
    let body = unframe(magic, bytes)?;
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|e| DecodeError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Body(format!("{} trailing bytes after the program", rest.len())));
    }
    Ok(value)
}

/// Encodes a program as a `.jbc` file.
pub fn encode(program: &Program) -> Result<Vec<u8>, DecodeError> {
    encode_value(PROGRAM_MAGIC, program)
}

/// Decodes and verifies a `.jbc` file. Nothing in a program that passes can index out of range.
pub fn decode(bytes: &[u8]) -> Result<Program, DecodeError> {
    let program: Program = decode_value(PROGRAM_MAGIC, bytes)?;
    crate::verify::verify(&program).map_err(DecodeError::Invalid)?;
    Ok(program)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn streamed_framing_is_byte_for_byte_the_in_memory_one() {
        let value: Vec<(String, Vec<u8>)> = (0..5000).map(|i| (format!("c{i:07}"), vec![i as u8; i % 97])).collect();
        let mut file = std::io::Cursor::new(Vec::new());
        let (len, crc) = write_frame_start(*b"JSN\0", &value, &mut file).unwrap();
        complete_frame(&mut file, len, crc).unwrap();
        assert_eq!(file.into_inner(), encode_value(*b"JSN\0", &value).unwrap());
    }

    #[test]
    fn lengths_past_4_gib_use_the_high_header_bytes() {
        // A 5 GiB + 7 body: the header says so in bytes 6–7 (bits 32–47) and 8–11.
        let mut file = std::io::Cursor::new(vec![0u8; HEADER]);
        complete_frame(&mut file, (5 << 30) + 7, 0xDEAD_BEEF).unwrap();
        let header = file.into_inner();
        assert_eq!(header[6..16], [1, 0, 7, 0, 0, 0x40, 0xEF, 0xBE, 0xAD, 0xDE]);
        assert_eq!(split_len(MAX_BODY), (u16::MAX, u32::MAX));
        // Read back, such a header declares more than the bytes that follow: an error, with
        // the declared length in full.
        let mut bytes = encode_value(*b"JSN\0", &vec![1u8, 2, 3]).unwrap();
        bytes[6] = 1;
        match unframe(*b"JSN\0", &bytes) {
            Err(DecodeError::LengthMismatch { declared, actual: 4 }) => assert_eq!(declared as u64, (1 << 32) + 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_file_says_what_was_expected_and_what_it_starts_with() {
        let source = b"journey welcome {\n  entry on signed_up\n}\n".repeat(2);
        let error = decode_value::<Vec<u8>>(PROGRAM_MAGIC, &source).unwrap_err();
        assert_eq!(error.to_string(), "not a bytecode file (`journey build`): it starts with \"jour\" (bytes [106, 111, 117, 114]), not \"JBC\"");
        let program = encode_value(PROGRAM_MAGIC, &vec![1u8, 2, 3]).unwrap();
        let error = decode_value::<Vec<u8>>(*b"JSN\0", &program).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not a state snapshot (`journey run` writes DIR/state.snapshot): it starts with \"JBC.\" (bytes [74, 66, 67, 0]), not \"JSN\""
        );
    }
}
