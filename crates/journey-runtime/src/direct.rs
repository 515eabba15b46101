//! Reading input files and writing `actions.jsonl` around the page cache.
//!
//! A million contacts make about 7 GB of actions. Copying that through the page cache costs a
//! core for most of a run on the machines we measured (the kernel's copy and page allocation,
//! not the disk), while direct I/O (`O_DIRECT`) hands whole aligned pages to the device at a
//! fraction of the CPU. So on Linux the file is opened for direct I/O and written from an
//! aligned staging buffer in large, page-multiple writes; the last partial page is written
//! padded and the file then cut to its true length. Where direct I/O is not available (another
//! system, or a file system that refuses it, like tmpfs) the same calls write normally. The
//! bytes on disk are the same either way.
//!
//! Input files are read the same way ([`InputFile`]): a buffered read of 2.6 GB is the kernel
//! copying every byte out of the page cache (3 s of a core on the development machine), a
//! direct read is the device writing into the reader's own block. A read into an aligned,
//! page-multiple buffer goes straight there; any other read is served from an aligned bounce
//! buffer; a file the system will not read directly is read normally, from where it stopped.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

pub(crate) const PAGE: usize = 4096;
/// Pages staged before a write: 4 MiB.
const STAGED: usize = 1024;

/// One aligned page (direct I/O wants buffer, offset and length aligned to the device block).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4096))]
pub(crate) struct Page(pub(crate) [u8; PAGE]);

/// Pages of the bounce buffer of an [`InputFile`]: 1 MiB.
const BOUNCE: usize = 256;

/// A file read sequentially, with direct I/O where it works.
pub struct InputFile {
    path: PathBuf,
    file: File,
    direct: bool,
    /// Aligned buffer for reads that are not aligned themselves; `bounce[at..len]` is unread.
    bounce: Vec<Page>,
    at: usize,
    len: usize,
    /// Bytes read from the file so far.
    offset: u64,
}

#[cfg(target_os = "linux")]
fn open_direct_read(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct_read(_: &Path) -> io::Result<File> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "direct I/O is used on Linux only"))
}

impl InputFile {
    /// Opens a file for reading: directly when it is a regular file the system reads directly,
    /// else normally (pipes, devices and other systems included).
    pub fn open(path: &Path) -> io::Result<InputFile> {
        let file = File::open(path)?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let (file, direct) = match regular.then(|| open_direct_read(path)) {
            Some(Ok(direct)) => (direct, true),
            _ => (file, false),
        };
        Ok(InputFile { path: path.to_path_buf(), file, direct, bounce: Vec::new(), at: 0, len: 0, offset: 0 })
    }

    /// Whether the file is being read with direct I/O.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// One read straight from the file, falling back to normal reads where a direct one is
    /// refused (an unaligned offset after a short read, or a file system that will not).
    fn read_file(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.kind() == io::ErrorKind::InvalidInput => {
                    let mut file = File::open(&self.path)?;
                    file.seek(io::SeekFrom::Start(self.offset))?;
                    self.file = file;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for InputFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.len {
            let bytes: &[u8] = bytemuck::cast_slice(self.bounce.as_slice());
            let n = buf.len().min(self.len - self.at);
            buf[..n].copy_from_slice(&bytes[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        if !self.direct {
            return self.read_file(buf);
        }
        let whole = buf.len() / PAGE * PAGE;
        if (buf.as_ptr() as usize).is_multiple_of(PAGE) && whole > 0 {
            return self.read_file(&mut buf[..whole]);
        }
        if self.bounce.is_empty() {
            self.bounce = vec![Page([0; PAGE]); BOUNCE];
        }
        let mut bounce = std::mem::take(&mut self.bounce);
        let read = self.read_file(bytemuck::cast_slice_mut(bounce.as_mut_slice()));
        self.bounce = bounce;
        self.len = read?;
        self.at = 0;
        if self.len == 0 {
            return Ok(0);
        }
        self.read(buf)
    }
}

/// A file written sequentially, with direct I/O where it works.
pub struct OutputFile {
    path: PathBuf,
    file: File,
    /// Staging pages while writing directly; `None` once writing normally.
    staging: Option<Vec<Page>>,
    /// Bytes staged and not yet written.
    staged: usize,
    /// Bytes accepted so far (the file's final length).
    len: u64,
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> io::Result<File> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "direct I/O is used on Linux only"))
}

impl OutputFile {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> io::Result<OutputFile> {
        match open_direct(path) {
            Ok(file) => Ok(OutputFile { path: path.to_path_buf(), file, staging: Some(vec![Page([0; PAGE]); STAGED]), staged: 0, len: 0 }),
            Err(_) => Ok(OutputFile { path: path.to_path_buf(), file: File::create(path)?, staging: None, staged: 0, len: 0 }),
        }
    }

    /// Whether the file is being written with direct I/O.
    pub fn is_direct(&self) -> bool {
        self.staging.is_some()
    }

    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let Some(staging) = &mut self.staging else {
                self.len += data.len() as u64;
                return self.file.write_all(data);
            };
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(staging.as_mut_slice());
            let n = data.len().min(bytes.len() - self.staged);
            bytes[self.staged..self.staged + n].copy_from_slice(&data[..n]);
            self.staged += n;
            self.len += n as u64;
            data = &data[n..];
            if self.staged == bytes.len() {
                self.write_staged(self.staged)?;
            }
        }
        Ok(())
    }

