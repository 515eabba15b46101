//! Writing `actions.jsonl` around the page cache.
//!
//! A million contacts make about 7 GB of actions. Copying that through the page cache costs a
//! core for most of a run on the machines we measured (the kernel's copy and page allocation,
//! not the disk), while direct I/O (`O_DIRECT`) hands whole aligned pages to the device at a
//! fraction of the CPU. So on Linux the file is opened for direct I/O and written from an
//! aligned staging buffer in large, page-multiple writes; the last partial page is written
//! padded and the file then cut to its true length. Where direct I/O is not available (another
//! system, or a file system that refuses it, like tmpfs) the same calls write normally. The
//! bytes on disk are the same either way.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

const PAGE: usize = 4096;
/// Pages staged before a write: 4 MiB.
const STAGED: usize = 1024;

/// One aligned page (direct I/O wants buffer, offset and length aligned to the device block).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4096))]
struct Page([u8; PAGE]);

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
