//! Reading one input: gzip detected by its magic bytes (multi-member too), a UTF-8
//! byte-order mark removed, invalid UTF-8 reported. A file that decompresses to at most
//! [`WHOLE_LIMIT`] is read whole (the fast path); a larger one, and stdin or a pipe, is read
//! as a stream ([`Opened::Stream`]), so memory stays bounded however much it expands to.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::input::Input;
use crate::problem::Problem;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: &str = "\u{feff}";

/// An input's text and the problems met reading it. The text holds whatever could be read,
/// so a truncated gzip still yields its complete records.
pub struct Decoded {
    /// The text.
    pub text: String,
    /// Problems met while reading (the text may still be usable).
    pub problems: Vec<Problem>,
    /// Bytes read before decompression.
    pub raw_bytes: u64,
}

/// The most a file may decompress to and still be read whole; past it, it is streamed. The
/// same as the record limit: a record over that limit is always in a streamed file, where it
/// is found and skipped.
pub const WHOLE_LIMIT: usize = crate::stream::MAX_RECORD_BYTES;

/// An input, opened.
pub enum Opened {
    /// It could not be opened (permission denied, say): that is its only problem.
    Failed(Problem),
    /// Read whole: small enough, and complete.
    Whole(Decoded),
    /// To be read as a stream.
    Stream {
        /// The decompressed bytes, from the start (a BOM already removed).
        reader: Box<dyn BufRead + Send>,
        /// Problems met so far (a BOM).
        problems: Vec<Problem>,
        /// Bytes read before decompression, counted as the stream is read.
        raw_bytes: Arc<AtomicU64>,
        /// A live stream (stdin, a pipe), not a file: what it holds arrives over time.
        live: bool,
    },
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A read error of a gzip stream, said as damage.
struct GzipDamage<R>(R);

impl<R: Read> Read for GzipDamage<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| std::io::Error::new(e.kind(), gzip_damage(&e)))
    }
}

/// What a damaged gzip stream is said as, read whole or as a stream.
fn gzip_damage(e: &std::io::Error) -> String {
    format!("gzip stream is damaged or truncated ({e}); records before the damage are still read")
}

/// The warning for a UTF-8 byte-order mark at the start of an input (which is dropped).
fn bom_warning(label: &str) -> Problem {
    let mut p = Problem::file(label, "file starts with a UTF-8 byte-order mark; it was ignored");
    p.warning = true;
    p.offset = Some(0);
    p
}

/// A reader that fails once with the error an earlier read met, then ends.
struct FailOnce(Option<std::io::Error>);

