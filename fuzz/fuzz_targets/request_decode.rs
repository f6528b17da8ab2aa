//! `decode_request(opcode, body)`, the opcode in the first 4 bytes: see
//! `fuzz/harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::request_decode(data);
});