    /// Writes the first `len` staged bytes (a multiple of the page size).
    fn write_staged(&mut self, len: usize) -> io::Result<()> {
        let Some(staging) = &self.staging else { return Ok(()) };
        let bytes: &[u8] = bytemuck::cast_slice(staging.as_slice());
        match self.file.write_all(&bytes[..len]) {
            Ok(()) => {
                self.staged = 0;
                Ok(())
            }
            // The file system refused direct I/O: go on writing normally from where it stopped.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                let written = self.len - self.staged as u64;
                let mut file = std::fs::OpenOptions::new().write(true).open(&self.path)?;
                file.set_len(written)?;
                file.seek(io::SeekFrom::Start(written))?;
                file.write_all(&bytes[..self.staged])?;
                self.file = file;
                self.staging = None;
                self.staged = 0;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes what is staged and gives the file its exact length.
    pub fn finish(mut self) -> io::Result<()> {
        if self.staging.is_some() && self.staged > 0 {
            let padded = self.staged.div_ceil(PAGE) * PAGE;
            if let Some(staging) = &mut self.staging {
                let bytes: &mut [u8] = bytemuck::cast_slice_mut(staging.as_mut_slice());
                bytes[self.staged..padded].fill(0);
            }
            self.write_staged(padded)?;
            if self.staging.is_some() {
                self.file.set_len(self.len)?;
            }
        }
        self.file.flush()
    }
}

impl Write for OutputFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        OutputFile::write_all(self, data)
    }

    /// Staged bytes are written by [`OutputFile::finish`], not here (direct writes are whole
    /// pages).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn writes_exactly_the_bytes_given() {
        let dir = std::env::temp_dir().join(format!("journey-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [0usize, 1, PAGE - 1, PAGE, PAGE + 1, STAGED * PAGE, STAGED * PAGE + 77, 3 * STAGED * PAGE + 5] {
            let path = dir.join(format!("out-{size}"));
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut out = OutputFile::create(&path).unwrap();
            for piece in data.chunks(1_000_003) {
                out.write_all(piece).unwrap();
            }
            out.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "{size} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_exactly_the_bytes_of_the_file_whatever_the_reads() {
        let dir = std::env::temp_dir().join(format!("journey-direct-in-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [0usize, 1, PAGE - 1, PAGE, PAGE + 1, BOUNCE * PAGE + 77, 3 * BOUNCE * PAGE + 5] {
            let path = dir.join(format!("in-{size}"));
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            // Aligned reads of whole pages, odd sizes and offsets, and a mix of both.
            for pattern in [&[8 * PAGE][..], &[1000, 7, 4096 * 3 + 1], &[PAGE, 13, 2 * PAGE, 5000]] {
                let mut input = InputFile::open(&path).unwrap();
                let mut pages = vec![Page([0; PAGE]); 12];
                let area: &mut [u8] = bytemuck::cast_slice_mut(pages.as_mut_slice());
                let (mut got, mut i) = (Vec::new(), 0);
                loop {
                    let want = pattern[i % pattern.len()];
                    // Aligned when the size is a page multiple, else one byte off.
                    let from = if want % PAGE == 0 { 0 } else { 1 };
                    let n = input.read(&mut area[from..from + want]).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&area[from..from + n]);
                    i += 1;
                }
                assert_eq!(got, data, "{size} bytes read as {pattern:?}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A direct read refused part-way (here: the file position made unaligned, as a short read
    /// would) goes on normally from the same offset, losing and repeating nothing.
    #[test]
    fn a_direct_read_refused_mid_stream_goes_on_normally_from_the_same_offset() {
        let dir = std::env::temp_dir().join(format!("journey-direct-mid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in");
        let data: Vec<u8> = (0..BOUNCE * PAGE * 2 + 999).map(|i| (i % 241) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut input = InputFile::open(&path).unwrap();
        if !input.is_direct() {
            // This file system reads nothing directly: there is no refusal to provoke.
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        let mut first = vec![0u8; 5000];
        input.read_exact(&mut first).unwrap();
        // Unaligned from here: the next direct read is refused with `InvalidInput`.
        let skip = 77u64;
        input.at = input.len;
        let resume = input.offset + skip;
        input.file.seek(io::SeekFrom::Start(resume)).unwrap();
        input.offset = resume;
        let mut rest = Vec::new();
        input.read_to_end(&mut rest).unwrap();
        assert!(!input.is_direct(), "the refusal switched to normal reads");
        assert_eq!(&first[..], &data[..5000]);
        assert_eq!(rest, &data[resume as usize..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Pipes and other non-files are read normally; so is tmpfs where it refuses direct I/O.
    #[test]
    fn reads_the_same_bytes_from_tmpfs_and_from_a_non_file() {
        let data: Vec<u8> = (0..PAGE * 5 + 123).map(|i| (i % 17) as u8).collect();
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            let path = shm.join(format!("journey-direct-in-{}", std::process::id()));
            std::fs::write(&path, &data).unwrap();
            let mut got = Vec::new();
            InputFile::open(&path).unwrap().read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
            std::fs::remove_file(&path).unwrap();
        }
        let null = std::path::Path::new("/dev/null");
        if null.exists() {
            let mut input = InputFile::open(null).unwrap();
            assert!(!input.is_direct(), "a device is read normally");
            let mut got = Vec::new();
            input.read_to_end(&mut got).unwrap();
            assert!(got.is_empty());
        }
    }

    /// tmpfs refuses direct I/O on older kernels (newer ones take it): the bytes are the same.
    #[test]
    fn writes_the_same_bytes_on_tmpfs() {
        let shm = std::path::Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let path = shm.join(format!("journey-direct-{}", std::process::id()));
        let data: Vec<u8> = (0..PAGE * 3 + 10).map(|i| (i % 13) as u8).collect();
        let mut out = OutputFile::create(&path).unwrap();
        out.write_all(&data).unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        std::fs::remove_file(&path).unwrap();
    }
}
