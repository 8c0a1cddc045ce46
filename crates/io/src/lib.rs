//! Where CloudTrail comes from: [`input::expand`] turns paths into an ordered list of inputs,
//! [`decode::open`] opens one (gzip sniffed by magic bytes; read whole, or as a stream when large
//! or live), and [`shape::parse`] / [`shape::parse_stream`] find the records in any of the
//! shapes CloudTrail is found in, reporting every [`Problem`] it meets.
//!
//! The design decision: a bad file or record is a value, not an error that stops the run —
//! every problem carries its file, record index or line and byte offset, and the caller counts
//! it, so nothing is dropped without being counted.
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod bucket;
pub mod decode;
pub mod input;
pub mod notification;
pub mod object;
pub mod problem;
pub mod shape;
pub mod stream;

pub use input::Input;
pub use problem::Problem;
