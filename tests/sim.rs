//! Deterministic cluster simulation sweeps (see `corral::sim`): many seeds
//! across the fault mixes and ensemble shapes, 0 violations allowed.
//!
//! `SIM_SEED=N cargo test --test sim replay -- --nocapture` replays one
//! seed (`SIM_TRACE=1` prints every step); `SIM_SEEDS=N` runs N seeds per
//! sweep instead of 250 (two sweeps: even and odd seeds); `SIM_SEED_BASE=B`
//! starts the sweeps at seed B.

use corral::sim::{run_seed, Coverage, SimConfig};

fn base_from_env() -> u64 {
    std::env::var("SIM_SEED_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn seeds_from_env(default: u64) -> u64 {
    std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `seeds`, panicking with every failing seed and its replay command.
fn sweep(name: &str, seeds: impl Iterator<Item = u64>) -> Coverage {
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    let t0 = std::time::Instant::now();
    for seed in seeds {
        let r = run_seed(SimConfig::for_seed(seed));
        cov.add(&r.coverage);
        if let Some(v) = r.violation {
            eprintln!("seed {seed} FAILED: {v}\n  replay: SIM_SEED={seed} cargo test --test sim replay -- --nocapture");
            failures.push(seed);
        }
    }
    eprintln!(
        "{name}: {} seeds in {:.1}s, coverage {cov:#?}",
        cov.runs,
        t0.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    cov
}

#[test]
fn replay() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) else {
        return;
    };
    let r = run_seed(SimConfig::for_seed(seed));
    eprintln!("seed {seed}: {:?}\n{:#?}", r.violation, r.coverage);
    assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
}

#[test]
fn sweep_even_seeds() {
    let n = seeds_from_env(250);
    let b = base_from_env();
    sweep("even", (0..n).map(|k| b + 2 * k));
}

#[test]
fn sweep_odd_seeds() {
    let n = seeds_from_env(250);
    let b = base_from_env();
    sweep("odd", (0..n).map(|k| b + 2 * k + 1));
}

/// First failing seed among `seeds` (crash mixes only) with `faults` on.
fn first_violation(faults: corral::zab::Faults, seeds: u64) -> Option<(u64, String)> {
    use corral::sim::Mix;
    (0..seeds)
        .map(SimConfig::for_seed)
        .filter(|c| matches!(c.mix, Mix::Crash | Mix::Disk | Mix::Chaos))
        .find_map(|mut c| {
            c.faults = faults;
            let seed = c.seed;
            run_seed(c).violation.map(|v| (seed, v))
        })
}

/// The checker can fail: a leader that counts its own ack before its
/// fsync commits txns that a crash then loses, and the sweep finds it.
#[test]
fn leader_ack_before_fsync_is_caught() {
    let faults = corral::zab::Faults {
        leader_ack_before_fsync: true,
        ..Default::default()
    };
    let found = first_violation(faults, 1000);
    eprintln!("leader_ack_before_fsync: {found:?}");
    assert!(found.is_some(), "no violation found within 1000 seeds");
}

/// The checker can fail (second rule): learners that ack NEWLEADER (and
/// take the new epoch) before the synced txns are durable.
#[test]
fn newleader_ack_before_durable_is_caught() {
    let faults = corral::zab::Faults {
        newleader_ack_before_durable: true,
        ..Default::default()
    };
    let found = first_violation(faults, 500);
    eprintln!("newleader_ack_before_durable: {found:?}");
    assert!(found.is_some(), "no violation found within 500 seeds");
}
