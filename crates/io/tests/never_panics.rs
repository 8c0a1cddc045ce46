//! No input makes the reader panic, and nothing it reads goes uncounted: every byte string
//! yields records and problems, never a crash.

use proptest::prelude::*;
use tripline_io::decode::decode_bytes;
use tripline_io::shape::{parse, parse_stream, Item};
use tripline_io::stream::Splitter;

fn run(bytes: &[u8]) -> (usize, usize) {
    let decoded = decode_bytes("fuzz", bytes);
    let (mut records, mut problems) = (0, decoded.problems.len());
    parse("fuzz", &decoded.text, &mut |item| match item {
        Item::Record { .. } => records += 1,
        Item::Problem(_) => problems += 1,
        Item::Digest => {}
    });
    (records, problems)
}

/// The records (`index:eventName`) and the number of problems `text` gives read whole, and
/// read as a stream through a buffer of `capacity` bytes.
fn both_ways(text: &str, capacity: usize) -> [(Vec<String>, usize); 2] {
    let mut ways = [(Vec::new(), 0), (Vec::new(), 0)];
    let take = |way: &mut (Vec<String>, usize), item: Item<'_>| match item {
        Item::Record { index, record, .. } => {
            way.0.push(format!("{index}:{}", record.str("eventName").unwrap_or_default()));
        }
        Item::Problem(_) => way.1 += 1,
        Item::Digest => way.0.push("digest".into()),
    };
    let [whole, streamed] = &mut ways;
    parse("fuzz", text, &mut |item| take(whole, item));
    let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
    parse_stream("fuzz", Splitter::new(reader), &mut |item| take(streamed, item));
    ways
}

/// Fragments that steer generated text towards the shapes the parser distinguishes.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"Records\"",
    ":",
    ",",
    "\"eventName\"",
    "\"X\"",
    "\n",
    "\"detail-type\"",
    "\"AWS API Call via CloudTrail\"",
    "\"detail\"",
    "\"digestStartTime\"",
    "\"digestEndTime\"",
    "null",
    "1",
    "\"\\u00e9\"",
    "\u{feff}",
    " ",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = run(&bytes);
        let mut gz = vec![0x1f, 0x8b];
        gz.extend(&bytes);
        let _ = run(&gz);
    }

    #[test]
    fn json_like_text_never_panics_and_a_file_always_says_something(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..60)) {
        let text = pieces.concat();
        let (records, problems) = run(text.as_bytes());
        // Silence is only right for well-formed input that holds no records (`[]`,
        // `{"Records": []}`, a digest): anything malformed must be reported.
        let well_formed = serde_json::Deserializer::from_str(text.trim_start_matches('\u{feff}'))
            .into_iter::<serde_json::Value>()
            .all(|v| v.is_ok_and(|v| v.is_array() || v.is_object()));
        prop_assert!(records + problems > 0 || well_formed, "{text:?} gave neither records nor problems");
    }

    /// Read as a stream, in buffers of any size, a file gives what it gives read whole: the
    /// same records when it is well-formed, and something (records or problems) when not.
    #[test]
    fn a_stream_reads_what_the_whole_file_holds(
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..60),
        capacity in 1usize..64,
    ) {
        let text = pieces.concat();
        let [whole, streamed] = both_ways(&text, capacity);
        prop_assert!(!streamed.0.is_empty() || streamed.1 > 0 || whole.0.is_empty() && whole.1 == 0 || text.trim().is_empty(), "{text:?}: {whole:?} / {streamed:?}");
        let valid: Result<Vec<serde_json::Value>, _> = serde_json::Deserializer::from_str(&text).into_iter().collect();
        if valid.is_ok_and(|values| !values.is_empty() && values.iter().all(|v| v.is_object() || v.is_array())) {
            prop_assert_eq!(&whole.0, &streamed.0, "{:?}", text);
            prop_assert_eq!(whole.1, streamed.1, "{:?}", text);
        }
    }
}
