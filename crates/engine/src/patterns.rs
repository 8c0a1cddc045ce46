//! A list of substrings, prefixes or suffixes a text is tested against. A few are tried one
//! by one; a long list (a Sigma rule of thousands of keywords) is one Aho-Corasick automaton
//! that finds any of them in a single pass over the text.

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

/// Which end of the text a pattern must sit at, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// From how many patterns on one automaton is cheaper than trying them one by one.
const MANY: usize = 16;

pub(crate) struct Patterns {
    pub(crate) op: TextOp,
    list: Vec<String>,
    /// For a long list of substrings or prefixes.
    automaton: Option<AhoCorasick>,
}

impl Patterns {
    /// `list` (already folded when the test ignores case) for `op`.
    pub(crate) fn new(op: TextOp, list: Vec<String>) -> Self {
        let start = match op {
            TextOp::Contains => Some(StartKind::Unanchored),
            TextOp::StartsWith => Some(StartKind::Anchored),
            // A suffix list would need the text reversed on every call; few rules have many.
            TextOp::EndsWith => None,
        };
        let automaton = start.filter(|_| list.len() >= MANY).and_then(|start| {
            // Which pattern matches does not matter, only whether one does.
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .start_kind(start)
                .build(&list)
                .ok()
        });
        Self { op, list, automaton }
    }

    /// Whether any pattern holds of `text`.
    pub(crate) fn any(&self, text: &str) -> bool {
        if let Some(automaton) = &self.automaton {
            let anchored = if self.op == TextOp::StartsWith { Anchored::Yes } else { Anchored::No };
            return automaton.is_match(Input::new(text).anchored(anchored));
        }
        self.list.iter().any(|p| match self.op {
            TextOp::Contains => text.contains(p.as_str()),
            TextOp::StartsWith => text.starts_with(p.as_str()),
            TextOp::EndsWith => text.ends_with(p.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_answers_as_the_patterns_one_by_one_do() {
        let list: Vec<String> = (0..100).map(|i| format!("k{i}x")).chain(["".into()]).collect();
        for op in [TextOp::Contains, TextOp::StartsWith, TextOp::EndsWith] {
            let many = Patterns::new(op, list[..100].to_vec());
            let few = |text: &str| {
                list[..100].iter().any(|p| match op {
                    TextOp::Contains => text.contains(p.as_str()),
                    TextOp::StartsWith => text.starts_with(p.as_str()),
                    TextOp::EndsWith => text.ends_with(p.as_str()),
                })
            };
            for text in ["k7x", "ak7x", "k7xa", "k7", "", "zzk99xzz", "k10", "k100x"] {
                assert_eq!(many.any(text), few(text), "{text}");
            }
            // The empty pattern is in every text, at both ends.
            assert!(Patterns::new(op, list.clone()).any("anything"));
        }
        assert!(Patterns::new(TextOp::Contains, list[..100].to_vec()).automaton.is_some());
    }
}
