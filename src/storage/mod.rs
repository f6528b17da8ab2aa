//! Durable storage: the txn log's byte format ([`record`]), the device it is
//! written through ([`device`]: a trait plus an in-memory fault-modelling
//! implementation), the segmented log writer and its recovery ([`log`]), and
//! a plain std::fs device ([`file`]).
//!
//! `record`, `device` and `log` are pure (no std::fs, no clock, no threads)
//! so that tests and the simulator run the real log code on [`device::MemDevice`].
//! `file` is the exception: it touches std::fs and is used only outside the
//! core (tools, tests, the runtime until it has its mmap device).

pub mod device;
pub mod file;
pub mod log;
pub mod mmap;
pub mod record;
