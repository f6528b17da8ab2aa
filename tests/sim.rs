//! Deterministic cluster simulation sweeps (see `corral::sim`): real
//! `Node`s with protocol-speaking clients, many seeds across the fault
//! mixes and ensemble shapes, 0 violations allowed.
//!
//! `SIM_SEED=N cargo test --release --test sim replay -- --nocapture`
//! replays one seed (`SIM_TRACE=1` prints every step, `SIM_SWARM=1` for a
//! swarm seed); `SIM_SEEDS=N` runs N seeds per sweep (two sweeps: even and
//! odd seeds; 1,000 each by default in an optimized build, so `cargo test
//! --release` (what CI runs) checks 2,000, plus 500 swarm seeds; a debug
//! build runs a tenth of that); `SIM_SEED_BASE=B` starts the sweeps at
//! seed B.

use corral::sim::{run_seed, Coverage, Mix, SimConfig};

fn base_from_env() -> u64 {
    std::env::var("SIM_SEED_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Seeds per sweep: `SIM_SEEDS`, else 1,000 (100 in a debug build, which
/// is about ten times slower).
fn seeds_from_env() -> u64 {
    let default = if cfg!(debug_assertions) { 100 } else { 1000 };
    std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `seeds`, panicking with every failing seed and its replay command.
fn sweep(name: &str, seeds: impl Iterator<Item = u64>, cfg: fn(u64) -> SimConfig) -> Coverage {
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    let t0 = std::time::Instant::now();
    let swarm = if name.starts_with("swarm") {
        "SIM_SWARM=1 "
    } else {
        ""
    };
    for seed in seeds {
        let r = run_seed(cfg(seed));
        cov.add(&r.coverage);
        if let Some(v) = r.violation {
            eprintln!(
                "seed {seed} FAILED: {v}\n  replay: {swarm}SIM_SEED={seed} cargo test --release --test sim replay -- --nocapture"
            );
            failures.push(seed);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "{name}: {} seeds in {secs:.1}s ({:.0} seeds/s), coverage {cov:#?}",
        cov.runs,
        cov.runs as f64 / secs.max(1e-9)
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    cov
}

fn env_cfg(seed: u64) -> SimConfig {
    if std::env::var_os("SIM_SWARM").is_some() {
        SimConfig::swarm(seed)
    } else {
        SimConfig::for_seed(seed)
    }
}

#[test]
fn replay() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) else {
        return;
    };
    let r = run_seed(env_cfg(seed));
    eprintln!("seed {seed}: {:?}\n{:#?}", r.violation, r.coverage);
    assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
}

#[test]
fn sweep_even_seeds() {
    let n = seeds_from_env();
    let b = base_from_env();
    let cov = sweep("even", (0..n).map(|k| b + 2 * k), SimConfig::for_seed);
    // The sweep exercised what it is for.
    if n >= 200 {
        assert!(cov.elections > 0 && cov.diffs > 0 && cov.snaps > 0 && cov.truncs > 0);
        assert!(cov.crashes > 0 && cov.partitions > 0 && cov.restarts_from_snapshot > 0);
        let c = &cov.clients;
        assert!(c.cas_ok > 0 && c.cas_failed > 0 && c.synced_reads > 0 && c.reattached > 0);
        assert!(
            c.watches_set > 0 && c.watch_events > 0,
            "no data watch fired"
        );
        assert!(cov.checked_ops > 0 && cov.expirations > 0);
    }
}

#[test]
fn sweep_odd_seeds() {
    let n = seeds_from_env();
    let b = base_from_env();
    sweep("odd", (0..n).map(|k| b + 2 * k + 1), SimConfig::for_seed);
}

#[test]
fn sweep_swarm_seeds() {
    let n = seeds_from_env() / 2;
    let b = base_from_env();
    let cov = sweep("swarm", (0..n).map(|k| b + k), SimConfig::swarm);
    if n >= 200 {
        assert!(cov.read_only_periods > 0, "no server went read-only");
    }
}

/// First failing seed among `seeds` (crash mixes only) with `tweak` on.
fn first_violation(seeds: u64, tweak: impl Fn(&mut SimConfig)) -> Option<(u64, String)> {
    (0..seeds)
        .map(SimConfig::for_seed)
        .filter(|c| matches!(c.mix, Mix::Crash | Mix::Disk | Mix::Chaos))
        .find_map(|mut c| {
            tweak(&mut c);
            let seed = c.seed;
            run_seed(c).violation.map(|v| (seed, v))
        })
}

/// A knob that breaks one rule on purpose must make some seed among the
/// first `seeds` fail, with a message containing `says` (the check meant).
fn assert_caught(knob: &str, seeds: u64, says: &str, tweak: impl Fn(&mut SimConfig)) {
    let found = first_violation(seeds, tweak);
    eprintln!("{knob}: {found:?}");
    let (_, msg) = found.unwrap_or_else(|| panic!("{knob}: no violation within {seeds} seeds"));
    assert!(msg.contains(says), "{knob}: caught by another check: {msg}");
}

/// The checker can fail: a leader that counts its own ack before its
/// fsync commits txns that a crash then loses, and the sweep finds it.
#[test]
fn leader_ack_before_fsync_is_caught() {
    assert_caught("leader_ack_before_fsync", 1000, "", |c| {
        c.faults.leader_ack_before_fsync = true
    });
}

/// The checker can fail (second rule): learners that ack NEWLEADER (and
/// take the new epoch) before the synced txns are durable.
#[test]
fn newleader_ack_before_durable_is_caught() {
    assert_caught("newleader_ack_before_durable", 500, "", |c| {
        c.faults.newleader_ack_before_durable = true
    });
}

/// The client-level checker can fail: a server that answers a failed
/// write at once, against txns in flight that may never commit (rather
/// than as an error txn once they do), is caught within the default seed
/// count.
#[test]
fn errors_answered_before_what_they_saw_commits_are_caught() {
    assert_caught("errors_at_once", 2000, "", |c| {
        c.core_faults.errors_at_once = true
    });
}

/// The client-level watch check can fail: a server that uses up a fired
/// data watch without sending its event lets a client read the new data
/// (or its own write's answer) with the watch still pending.
#[test]
fn data_watch_events_dropped_are_caught() {
    assert_caught("drop_data_events", 2000, "before the watch event", |c| {
        c.core_faults.drop_data_events = true
    });
}

/// The ephemeral check can fail: a server that applies an ephemeral
/// create as a persistent node keeps it past its owner's end.
#[test]
fn ephemerals_applied_as_persistent_are_caught() {
    assert_caught("ephemerals_as_persistent", 500, "ephemerals differ", |c| {
        c.core_faults.ephemerals_as_persistent = true
    });
}

/// Swarm seed 3220567 ("a frame (xid 27) carries zxid 0x50000000a after
/// 0x50000000c: the session went back in time"): on a follower, a client's
/// setData was in flight when its create arrived, and the session was no
/// longer live there, so the create was answered SessionExpired at once,
/// with the zxid applied at that moment (0x...0a); that answer waited its
/// turn behind the setData's (0x...0c) and reached the client after it.
/// An answer decided at arrival now carries the zxid applied when it goes
/// out.
#[test]
fn sim3220567_an_answer_held_behind_writes_carries_a_current_zxid() {
    let report = run_seed(SimConfig::swarm(3_220_567));
    assert_eq!(report.violation, None);
}
