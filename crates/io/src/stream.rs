//! Splitting a stream of JSON into its records one at a time, holding one record in memory:
//! the elements of a delivery file's `Records` or of a top-level array, and the top-level
//! values of JSON lines or of documents written one after another. Used for input too large
//! to read whole (a gzip bomb expands to gigabytes) and for stdin, evaluated as it arrives.
//!
//! Hand-written: serde_json's reader-based deserializer holds a whole top-level value (a
//! delivery file is one value the size of the file), and no crate splits JSON at the element
//! level with a bound on each element. The splitter only finds where values begin and end
//! (strings, escapes and brackets); whether a value is good JSON is for the parser after it.

use std::io::{self, BufRead};

/// The largest record read; a larger one is reported and skipped. CloudTrail itself delivers
/// events of at most 256 KB; this leaves room for other exporters and edited logs.
pub const MAX_RECORD_BYTES: usize = 32 << 20;

/// What the splitter found next.
#[derive(Debug)]
pub enum Piece {
    /// A value, complete as far as brackets and strings go (parsing says whether it is good).
    Value {
        /// Its bytes.
        text: Vec<u8>,
        /// Where it starts in the (decompressed) stream.
        offset: u64,
        /// The line it starts on, 1-based.
        line: usize,
        /// An element of an array (or of a delivery file's `Records`), not a top-level value.
        in_array: bool,
    },
    /// A value over [`MAX_RECORD_BYTES`], skipped.
    TooLarge {
        /// Where it starts.
        offset: u64,
        /// The line it starts on.
        line: usize,
        /// Its size in bytes.
        size: u64,
    },
    /// The stream ended inside a value or an array.
    Truncated {
        /// Where the unfinished value starts.
        offset: u64,
        /// Its line.
        line: usize,
    },
    /// Reading failed (a damaged gzip stream, say); nothing more is read.
    Failed(io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    Top,
    /// Inside an array; `envelope` when it is a delivery file's `Records`.
    Array { envelope: bool },
    /// After a delivery file's `Records`: the rest of its object, skipped.
    Tail,
    /// Nothing more.
    Done,
}

/// Where a byte leaves the value being scanned.
#[derive(PartialEq, Eq)]
enum Step {
    More,
    /// The value ends with this byte.
    EndsAfter,
    /// The value ended before this byte (a scalar's delimiter, or a record starting a line
    /// inside a damaged one).
    EndsBefore,
}

/// Where the scan of one value is.
#[derive(Default)]
struct Scan {
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// A bare scalar (number, `true`…) at depth 0: it ends at a delimiter.
    scalar: bool,
    started: bool,
    /// The byte before was a newline (or this is the first byte of the stream).
    line_start: bool,
}

impl Scan {
    fn step(&mut self, b: u8) -> Step {
        let line_start = std::mem::replace(&mut self.line_start, b == b'\n');
        if !self.started {
            self.started = true;
            match b {
                b'{' | b'[' => self.depth = 1,
                b'"' => self.in_string = true,
                b'}' | b']' | b',' => return Step::EndsAfter,
                _ => self.scalar = true,
            }
            return Step::More;
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    return Step::EndsAfter;
                }
            } else if b == b'\n' {
                // A raw newline cannot be inside a string: the string was damaged, and what
                // follows is read as structure again, so that the next line can be a record.
                self.in_string = false;
            }
            return Step::More;
        }
        if self.scalar {
            return if b.is_ascii_whitespace() || b"{}[],\"".contains(&b) {
                Step::EndsBefore
            } else {
                Step::More
            };
        }
        match b {
            // An object written from the start of a line inside another value: the value
            // before it was damaged (a JSON-lines line cut short), and this is the next record.
            b'{' if line_start && self.depth >= 1 => return Step::EndsBefore,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::EndsAfter;
                }
            }
            b'"' => self.in_string = true,
            _ => {}
        }
        Step::More
    }
}

/// Splits a stream into [`Piece`]s.
pub struct Splitter<R> {
    reader: R,
    offset: u64,
    line: usize,
    line_start: bool,
    mode: Mode,
    limit: usize,
    /// Something other than whitespace was met.
    content: bool,
}

