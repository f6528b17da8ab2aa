//! Replays the peer-frame fuzz seed corpus (`fuzz/corpus/peer_frames`) and
//! any saved regressions (`fuzz/regressions/peer_frames`) through the fuzz
//! harness, so that `cargo test` checks on stable what the `peer_frames`
//! fuzz target checks: no panic, and every decoded message re-encodes to
//! the same bytes and decodes equal.
//!
//! The seed corpus is generated from `peer_harness::examples()`:
//! `CORRAL_WRITE_PEER_CORPUS=1 cargo test --test peer_corpus` rewrites it;
//! without the variable, [`corpus_is_up_to_date`] fails when it is stale.

#[path = "../fuzz/peer_harness.rs"]
mod peer_harness;

use corral::peer::MsgType;
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

#[test]
fn corpus_is_up_to_date() {
    let dir = fuzz_dir().join("corpus").join("peer_frames");
    let write = std::env::var_os("CORRAL_WRITE_PEER_CORPUS").is_some();
    if write {
        std::fs::create_dir_all(&dir).expect("mkdir corpus");
        for f in files(&dir) {
            std::fs::remove_file(f).expect("remove old seed");
        }
    }
    let examples = peer_harness::examples();
    for (name, bytes) in &examples {
        let path = dir.join(name);
        if write {
            std::fs::write(&path, bytes).expect("write seed");
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with CORRAL_WRITE_PEER_CORPUS=1)",
                path.display()
            )
        });
        assert_eq!(
            &on_disk, bytes,
            "{name} is stale (CORRAL_WRITE_PEER_CORPUS=1)"
        );
    }
    assert_eq!(
        files(&dir).len(),
        examples.len(),
        "extra files in {}",
        dir.display()
    );
}

#[test]
fn examples_cover_every_type() {
    let mut seen = Vec::new();
    for (name, bytes) in peer_harness::examples() {
        let out = peer_harness::peer_frames(&bytes);
        assert_eq!(out.error, None, "{name}");
        if name == "stream-partial" {
            assert!(out.consumed < bytes.len(), "{name}");
        } else {
            assert_eq!(out.consumed, bytes.len(), "{name}");
        }
        seen.extend(out.types);
    }
    for ty in MsgType::ALL {
        assert!(seen.contains(&ty), "no example of {ty:?}");
    }
}

#[test]
fn replay_corpus_and_regressions() {
    let corpus = files(&fuzz_dir().join("corpus").join("peer_frames"));
    assert!(!corpus.is_empty(), "empty peer_frames corpus");
    let regressions = files(&fuzz_dir().join("regressions").join("peer_frames"));
    for path in corpus.iter().chain(&regressions) {
        let bytes = std::fs::read(path).expect("read corpus file");
        let _ = peer_harness::peer_frames(&bytes);
        // Every prefix and a few corruptions, as the fuzzer would try.
        for k in 0..bytes.len() {
            let _ = peer_harness::peer_frames(&bytes[..k]);
        }
        for k in 0..bytes.len() {
            let mut v = bytes.clone();
            v[k] ^= 0x80;
            let out = peer_harness::peer_frames(&v);
            assert!(out.consumed <= v.len());
        }
    }
}
