//! Where results go: the JSON-lines contract ([`jsonl`]) and the terminal table ([`text`]).
//! stdout carries results only; progress, problems and the summary go to stderr.

pub mod jsonl;
pub mod text;
