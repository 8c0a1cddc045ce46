//! Sigma's value modifiers, which turn one written value into the values actually compared:
//! `expand` (placeholders), `windash` (dash variants) and `base64`/`base64offset` (encodings).

use std::collections::BTreeMap;

use base64::Engine as _;

/// A value transformation, applied in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// `%name%` replaced by each value the user supplied for `name`.
    Expand,
    /// `-` also as `/`, en dash, em dash and horizontal bar (Windows command-line flags).
    Windash,
    /// The value's base64 encoding.
    Base64,
    /// The three base64 encodings of the value at byte offsets 0, 1 and 2 inside a longer
    /// string, trimmed to the characters that do not depend on the neighbours.
    Base64Offset,
}

impl Transform {
    /// The modifier's name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "expand" => Self::Expand,
            "windash" => Self::Windash,
            "base64" => Self::Base64,
            "base64offset" => Self::Base64Offset,
            _ => return None,
        })
    }
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Applies the transforms to one value; `Err` names a placeholder with no value.
///
/// # Errors
/// The name of a `%placeholder%` that `placeholders` does not define.
pub fn apply(
    value: &str,
    transforms: &[Transform],
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let mut values = vec![value.to_owned()];
    for t in transforms {
        let mut next = Vec::new();
        for v in values {
            match t {
                Transform::Expand => next.extend(expand(&v, placeholders)?),
                Transform::Windash => {
                    if v.contains('-') {
                        next.extend(DASHES.iter().map(|d| v.replace('-', &d.to_string())));
                    } else {
                        next.push(v);
                    }
                }
                Transform::Base64 => {
                    next.push(base64::engine::general_purpose::STANDARD.encode(v.as_bytes()))
                }
                Transform::Base64Offset => next.extend(base64_offsets(v.as_bytes())),
            }
        }
        values = next;
    }
    Ok(values)
}

fn expand(
    value: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let Some(start) = value.find('%') else { return Ok(vec![value.to_owned()]) };
    let Some(len) = value[start + 1..].find('%') else { return Ok(vec![value.to_owned()]) };
    let name = &value[start + 1..start + 1 + len];
    let replacements = placeholders.get(name).ok_or_else(|| name.to_owned())?;
    let (before, after) = (&value[..start], &value[start + len + 2..]);
    let mut out = Vec::new();
    for r in replacements {
        for rest in expand(after, placeholders)? {
            out.push(format!("{before}{r}{rest}"));
        }
    }
    Ok(out)
}

/// Sigma's `base64offset`: the value may start at any of three byte offsets within an encoded
/// string, so its encoding appears in one of three forms; the characters touching the unknown
/// neighbours are trimmed off each.
fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(value);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&padded);
            let end = encoded.len().saturating_sub(END_TRIM[(value.len() + i) % 3]);
            encoded.get(START[i]..end).unwrap_or_default().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_the_sigma_specification_example() {
        // The three forms of "/bin/bash" that Sigma's documentation lists.
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn expand_takes_every_placeholder_value() {
        let mut p = BTreeMap::new();
        p.insert("Countries".to_owned(), vec!["DE".to_owned(), "FR".to_owned()]);
        assert_eq!(
            apply("%Countries%", &[Transform::Expand], &p),
            Ok(vec!["DE".to_owned(), "FR".to_owned()])
        );
        assert_eq!(apply("%Missing%", &[Transform::Expand], &p), Err("Missing".to_owned()));
    }

    #[test]
    fn windash_gives_every_dash() {
        assert_eq!(apply("-enc", &[Transform::Windash], &BTreeMap::new()).map(|v| v.len()), Ok(5));
    }
}
