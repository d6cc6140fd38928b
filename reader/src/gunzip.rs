//! The gunzip stage: gzip (one member or several) inflated as a stream,
//! in bounded steps, with a pure-Rust inflater (flate2 on zlib-rs).

use std::io::Write;

use flate2::write::MultiGzDecoder;

use crate::wording;

/// Gzip's magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// A zip archive's local file header signature.
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// What an input is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Text (JSON in some layout).
    Plain,
    /// Gzip.
    Gzip,
    /// A zip archive: not read.
    Zip,
}

/// What the first bytes of an input say it is; `None` while too few are
/// known to tell (`at_end`: no more will come).
pub fn sniff(head: &[u8], at_end: bool) -> Option<Compression> {
    if head.starts_with(&GZIP_MAGIC) {
        Some(Compression::Gzip)
    } else if head.starts_with(&ZIP_MAGIC) {
        Some(Compression::Zip)
    } else if head.len() >= ZIP_MAGIC.len() || at_end {
        Some(Compression::Plain)
    } else if ZIP_MAGIC.starts_with(head) || GZIP_MAGIC.starts_with(head) {
        None
    } else {
        Some(Compression::Plain)
    }
}

/// Inflates gzip pushed to it. Each call hands the inflated bytes on in
/// pieces of at most the inflater's window (32 KiB) as they come, holding
/// none of them: however far a stream inflates (a gzip bomb), the stage
/// holds a bounded amount, and so does a consumer that handles each piece
/// before the next.
#[derive(Debug)]
pub struct Gunzip {
    decoder: MultiGzDecoder<Vec<u8>>,
    failed: bool,
}

impl Default for Gunzip {
    fn default() -> Self {
        Gunzip {
            decoder: MultiGzDecoder::new(Vec::new()),
            failed: false,
        }
    }
}

impl Gunzip {
    /// A stage at the start of a gzip stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands what was inflated so far to `out`.
    fn drain(&mut self, out: &mut dyn FnMut(&[u8])) {
        let inflated = self.decoder.get_mut();
        if !inflated.is_empty() {
            let piece = std::mem::take(inflated);
            out(&piece);
            // Keep the allocation for the next piece.
            let mut piece = piece;
            piece.clear();
            *self.decoder.get_mut() = piece;
        }
    }

    /// Inflates the next compressed bytes; fails (with the worded reason)
    /// when the stream is damaged. After a failure nothing more is read.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        if self.failed {
            return Ok(());
        }
        while !bytes.is_empty() {
            let written = self.decoder.write(bytes);
            self.drain(out);
            match written {
                Ok(0) => return self.fail("the inflater made no progress".into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) => return self.fail(e.to_string()),
            }
        }
        Ok(())
    }

    /// The stream ended: inflates what is left and checks that the last
    /// member is complete.
    pub fn finish(&mut self, out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        if self.failed {
            return Ok(());
        }
        let finished = self.decoder.try_finish();
        self.drain(out);
        self.failed = true;
        finished.map_err(|e| wording::bad_gzip(&e.to_string()))
    }

    fn fail(&mut self, message: String) -> Result<(), String> {
        self.failed = true;
        Err(wording::bad_gzip(&message))
    }
}
