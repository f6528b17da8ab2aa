//! Durable storage: the txn log's byte format ([`record`]), the device it is
//! written through ([`device`]: a trait plus an in-memory fault-modelling
//! implementation), the segmented log writer and its recovery ([`log`]),
//! the snapshot format ([`snapshot`]), startup state and retention
//! ([`state`]), and the file-touching parts: the server's memory-mapped
//! segment device ([`mmap`]) and a plain std::fs device ([`file`](mod@file)).
//!
//! `record`, `device`, `log`, `snapshot` and `state` are pure (no std::fs,
//! no clock, no threads) so that tests and the simulator run the real code
//! on [`device::MemDevice`]. `mmap` and `file` touch files and are
//! used only by the runtime's storage threads, tools and tests.

pub mod device;
pub mod file;
pub mod log;
pub mod mmap;
pub mod record;
pub mod snapshot;
pub mod state;
pub mod tools;