impl<R: BufRead> Splitter<R> {
    /// A splitter over `reader`, holding at most [`MAX_RECORD_BYTES`] of one value.
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, MAX_RECORD_BYTES)
    }

    /// A splitter holding at most `limit` bytes of one value.
    pub fn with_limit(reader: R, limit: usize) -> Self {
        Self {
            reader,
            offset: 0,
            line: 1,
            line_start: true,
            mode: Mode::Top,
            limit,
            content: false,
        }
    }

    /// A splitter over the rest of a text, `reader` starting at byte `offset` and `line`.
    pub fn starting_at(reader: R, offset: u64, line: usize) -> Self {
        Self { offset, line, line_start: false, ..Self::new(reader) }
    }

    /// Whether anything but whitespace was read (`[]` holds no record but is not empty).
    #[must_use]
    pub fn saw_content(&self) -> bool {
        self.content
    }

    /// Bytes read so far.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.reader.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        self.reader.fill_buf()
    }

    fn consume(&mut self, n: usize, newlines: usize, ends_line: bool) {
        self.reader.consume(n);
        self.offset += n as u64;
        self.line += newlines;
        if n > 0 {
            self.line_start = ends_line;
        }
    }

    /// Skips whitespace (and, inside an array, commas); the next byte, if any.
    fn skip_space(&mut self, commas: bool) -> io::Result<Option<u8>> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let skip = buf
                .iter()
                .position(|&b| !(b.is_ascii_whitespace() || (commas && b == b',')))
                .unwrap_or(buf.len());
            let next = buf.get(skip).copied();
            let newlines = buf[..skip].iter().filter(|&&b| b == b'\n').count();
            let ends_line = skip > 0 && buf[skip - 1] == b'\n';
            self.consume(skip, newlines, ends_line);
            if next.is_some() {
                self.content = true;
                return Ok(next);
            }
        }
    }

    /// Consumes `{"Records": [` when the buffered bytes start with it.
    fn envelope_start(&mut self) -> io::Result<bool> {
        let buf = self.fill()?;
        let mut at = 1;
        let space = |buf: &[u8], mut at: usize| {
            while buf.get(at).is_some_and(u8::is_ascii_whitespace) {
                at += 1;
            }
            at
        };
        at = space(buf, at);
        let Some(rest) = buf.get(at..).and_then(|r| r.strip_prefix(b"\"Records\"")) else {
            return Ok(false);
        };
        at = space(buf, buf.len() - rest.len());
        if buf.get(at) != Some(&b':') {
            return Ok(false);
        }
        at = space(buf, at + 1);
        if buf.get(at) != Some(&b'[') {
            return Ok(false);
        }
        let newlines = buf[..=at].iter().filter(|&&b| b == b'\n').count();
        self.consume(at + 1, newlines, false);
        Ok(true)
    }

    /// Scans one value from the next byte; `keep` false skips it without holding it.
    fn value(&mut self, mut scan: Scan, in_array: bool, keep: bool) -> Piece {
        let (offset, line) = (self.offset, self.line);
        let mut text = Vec::new();
        let mut size = 0u64;
        let limit = self.limit as u64;
        scan.line_start = self.line_start;
        loop {
            let buf = match self.fill() {
                Ok(buf) => buf,
                Err(e) => return Piece::Failed(e),
            };
            if buf.is_empty() {
                return if scan.scalar && size > 0 {
                    self.finish(text, size, offset, line, in_array)
                } else {
                    Piece::Truncated { offset, line }
                };
            }
            let mut used = buf.len();
            let mut ended = false;
            for (i, &b) in buf.iter().enumerate() {
                match scan.step(b) {
                    Step::More => {}
                    Step::EndsAfter => {
                        used = i + 1;
                        ended = true;
                        break;
                    }
                    Step::EndsBefore => {
                        used = i;
                        ended = true;
                        break;
                    }
                }
            }
            let part = &buf[..used];
            if keep && size + used as u64 <= limit {
                text.extend_from_slice(part);
            } else {
                text = Vec::new();
            }
            size += used as u64;
            let newlines = part.iter().filter(|&&b| b == b'\n').count();
            let ends_line = part.last() == Some(&b'\n');
            self.consume(used, newlines, ends_line);
            if ended {
                return self.finish(text, size, offset, line, in_array);
            }
        }
    }

    fn finish(&self, text: Vec<u8>, size: u64, offset: u64, line: usize, in_array: bool) -> Piece {
        if size > self.limit as u64 {
            Piece::TooLarge { offset, line, size }
        } else {
            Piece::Value { text, offset, line, in_array }
        }
    }
}

