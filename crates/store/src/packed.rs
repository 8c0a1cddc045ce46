//! Signal bodies and request parameters kept small: zstd with a dictionary compiled into the
//! binary. A stored signal is a JSON object of 1–2 kB whose keys, and much of whose values
//! (ARNs, service names, the same caller), every other signal repeats; compressed alone it
//! halves, against a dictionary of typical signals it shrinks four- to fivefold, and a
//! prepared dictionary costs nothing per row.
//!
//! A packed value is one byte naming the dictionary, then a zstd frame (which records its
//! size). A dictionary, once used, never changes: stores keep rows packed with it. A new one
//! gets the next number, and the old stays here to read what it packed.

use std::cell::RefCell;
use std::sync::OnceLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::{Result, StoreError};

/// Dictionary 1: request parameters of the bundled example logs and one signal of each rule
/// that matched them, as Tripline wrote them (raw content, not a trained dictionary).
const DICTIONARY_1: &[u8] = include_bytes!("signals-1.dict");
/// The number of the dictionary new rows are packed with.
const CURRENT: u8 = 1;
/// Level 6: on 1–2 kB signals 9 % smaller than zstd's default 3, within 4 % of level 19.
const LEVEL: i32 = 3;
/// The most a packed value may unpack to, whatever its frame header claims: the biggest
/// signal is a few tens of kB, and a damaged row must not make the store allocate gigabytes.
const MAX_UNPACKED: usize = 64 << 20;

fn encoder() -> &'static EncoderDictionary<'static> {
    static DICTIONARY: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    DICTIONARY.get_or_init(|| EncoderDictionary::copy(DICTIONARY_1, LEVEL))
}

fn decoder() -> &'static DecoderDictionary<'static> {
    static DICTIONARY: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    DICTIONARY.get_or_init(|| DecoderDictionary::copy(DICTIONARY_1))
}

thread_local! {
    // One context per thread, reused: making one per value costs more than compressing it.
    static COMPRESSOR: RefCell<Compressor<'static>> = RefCell::new(
        Compressor::with_prepared_dictionary(encoder()).expect("a zstd context can be allocated"),
    );
    static DECOMPRESSOR: RefCell<Decompressor<'static>> = RefCell::new(
        Decompressor::with_prepared_dictionary(decoder()).expect("a zstd context can be allocated"),
    );
}

/// Packs text for the store.
///
/// # Panics
/// Never in practice: zstd fails only for a context it cannot allocate, and the buffer is
/// sized by its bound.
#[must_use]
pub fn pack(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + zstd::zstd_safe::compress_bound(text.len()));
    COMPRESSOR.with_borrow_mut(|compressor| {
        compressor
            .compress_to_buffer(text.as_bytes(), &mut out)
            .expect("a buffer of the bound holds the frame");
    });
    out.insert(0, CURRENT);
    out
}

/// Packs a signal's JSON with its record's request parameters, in one frame: the body, then
/// a newline and the parameters (compact JSON holds no raw newline, so the first one splits).
#[must_use]
pub fn pack_signal(body: &str, request_parameters: Option<&str>) -> Vec<u8> {
    match request_parameters {
        Some(request) => pack(&format!("{body}\n{request}")),
        None => pack(body),
    }
}

/// Unpacks what [`pack_signal`] made: the body and the request parameters.
///
/// # Errors
/// As [`unpack`].
pub fn unpack_signal(packed: &[u8]) -> Result<(String, Option<String>)> {
    let mut text = unpack(packed)?;
    Ok(match text.find('\n') {
        Some(split) => {
            let request = text[split + 1..].to_owned();
            text.truncate(split);
            (text, Some(request))
        }
        None => (text, None),
    })
}

/// Unpacks what [`pack`] made.
///
/// # Errors
/// [`StoreError::Corrupt`] when the value is not one this build can read.
pub fn unpack(packed: &[u8]) -> Result<String> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("packed value: {why}"));
    let Some((&dictionary, frame)) = packed.split_first() else {
        return Err(corrupt("empty"));
    };
    if dictionary != 1 {
        return Err(corrupt(&format!("dictionary {dictionary} is unknown to this build")));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => usize::try_from(size).unwrap_or(usize::MAX),
        _ => return Err(corrupt("not a zstd frame of known size")),
    };
    if size > MAX_UNPACKED {
        return Err(corrupt(&format!("claims {size} bytes")));
    }
    let bytes = DECOMPRESSOR
        .with_borrow_mut(|decompressor| decompressor.decompress(frame, size))
        .map_err(|e| corrupt(&e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_packed_unpacks_the_same_and_smaller() {
        let text = r#"{"type":"signal","rule_id":"ec2-security-group-created","rule_title":"Security group web created","severity":"low","event_name":"CreateSecurityGroup","event_source":"ec2.amazonaws.com","aws_region":"eu-west-1"}"#;
        let packed = pack(text);
        assert_eq!(packed[0], 1);
        assert!(packed.len() < text.len() / 2, "{} bytes of {}", packed.len(), text.len());
        assert_eq!(unpack(&packed).expect("unpacks"), text);
        assert_eq!(unpack(&pack("")).expect("unpacks"), "");
    }

    #[test]
    fn a_signal_and_its_request_parameters_unpack_apart() {
        let body = r#"{"type":"signal","rule_title":"two\nlines"}"#;
        let request = r#"{"groupId":"sg-1","note":"a\nb"}"#;
        let both = unpack_signal(&pack_signal(body, Some(request))).expect("unpacks");
        assert_eq!(both, (body.to_owned(), Some(request.to_owned())));
        let alone = unpack_signal(&pack_signal(body, None)).expect("unpacks");
        assert_eq!(alone, (body.to_owned(), None));
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let packed = pack(r#"{"a":"b"}"#);
        assert!(unpack(&[]).is_err());
        assert!(unpack(&[2, 0, 0]).is_err());
        assert!(unpack(&packed[..packed.len() - 2]).is_err());
        let mut flipped = packed.clone();
        flipped[3] ^= 0xff;
        // A damaged frame may still unpack to something (zstd frames carry no checksum by
        // default): what matters is that it returns rather than panics.
        let _ = unpack(&flipped);
        assert!(unpack(&[1, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xff]).is_err());
    }

    /// Rows packed with dictionary 1 must stay readable: it can never change.
    #[test]
    fn dictionary_one_never_changes() {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(DICTIONARY_1);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, DICTIONARY_1_SHA256);
    }

    const DICTIONARY_1_SHA256: &str =
        "7061a7911e7e24785e29e78b1b7129230145876a512ef9c5bb6168f8c9d0b6c1";
}
