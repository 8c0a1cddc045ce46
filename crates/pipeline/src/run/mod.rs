//! Running a scan: without a store, streamed ([`memory`]); with one, in committed batches
//! ([`stored`]). Both give their signals and alert changes to a [`crate::sink::Router`].

pub mod memory;
pub mod revisit;
pub mod stored;
