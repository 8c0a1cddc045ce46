//! No input makes the reader panic, and nothing it reads goes uncounted: every byte string
//! yields records and problems, never a crash.

use proptest::prelude::*;
use tripline_io::decode::decode_bytes;
use tripline_io::shape::{parse, Item};

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
}
