//! Replays the fuzz seed corpus (`fuzz/corpus/client_frames`: the client
//! side of every golden conformance conversation) and every saved fuzz
//! regression (`fuzz/regressions/`) through the fuzz harness, so that
//! `cargo test` checks on stable what the fuzz targets check: no panic, tree
//! invariants, well-formed server output, no ephemeral outliving its
//! session. Each corpus conversation's handshake outcome is checked too.

#[path = "../fuzz/harness.rs"]
mod harness;

use corral::proto::records::connect_request;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// What the first frame of a conversation must get from a fresh core.
fn check_handshake(name: &str, input: &[u8], conv: &harness::Conversation) {
    let (frames, _) = harness::cut_frames(input);
    let Some(first) = frames.first() else {
        assert!(
            conv.server_frames.is_empty(),
            "{name}: output without input"
        );
        return;
    };
    let Some(req) = connect_request(&first[4..]) else {
        // Not a ConnectRequest (garbage_first_frame): close, no reply.
        assert!(conv.server_closed, "{name}: garbage handshake not closed");
        assert!(conv.server_frames.is_empty(), "{name}: reply to garbage");
        return;
    };
    if req.last_zxid_seen > 0 {
        // A fresh server has seen no zxid: "future zxid", close, no reply.
        assert!(conv.server_closed, "{name}: future zxid not closed");
        assert!(
            conv.server_frames.is_empty(),
            "{name}: reply to future zxid"
        );
        return;
    }
    let resp = conv
        .connect_response()
        .unwrap_or_else(|| panic!("{name}: no ConnectResponse"));
    let expect_len = if req.read_only.is_some() { 37 } else { 36 };
    assert_eq!(resp.len(), expect_len, "{name}: ConnectResponse length");
    let timeout = i32::from_be_bytes(resp[4..8].try_into().unwrap());
    let sid = i64::from_be_bytes(resp[8..16].try_into().unwrap());
    if req.session_id == 0 {
        assert_ne!(sid, 0, "{name}: new session id is 0");
        assert_eq!(
            timeout,
            req.timeout.clamp(4000, 40000),
            "{name}: negotiated timeout"
        );
    } else {
        // Reattach to a session this fresh core never had: refused.
        assert_eq!((sid, timeout), (0, 0), "{name}: unknown session accepted");
        assert!(resp[20..36].iter().all(|b| *b == 0), "{name}: passwd");
        assert!(conv.server_closed, "{name}: refused reattach not closed");
    }
}

#[test]
fn client_frames_corpus() {
    let dir = fuzz_dir().join("corpus").join("client_frames");
    let all = files(&dir);
    assert!(
        all.len() >= 100,
        "expected the seed corpus in {} (fuzz/extract_corpus.py), found {} files",
        dir.display(),
        all.len()
    );
    let mut sessions = 0;
    for path in &all {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(path).unwrap();
        let conv = harness::client_frames(&input)
            .unwrap_or_else(|| panic!("{name}: corpus conversation starts with a 4lw"));
        assert_eq!(conv.frames_found, harness::cut_frames(&input).0.len());
        check_handshake(&name, &input, &conv);
        if conv.connect_response().is_some_and(|r| r[8..16] != [0; 8]) {
            sessions += 1;
        }
    }
    // Most golden conversations open a new session.
    assert!(
        sessions * 2 > all.len(),
        "{sessions} of {} sessions",
        all.len()
    );
}

#[test]
fn request_decode_corpus() {
    let dir = fuzz_dir().join("corpus").join("request_decode");
    let all = files(&dir);
    assert!(all.len() >= 100, "{} files in {}", all.len(), dir.display());
    for path in &all {
        harness::request_decode(&std::fs::read(path).unwrap());
    }
}

/// Inputs the fuzzers once crashed on: `fuzz/regressions/<target>/*`.
#[test]
fn regressions() {
    let dir = fuzz_dir().join("regressions");
    for path in files(&dir.join("client_frames")) {
        eprintln!("client_frames {}", path.display());
        let _ = harness::client_frames(&std::fs::read(&path).unwrap());
    }
    for path in files(&dir.join("request_decode")) {
        eprintln!("request_decode {}", path.display());
        harness::request_decode(&std::fs::read(&path).unwrap());
    }
}
