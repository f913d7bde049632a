//! The bytes of a weights file (model.safetensors or a GGUF file): in memory when they came as
//! bytes (the browser, the embedded model, a file made in memory), mapped from disk when the CLI
//! opens a file. A mapped file's pages are handed back as each tensor is built
//! ([`WeightBytes::release`]), so loading never holds the whole file beside the model.

use crate::error::{Error, Result};
use std::ops::Deref;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::Arc;

/// The span of pages Linux maps at once on a page fault of a file mapping (`fault_around_bytes`).
#[cfg(not(target_arch = "wasm32"))]
const FAULT_AROUND_BYTES: usize = 64 << 10;

#[derive(Clone)]
pub struct WeightBytes(Storage);

#[derive(Clone)]
enum Storage {
    Owned(Vec<u8>),
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(Arc<memmap2::Mmap>),
}

impl From<Vec<u8>> for WeightBytes {
    fn from(bytes: Vec<u8>) -> Self {
        WeightBytes(Storage::Owned(bytes))
    }
}

impl std::fmt::Debug for WeightBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WeightBytes({} bytes)", self.len())
    }
}

impl Deref for WeightBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Owned(bytes) => bytes,
            #[cfg(not(target_arch = "wasm32"))]
            Storage::Mapped(map) => map,
        }
    }
}

impl WeightBytes {
    /// The file at `path`, mapped read-only. Its contents must not change while it is loaded: a
    /// file rewritten meanwhile gives mixed values, one truncated meanwhile ends the process, as
    /// with every loader that maps its files (safetensors, llama.cpp).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn map_file(path: &std::path::Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
        let metadata = file.metadata().map_err(|e| Error::io(path.display(), e))?;
        if !metadata.is_file() {
            return Err(Error::io(path.display(), "is not a regular file"));
        }
        // SAFETY: a private read-only mapping of a regular file; see the contract above.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path.display(), e))?;
        Ok(WeightBytes(Storage::Mapped(Arc::new(map))))
    }

    /// The file at `path`, read into memory: wasm has no mappings (and in a page, no files).
    #[cfg(target_arch = "wasm32")]
    pub fn map_file(path: &std::path::Path) -> Result<Self> {
        std::fs::read(path).map(Self::from).map_err(|e| Error::io(path.display(), e))
    }

    /// Says that `part` (a slice of these bytes, e.g. one tensor's data) has been read: a mapped
    /// file's pages under it leave memory until they are read again. Owned bytes stay as they are.
    pub fn release(&self, part: &[u8]) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Storage::Mapped(map) = &self.0 {
            let offset = (part.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize);
            if part.is_empty() || offset.checked_add(part.len()).is_none_or(|end| end > map.len()) {
                return;
            }
            // A page fault maps the cached pages around it too (Linux's fault-around, 64 KiB),
            // which may be pages of a neighbour released before: they go with this part.
            let start = offset - offset % FAULT_AROUND_BYTES;
            let end = (offset + part.len()).next_multiple_of(FAULT_AROUND_BYTES).min(map.len());
            // SAFETY: the mapping is private and read-only and nothing ever writes to it, so
            // dropping its pages only makes the next read fault them in again from the file:
            // every slice into it keeps its contents. A failure leaves the pages where they are,
            // which costs memory, not correctness.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
        }
        #[cfg(target_arch = "wasm32")]
        let _ = part;
    }
}
