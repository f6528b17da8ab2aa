//! The ZooKeeper client protocol: jute encoding, request and response
//! records, opcodes and error codes, and the four-letter words. Pure code:
//! runs on whichever shard owns the bytes; no I/O.

pub mod codes;
pub mod fourlw;
pub mod jute;
pub mod records;
