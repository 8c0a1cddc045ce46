//! Finding records in text of any shape CloudTrail is found in: the S3 delivery envelope
//! `{"Records": [...]}`, a JSON array, one object, JSON lines, and the EventBridge envelope —
//! in any mix — while recognising integrity digests and reporting everything malformed.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use tripline_event::{Element, Record};

use crate::problem::Problem;
use crate::stream::{Piece, Splitter, MAX_RECORD_BYTES};

/// What the parser found, in file order.
pub enum Item<'a> {
    /// A record.
    Record {
        /// 0-based index among the file's records.
        index: usize,
        /// The line, for JSON lines.
        line: Option<usize>,
        /// The record.
        record: Record<'a>,
    },
    /// A problem; `record` is set when it is one record's (and counts as a bad record).
    Problem(Problem),
    /// An integrity digest, which is not evaluated.
    Digest,
}

struct Ctx<'s> {
    label: &'s str,
    next_index: usize,
    on: &'s mut dyn FnMut(Item<'_>),
}

impl Ctx<'_> {
    fn problem(
        &mut self,
        record: Option<usize>,
        line: Option<usize>,
        offset: Option<usize>,
        reason: String,
    ) {
        let p =
            Problem { file: self.label.to_owned(), record, line, offset, reason, warning: false };
        (self.on)(Item::Problem(p));
    }

    /// One JSON value that should be a record (or an envelope of one).
    fn element(&mut self, element: Element<'_>, line: Option<usize>) {
        let index = self.next_index;
        self.next_index += 1;
        let record = match element {
            Element::Object(record) => record,
            Element::Other(kind) => {
                return self.problem(
                    Some(index),
                    line,
                    None,
                    format!("record is {kind}, not a JSON object"),
                );
            }
        };
        self.object(index, record, line);
    }

    fn object(&mut self, index: usize, record: Record<'_>, line: Option<usize>) {
        if record.raw("digestStartTime").is_some() && record.raw("digestEndTime").is_some() {
            self.next_index -= 1;
            return (self.on)(Item::Digest);
        }
        if let Some(records) = record.raw("Records") {
            // A delivery envelope inside JSON lines or an array: its records are the file's.
            self.next_index -= 1;
            return self.array(records.get(), line);
        }
        if let (Some(kind), Some(detail)) = (record.str("detail-type"), record.raw("detail")) {
            if !kind.ends_with("via CloudTrail") {
                return self.problem(
                    Some(index),
                    line,
                    None,
                    format!("EventBridge event `{kind}` is not a CloudTrail record"),
                );
            }
            return match Record::from_raw(detail) {
                Ok(inner) => self.validated(index, inner, line),
                Err(e) => {
                    self.problem(Some(index), line, None, format!("EventBridge `detail`: {e}"))
                }
            };
        }
        self.validated(index, record, line);
    }

    /// A value that is a record (or an envelope) by itself: a JSON-lines line, a top-level
    /// value of a stream; `line` is where it starts and `offset` its byte.
    fn value_by_itself(&mut self, text: &str, line: usize, offset: Option<usize>) {
        let index = self.next_index;
        self.next_index += 1;
        match Record::parse(text) {
            Ok(record) => self.object(index, record, Some(line)),
            Err(e) => self.problem(Some(index), Some(line), offset, e.to_string()),
        }
    }

    fn validated(&mut self, index: usize, record: Record<'_>, line: Option<usize>) {
        if !record.repeated_keys().is_empty() {
            let keys: Vec<String> =
                record.repeated_keys().iter().map(|k| format!("`{k}`")).collect();
            let p = Problem {
                file: self.label.to_owned(),
                record: Some(index),
                line,
                offset: None,
                reason: format!(
                    "key {} given more than once in this record; the last value is used",
                    keys.join(", ")
                ),
                warning: true,
            };
            (self.on)(Item::Problem(p));
        }
        match record.validate() {
            Ok(()) => (self.on)(Item::Record { index, line, record }),
            Err(e) => self.problem(Some(index), line, None, e.to_string()),
        }
    }

    /// A JSON array of records, streamed so one bad element leaves the others readable.
    fn array(&mut self, text: &str, line: Option<usize>) {
        let mut de = serde_json::Deserializer::from_str(text);
        let result = ArraySeed { ctx: self, line }.deserialize(&mut de).and_then(|()| de.end());
        if let Err(e) = result {
            self.json_error(text, &e, line, "the rest of the array could not be read");
        }
    }

    fn json_error(
        &mut self,
        text: &str,
        e: &serde_json::Error,
        line: Option<usize>,
        consequence: &str,
    ) {
        self.json_error_at(0, text, e, line, consequence);
    }

    /// A JSON error in `text`, which starts at byte `base` of the input.
    fn json_error_at(
        &mut self,
        base: u64,
        text: &str,
        e: &serde_json::Error,
        line: Option<usize>,
        consequence: &str,
    ) {
        let offset = usize::try_from(base).unwrap_or(usize::MAX).saturating_add(offset_of(
            text,
            e.line(),
            e.column(),
        ));
        let at_line = line.or(Some(e.line()));
        let index = self.next_index;
        let what = if e.is_eof() { "JSON ends early (truncated file?)" } else { "malformed JSON" };
        self.problem(
            Some(index),
            at_line,
            Some(offset),
            format!("{what} at record {index}: {e}; {consequence}"),
        );
    }
}

