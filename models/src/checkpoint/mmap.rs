//! The one place the crate maps a file into memory.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use fak_backends::ByteSource;
use memmap2::{Mmap, UncheckedAdvice};

use crate::ModelError;

/// A file mapped read-only: the bytes tensors borrow, and whose pages can be given back.
#[derive(Debug)]
pub(crate) struct MappedFile(Mmap);

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl ByteSource for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Drops the pages `range` touches from the process (`MADV_DONTNEED`; a page shared
    /// with a neighbouring tensor goes too): a later read maps them again from the page
    /// cache or the file. A failure only means the pages stay, so it is not reported.
    fn release(&self, range: Range<usize>) {
        // SAFETY: DONTNEED discards a private mapping's own modifications, and this mapping
        // is read-only, so it has none: afterwards every read sees the file's bytes, as
        // before (the file not changing is what the mapping itself already requires, see
        // `map_read_only`).
        let _ = unsafe {
            self.0
                .unchecked_advise_range(UncheckedAdvice::DontNeed, range.start, range.len())
        };
    }
}

/// `path`, memory-mapped read-only. Weights are computed from these pages directly, so a
/// checkpoint costs page cache, not a second copy in the heap.
pub(crate) fn map_read_only(path: &Path) -> Result<Arc<MappedFile>, ModelError> {
    let file = File::open(path).map_err(|e| ModelError::io(path, "a weights file", e))?;
    // SAFETY: a mapping is only undefined behaviour if the file changes underneath it. The
    // map is read-only and fak never writes a checkpoint; a user who rewrites the file while
    // a model runs from it gets what every memory-mapping loader gives (llama.cpp,
    // safetensors), which the README states.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, "a weights file", e))?;
    Ok(Arc::new(MappedFile(map)))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Resident bytes of the mapping that starts at `start`, from /proc/self/smaps.
    fn resident(start: *const u8) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let header = format!("{:x}-", start as usize);
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header));
        assert!(lines.next().is_some(), "the mapping is listed");
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        let kib: usize = rss.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    #[test]
    fn released_pages_leave_the_process_and_read_back_the_file() {
        let pattern: Vec<u8> = (0..64 * 4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &pattern).unwrap();
        let map = map_read_only(file.path()).unwrap();
        assert_eq!(map.bytes(), pattern.as_slice());
        let start = map.bytes().as_ptr();
        assert!(
            resident(start) >= pattern.len() / 2,
            "read pages are resident"
        );

        map.release(0..pattern.len());
        assert_eq!(resident(start), 0, "released pages left the process");
        assert_eq!(map.bytes(), pattern.as_slice(), "and read back as the file");
    }
}