impl<R: BufRead> Iterator for Splitter<R> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        loop {
            let next = match self.mode {
                Mode::Done => return None,
                Mode::Top | Mode::Array { .. } => {
                    self.skip_space(matches!(self.mode, Mode::Array { .. }))
                }
                Mode::Tail => {
                    let rest = Scan { depth: 1, started: true, ..Scan::default() };
                    match self.value(rest, false, false) {
                        Piece::Value { .. } => self.mode = Mode::Top,
                        other => {
                            self.mode = Mode::Done;
                            return Some(other);
                        }
                    }
                    continue;
                }
            };
            let next = match next {
                Ok(next) => next,
                Err(e) => {
                    self.mode = Mode::Done;
                    return Some(Piece::Failed(e));
                }
            };
            match (self.mode, next) {
                (Mode::Top, None) => self.mode = Mode::Done,
                (Mode::Array { .. }, None) => {
                    self.mode = Mode::Done;
                    return Some(Piece::Truncated { offset: self.offset, line: self.line });
                }
                (Mode::Top, Some(b'{')) => match self.envelope_start() {
                    Ok(true) => self.mode = Mode::Array { envelope: true },
                    Ok(false) => return Some(self.value(Scan::default(), false, true)),
                    Err(e) => {
                        self.mode = Mode::Done;
                        return Some(Piece::Failed(e));
                    }
                },
                (Mode::Top, Some(b'[')) => {
                    self.consume(1, 0, false);
                    self.mode = Mode::Array { envelope: false };
                }
                (Mode::Array { envelope }, Some(b']')) => {
                    self.consume(1, 0, false);
                    self.mode = if envelope { Mode::Tail } else { Mode::Top };
                }
                (mode, Some(_)) => {
                    let piece = self.value(Scan::default(), mode != Mode::Top, true);
                    if matches!(piece, Piece::Failed(_) | Piece::Truncated { .. }) {
                        self.mode = Mode::Done;
                    }
                    return Some(piece);
                }
                (Mode::Tail | Mode::Done, None) => unreachable!("handled above"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each piece as `(text, line, in_array)`, or a marker for the others.
    fn split(text: &str, limit: usize) -> Vec<String> {
        Splitter::with_limit(text.as_bytes(), limit)
            .map(|piece| match piece {
                Piece::Value { text, line, in_array, .. } => format!(
                    "{}{line}:{}",
                    if in_array { "a" } else { "" },
                    String::from_utf8_lossy(&text)
                ),
                Piece::TooLarge { line, size, .. } => format!("{line}:too large {size}"),
                Piece::Truncated { line, .. } => format!("{line}:truncated"),
                Piece::Failed(e) => format!("failed {e}"),
            })
            .collect()
    }

    #[test]
    fn envelopes_arrays_lines_and_documents_one_after_another() {
        assert_eq!(
            split(
                r#"{"Records":[{"a":"}"},{"b":[1]}],"x":{"y":"]"}}{"Records": [ {"c":1} ]}"#,
                100
            ),
            [r#"a1:{"a":"}"}"#, r#"a1:{"b":[1]}"#, r#"a1:{"c":1}"#]
        );
        assert_eq!(
            split("[{\"a\":1}, 7, \"s\", null]", 100),
            ["a1:{\"a\":1}", "a1:7", "a1:\"s\"", "a1:null"]
        );
        assert_eq!(
            split("{\"a\":1}\n{\"b\":\"x\\\"}\"}\n\n{\n  \"c\": {\"d\": 1}\n}\n", 100),
            ["1:{\"a\":1}", "2:{\"b\":\"x\\\"}\"}", "4:{\n  \"c\": {\"d\": 1}\n}"]
        );
        // Other keys before `Records`: the document is one value, read by the parser.
        assert_eq!(
            split(r#"{"v":1,"Records":[{"a":1}]}"#, 100),
            [r#"1:{"v":1,"Records":[{"a":1}]}"#]
        );
    }

    #[test]
    fn damage_is_contained_to_its_record() {
        // A line cut short, and one with an unclosed string: the next line is a record again.
        assert_eq!(
            split("{\"a\": [1, 2\n{\"b\":1}\n{\"c\": \"open\n{\"d\":1}\n", 100),
            ["1:{\"a\": [1, 2\n", "2:{\"b\":1}", "3:{\"c\": \"open\n", "4:{\"d\":1}"]
        );
        assert_eq!(split("{\"Records\":[{\"a\":1},{\"b\":", 100), ["a1:{\"a\":1}", "1:truncated"]);
        assert_eq!(split("{\"Records\":[{\"a\":1}", 100), ["a1:{\"a\":1}", "1:truncated"]);
        assert_eq!(
            split("{\"a\":\"0123456789\"}\n{\"b\":1}", 10),
            ["1:too large 18", "2:{\"b\":1}"]
        );
        assert_eq!(split("garbage {\"a\":1}", 100), ["1:garbage", "1:{\"a\":1}"]);
        assert!(split("  \n ", 100).is_empty());
    }

    #[test]
    fn values_split_across_reads_are_whole() {
        let text = "{\"Records\":[{\"eventName\":\"A\",\"x\":\"\\\\\"},{\"eventName\":\"B\"}]}";
        let reader = io::BufReader::with_capacity(3, text.as_bytes());
        let pieces: Vec<Piece> = Splitter::new(reader).collect();
        let texts: Vec<String> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Value { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
                _ => None,
            })
            .collect();
        // A buffer of 3 bytes cannot show the envelope's start: the file is one document.
        assert_eq!(texts, [text]);
        let reader = io::BufReader::with_capacity(16, "[{\"a\":\"\\\"]\"},\n{\"b\":2}]".as_bytes());
        let texts: Vec<String> = Splitter::new(reader)
            .filter_map(|p| match p {
                Piece::Value { text, .. } => Some(String::from_utf8_lossy(&text).into_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["{\"a\":\"\\\"]\"}", "{\"b\":2}"]);
    }
}
