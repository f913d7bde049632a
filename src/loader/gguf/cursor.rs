//! A little-endian reader over a byte slice that never reads past its end: every read either
//! returns the bytes it asked for or an error naming what was being read.

use crate::error::{Error, Result};

pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, position: 0 }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// The next `count` bytes; `what` names them in the error when the file ends first.
    pub fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8]> {
        if count > self.remaining() {
            return Err(Error::Gguf(format!(
                "the file ends inside {what} (needs {count} bytes at offset {}, {} left)",
                self.position,
                self.remaining()
            )));
        }
        let taken = &self.bytes[self.position..self.position + count];
        self.position += count;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string: a u64 length, then that many bytes of UTF-8, borrowed from the file.
    pub fn string(&mut self, what: &str) -> Result<&'a str> {
        let length = self.u64(what)?;
        let length = self.bounded_count(length, 1, what)?;
        let bytes = self.take(length, what)?;
        std::str::from_utf8(bytes).map_err(|_| Error::Gguf(format!("{what} is not UTF-8")))
    }

    /// `count` items of at least `min_item_bytes` each must fit in the bytes left: a count the
    /// file cannot hold is rejected before anything is allocated for it.
    pub fn bounded_count(&self, count: u64, min_item_bytes: usize, what: &str) -> Result<usize> {
        let fits = usize::try_from(count)
            .ok()
            .filter(|&n| n.checked_mul(min_item_bytes).is_some_and(|bytes| bytes <= self.remaining()));
        fits.ok_or_else(|| {
            Error::Gguf(format!("{what} claims {count} items but only {} bytes are left in the file", self.remaining()))
        })
    }
}