/// The byte offset of serde_json's 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize =
        text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

struct ArraySeed<'c, 's> {
    ctx: &'c mut Ctx<'s>,
    line: Option<usize>,
}

impl<'a> DeserializeSeed<'a> for ArraySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'a> Visitor<'a> for ArraySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<Element<'a>>()? {
            self.ctx.element(element, self.line);
        }
        Ok(())
    }
}

/// The S3 delivery envelope, streamed: `Records` read element by element, other keys skipped.
struct EnvelopeSeed<'c, 's> {
    ctx: &'c mut Ctx<'s>,
}

impl<'a> Visitor<'a> for EnvelopeSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail delivery file")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'a, str>>()? {
            if key == "Records" {
                map.next_value_seed(ArraySeed { ctx: &mut *self.ctx, line: None })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `{"Records":` at the start: the common case, read in one streaming pass.
fn starts_with_records_key(body: &str) -> bool {
    let rest = body.strip_prefix('{').map(str::trim_start);
    rest.and_then(|r| r.strip_prefix("\"Records\""))
        .is_some_and(|r| r.trim_start().starts_with(':'))
}

/// How many of a file's first lines are looked at for one that is a record by itself.
const JSON_LINES_PROBE: usize = 5;

/// JSON lines: the first line is a complete value and more follows it — or, when the first
/// line is damaged, one of the next few is an object by itself, written from the start of its
/// line (a pretty-printed object's inner objects are indented), so that a bad first line
/// loses that line only, as a bad later line does.
fn looks_like_json_lines(body: &str) -> bool {
    let Some((first, rest)) = body.split_once('\n') else { return false };
    if rest.trim().is_empty() {
        return false;
    }
    if serde_json::from_str::<IgnoredAny>(first).is_ok() {
        return true;
    }
    first.starts_with('{')
        && rest
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(JSON_LINES_PROBE)
            .any(|line| line.starts_with('{') && serde_json::from_str::<IgnoredAny>(line).is_ok())
}

/// Calls `on` with every record, problem and digest found in `text`.
pub fn parse(label: &str, text: &str, on: &mut dyn FnMut(Item<'_>)) {
    let mut ctx = Ctx { label, next_index: 0, on };
    let body = text.trim_start();
    if body.trim_end().is_empty() {
        return ctx.problem(None, None, Some(0), "empty file: no records".to_owned());
    }
    if body.starts_with('[') {
        return ctx.array(text, None);
    }
    if starts_with_records_key(body) {
        let mut de = serde_json::Deserializer::from_str(text);
        let result = de.deserialize_map(EnvelopeSeed { ctx: &mut ctx }).and_then(|()| de.end());
        match result {
            // More after the first document (`cat a.json b.json`): the rest are read in turn.
            Err(e)
                if e.classify() == serde_json::error::Category::Syntax
                    && e.to_string().starts_with("trailing characters") =>
            {
                let at = offset_of(text, e.line(), e.column());
                let rest = Splitter::starting_at(&text.as_bytes()[at..], at as u64, e.line());
                stream_into(&mut ctx, rest);
            }
            Err(e) => ctx.json_error(text, &e, None, "the rest of the file could not be read"),
            Ok(()) => {}
        }
        return;
    }
    if looks_like_json_lines(body) {
        return json_lines(&mut ctx, text);
    }
    // One value, or several concatenated (pretty-printed objects one after another).
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Element<'_>>();
    loop {
        match stream.next() {
            Some(Ok(element)) => ctx.element(element, None),
            Some(Err(e)) => {
                ctx.json_error(text, &e, None, "the rest of the file could not be read");
                break;
            }
            None => break,
        }
    }
}

/// Calls `on` with every record, problem and digest found as `pieces` are read: one record
/// held at a time.
pub fn parse_stream<R: std::io::BufRead>(
    label: &str,
    pieces: Splitter<R>,
    on: &mut dyn FnMut(Item<'_>),
) {
    let mut ctx = Ctx { label, next_index: 0, on };
    if !stream_into(&mut ctx, pieces) {
        ctx.problem(None, None, Some(0), "empty file: no records".to_owned());
    }
}

/// Reads `pieces` into `ctx`; whether there were any.
fn stream_into<R: std::io::BufRead>(ctx: &mut Ctx<'_>, mut pieces: Splitter<R>) -> bool {
    let mut any = false;
    let mut reported_utf8 = false;
    for piece in pieces.by_ref() {
        any = true;
        let index = ctx.next_index;
        match piece {
            Piece::Value { text, offset, line, in_array } => {
                let text = match String::from_utf8(text) {
                    Ok(text) => text,
                    Err(e) => {
                        if !std::mem::replace(&mut reported_utf8, true) {
                            let at = offset + e.utf8_error().valid_up_to() as u64;
                            ctx.problem(None, Some(line), usize::try_from(at).ok(), "invalid UTF-8; invalid bytes were replaced with U+FFFD".to_owned());
                        }
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    }
                };
                if in_array {
                    match serde_json::from_str::<Element<'_>>(&text) {
                        Ok(element) => ctx.element(element, None),
                        Err(e) => {
                            ctx.json_error_at(offset, &text, &e, None, "this record is skipped");
                            ctx.next_index += 1;
                        }
                    }
                } else {
                    ctx.value_by_itself(&text, line, usize::try_from(offset).ok());
                }
            }
            Piece::TooLarge { offset, line, size } => {
                ctx.next_index += 1;
                ctx.problem(
                    Some(index),
                    Some(line),
                    usize::try_from(offset).ok(),
                    format!(
                        "record {index} is {:.1} MB, over the limit of {} MB for one record; it was skipped",
                        size as f64 / 1e6,
                        MAX_RECORD_BYTES >> 20
                    ),
                );
            }
            Piece::Truncated { offset, line } => ctx.problem(
                Some(index),
                Some(line),
                usize::try_from(offset).ok(),
                format!("JSON ends early (truncated file?) at record {index}; the rest of the file could not be read"),
            ),
            Piece::Failed(e) => ctx.problem(None, None, None, e.to_string()),
        }
    }
    any || pieces.saw_content()
}

fn json_lines(ctx: &mut Ctx<'_>, text: &str) {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let content = line.trim();
        if content.is_empty() {
            continue;
        }
        ctx.value_by_itself(line, i + 1, Some(start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (records as `index:eventName`, problems as `record/line: reason-prefix`, digests)
    fn run(text: &str) -> (Vec<String>, Vec<Problem>, usize) {
        let (mut records, mut problems, mut digests) = (vec![], vec![], 0);
        parse("f", text, &mut |item| match item {
            Item::Record { index, record, .. } => {
                records.push(format!("{index}:{}", record.str("eventName").unwrap_or_default()))
            }
            Item::Problem(p) => problems.push(p),
            Item::Digest => digests += 1,
        });
        (records, problems, digests)
    }

    #[test]
    fn delivery_envelope_array_object_and_lines_all_read() {
        let envelope = r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#;
        assert_eq!(run(envelope).0, vec!["0:A", "1:B"]);
        assert_eq!(run(r#"[{"eventName":"A"}]"#).0, vec!["0:A"]);
        assert_eq!(run("{\n  \"eventName\": \"A\"\n}\n").0, vec!["0:A"]);
        assert_eq!(run("{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n").0, vec!["0:A", "1:B"]);
    }

    #[test]
    fn eventbridge_envelope_yields_its_detail() {
        let text = r#"{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventName":"CreateSecurityGroup"}}"#;
        assert_eq!(run(text).0, vec!["0:CreateSecurityGroup"]);
        let other = r#"{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}"#;
        assert!(run(other).1[0].reason.contains("not a CloudTrail record"));
    }

    #[test]
    fn bad_lines_are_reported_and_the_rest_still_read() {
        let text = "{\"eventName\":\"A\"}\n{\"eventName\": tru}\n7\n{\"eventSource\":\"x\"}\n{\"eventName\":\"B\"}\n";
        let (records, problems, _) = run(text);
        assert_eq!(records, vec!["0:A", "4:B"]);
        let located: Vec<(Option<usize>, Option<usize>)> =
            problems.iter().map(|p| (p.record, p.line)).collect();
        assert_eq!(located, vec![(Some(1), Some(2)), (Some(2), Some(3)), (Some(3), Some(4))]);
        assert!(problems[0].reason.starts_with("malformed JSON"));
        assert_eq!(problems[0].offset, Some(18));
        assert!(problems[1].reason.contains("not a JSON object"));
        assert!(problems[2].reason.contains("eventName"));
    }

    #[test]
    fn a_bad_first_line_loses_that_line_only() {
        let text = "{\"eventName\": broken\n{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n";
        let (records, problems, _) = run(text);
        assert_eq!(records, vec!["1:A", "2:B"]);
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].record, problems[0].line), (Some(0), Some(1)));
        // A pretty-printed object that does not parse is still one broken document, not lines.
        let pretty = "{\n  \"eventName\": \"A\",\n  \"userIdentity\": {\"type\": \"Root\"}\n";
        let (records, problems, _) = run(pretty);
        assert!(records.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].reason.contains("the rest of the file could not be read"),
            "{problems:?}"
        );
    }

    #[test]
    fn non_objects_inside_records_are_counted_not_fatal() {
        let (records, problems, _) =
            run(r#"{"Records":[{"eventName":"A"}, 5, [1], {"eventName":"B"}]}"#);
        assert_eq!(records, vec!["0:A", "3:B"]);
        assert_eq!(problems.iter().map(|p| p.record).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
    }

    #[test]
    fn truncated_envelope_keeps_complete_records_and_reports_offset() {
        let text = r#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventNa"#;
        let (records, problems, _) = run(text);
        assert_eq!(records, vec!["0:A", "1:B"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("truncated"), "{}", problems[0].reason);
        assert_eq!(problems[0].record, Some(2));
    }

    #[test]
    fn digests_and_empty_files() {
        let digest =
            r#"{"awsAccountId":"1","digestStartTime":"t","digestEndTime":"t","logFiles":[]}"#;
        assert_eq!(run(digest), (vec![], vec![], 1));
        assert!(run("  \n").1[0].reason.starts_with("empty file"));
    }
}
