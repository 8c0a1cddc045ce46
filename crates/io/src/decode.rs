//! Reading one input into text: gzip detected by its magic bytes (multi-member too), a UTF-8
//! byte-order mark removed, invalid UTF-8 reported.

use std::io::Read;

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

/// Reads an input whole.
#[must_use]
pub fn read_input(input: &Input) -> Decoded {
    let label = input.label();
    let raw = match input {
        Input::File(path) => std::fs::read(path),
        Input::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
        }
    };
    match raw {
        Ok(raw) => decode_bytes(&label, &raw),
        Err(e) => Decoded {
            text: String::new(),
            problems: vec![Problem::file(&label, format!("cannot read: {e}"))],
            raw_bytes: 0,
        },
    }
}

/// Decompresses (when gzip) and decodes bytes.
#[must_use]
pub fn decode_bytes(label: &str, raw: &[u8]) -> Decoded {
    let mut problems = Vec::new();
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(raw.len() * 8);
        if let Err(e) = MultiGzDecoder::new(raw).read_to_end(&mut out) {
            let mut p = Problem::file(label, format!("gzip stream is damaged or truncated ({e}); records before the damage are still read"));
            p.offset = Some(out.len());
            problems.push(p);
        }
        out
    } else {
        raw.to_vec()
    };
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
    let text = match text.strip_prefix(BOM) {
        Some(rest) => {
            let mut p =
                Problem::file(label, "file starts with a UTF-8 byte-order mark; it was ignored");
            p.warning = true;
            p.offset = Some(0);
            problems.push(p);
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