impl Read for FailOnce {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// Opens an input: a regular file that decompresses to at most [`WHOLE_LIMIT`] is read whole;
/// anything else (a larger file, a damaged gzip stream, stdin, a pipe) is a stream.
#[must_use]
pub fn open(input: &Input) -> Opened {
    let label = input.label();
    let count = Arc::new(AtomicU64::new(0));
    // A regular file's size; none for a pipe, a device or stdin, which are streams.
    let (source, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        Input::File(path) => match std::fs::File::open(path) {
            Ok(file) => {
                let size = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
                (Box::new(file), size)
            }
            Err(e) => return Opened::Failed(Problem::file(&label, format!("cannot be read: {e}"))),
        },
        Input::Stdin => (Box::new(std::io::stdin()), None),
        // Read as it arrives: a small object is decompressed into memory as a file is, a
        // large one is parsed as a stream, never fetched whole first.
        Input::Inline { text, .. } => {
            let raw_bytes = text.len() as u64;
            return Opened::Whole(Decoded {
                text: text.to_string(),
                problems: Vec::new(),
                raw_bytes,
            });
        }
        Input::Object(object) => match object.reader.read(&object.bucket, &object.key) {
            Ok(body) => (body, Some(object.size)),
            Err(e) => return Opened::Failed(Problem::file(&label, format!("cannot be read: {e}"))),
        },
    };
    let mut raw =
        BufReader::with_capacity(1 << 16, Counting { inner: source, count: Arc::clone(&count) });
    let gzip = raw.fill_buf().is_ok_and(|b| b.starts_with(&GZIP_MAGIC));
    let mut body: Box<dyn BufRead + Send> = if gzip {
        Box::new(BufReader::with_capacity(1 << 16, GzipDamage(MultiGzDecoder::new(raw))))
    } else {
        Box::new(raw)
    };
    let mut problems = Vec::new();
    if body.fill_buf().is_ok_and(|b| b.starts_with(BOM.as_bytes())) {
        body.consume(BOM.len());
        problems.push(bom_warning(&label));
    }
    let Some(size) = size else {
        return Opened::Stream { reader: body, problems, raw_bytes: count, live: true };
    };
    // Room for what the file likely expands to (gzip'd CloudTrail is about a tenth).
    let expected =
        usize::try_from(size).unwrap_or(usize::MAX).saturating_mul(if gzip { 10 } else { 1 });
    let mut bytes = Vec::with_capacity(expected.min(WHOLE_LIMIT + 1));
    let read = read_at_most(&mut body, WHOLE_LIMIT + 1, &mut bytes);
    match read {
        Ok(n) if n <= WHOLE_LIMIT => {
            let mut decoded = decode_text(&label, bytes);
            problems.append(&mut decoded.problems);
            decoded.problems = problems;
            decoded.raw_bytes = count.load(Ordering::Relaxed);
            Opened::Whole(decoded)
        }
        // Larger than the whole-file limit: the rest is read as it is parsed.
        Ok(_) => Opened::Stream {
            reader: Box::new(Cursor::new(bytes).chain(body)),
            problems,
            raw_bytes: count,
            live: false,
        },
        // What was read before the error is evaluated, then the error is reported once.
        Err(e) => Opened::Stream {
            reader: Box::new(BufReader::new(Cursor::new(bytes).chain(FailOnce(Some(e))))),
            problems,
            raw_bytes: count,
            live: false,
        },
    }
}

/// Reads up to `limit` bytes into `out`, its capacity never past `limit` (`read_to_end`
/// doubles it: a file one byte over the limit would take twice the memory).
fn read_at_most(
    reader: &mut dyn BufRead,
    limit: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    loop {
        let buf = match reader.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if buf.is_empty() || out.len() >= limit {
            return Ok(out.len());
        }
        let take = buf.len().min(limit - out.len());
        if out.capacity() - out.len() < take {
            let grown = (out.capacity() * 2).max(1 << 16).min(limit);
            out.reserve_exact(grown.max(out.len() + take) - out.len());
        }
        out.extend_from_slice(&buf[..take]);
        reader.consume(take);
    }
}

/// Decodes decompressed bytes as UTF-8, reporting invalid bytes.
fn decode_text(label: &str, bytes: Vec<u8>) -> Decoded {
    let mut problems = Vec::new();
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let mut p =
                Problem::file(label, "invalid UTF-8; invalid bytes were replaced with U+FFFD");
            p.offset = Some(e.utf8_error().valid_up_to());
            problems.push(p);
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    Decoded { text, problems, raw_bytes: 0 }
}

/// Decompresses (when gzip) and decodes bytes.
#[must_use]
pub fn decode_bytes(label: &str, raw: &[u8]) -> Decoded {
    let mut problems = Vec::new();
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(raw.len() * 8);
        if let Err(e) = MultiGzDecoder::new(raw).read_to_end(&mut out) {
            let mut p = Problem::file(label, gzip_damage(&e));
            p.offset = Some(out.len());
            problems.push(p);
        }
        out
    } else {
        raw.to_vec()
    };
    let mut decoded = decode_text(label, bytes);
    problems.append(&mut decoded.problems);
    let text = decoded.text;
    let text = match text.strip_prefix(BOM) {
        Some(rest) => {
            problems.push(bom_warning(label));
            rest.to_owned()
        }
        None => text,
    };
    Decoded { text, problems, raw_bytes: raw.len() as u64 }
}

/// Decompresses alone, for benchmarks: the floor a scan is measured against.
///
/// # Errors
/// A damaged gzip stream.
pub fn gunzip_len(raw: &[u8]) -> std::io::Result<usize> {
    let mut out = Vec::with_capacity(raw.len() * 8);
    MultiGzDecoder::new(raw).read_to_end(&mut out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("in memory");
        enc.finish().expect("in memory")
    }

    #[test]
    fn gzip_is_sniffed_and_members_concatenate() {
        let mut data = gzip(b"{\"a\":");
        data.extend(gzip(b"1}"));
        let d = decode_bytes("x.json", &data);
        assert_eq!(d.text, "{\"a\":1}");
        assert!(d.problems.is_empty());
    }

    #[test]
    fn truncated_gzip_is_reported_with_partial_text() {
        let data = gzip(&b"{\"Records\":[]}".repeat(200));
        let d = decode_bytes("x.gz", &data[..data.len() / 2]);
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].reason.contains("truncated"));
    }

    #[test]
    fn bom_is_a_warning_and_removed() {
        let d = decode_bytes("x.json", "\u{feff}{}".as_bytes());
        assert_eq!(d.text, "{}");
        assert!(d.problems[0].warning);
    }
}
