//! Arbitrary bytes as a peer connection's receive buffer, decoded frame by
//! frame; every decoded message must re-encode to the same bytes and decode
//! equal: see `fuzz/peer_harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../peer_harness.rs"]
mod peer_harness;

fuzz_target!(|data: &[u8]| {
    let _ = peer_harness::peer_frames(data);
});
