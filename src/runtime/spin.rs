//! When a shard busy-polls its client sockets instead of sleeping.
//!
//! A shard that spins answers a lone client's next request without a
//! wake-up (an interrupt, a VM exit on a virtual machine), which halves a
//! short round trip; a shard that spins when nothing comes soon burns a CPU
//! that a neighbour (a follower's fsync and ack, the client itself, another
//! server of `corral dev`) needed. [`SpinPolicy`] spins only while spinning
//! pays:
//!
//! - It remembers, for the last [`SAMPLES`] times new client bytes arrived
//!   after the shard ran out of work, how long the shard had been idle. The
//!   spin window covers three quarters of them (with a margin, and never
//!   less than [`FLOOR_US`], about what a wake-up costs); when that
//!   would be longer than the policy's ceiling, the shard does not spin at
//!   all (a wake-up costs tens of microseconds, waiting that long for work
//!   costs more). Only arrivals count: the wait for a log sync or a peer's
//!   ack is served as well by a wake-up as by spinning.
//! - While the core awaits its own log's fsync (standalone, a write in
//!   flight), the shard spins up to [`LOG_SYNC_US`] after its last I/O:
//!   the log thread's notice then needs no wake-up of the shard, which
//!   here costs more than the spin (an io_uring wait, a membarrier, an
//!   eventfd write: a lone writer's p50 went from 360 to 500 µs without
//!   it). An ensemble's wait for a quorum is long and served by a wake-up.
//! - A shard whose thread waited for a CPU (its run-queue wait, from
//!   `/proc/thread-self/schedstat`) for more than half the time since the
//!   last look does not spin for [`BACK_OFF`]: the CPUs are shared and
//!   others need them more. (A spinning thread always competes for its CPU
//!   with whatever else runs on it, so a lower bar turned spinning off for
//!   a lone writer and its client on two CPUs, where it still paid.)
//! - A process with more shards than the CPUs it may use (affinity, cgroup
//!   quota) never spins.
//!
//! `--spin-us N` replaces all of this with a fixed window of N µs, as
//! before (and glommio then spins on its rings for as long after the
//! poller parks).
//!
//! The policy itself is plain data driven by the poller with times in
//! microseconds, so it is tested without a clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many idle gaps the policy remembers.
pub const SAMPLES: usize = 32;
/// The longest window the automatic policy spins.
pub const AUTO_CEILING_US: u64 = 300;
/// The shortest window the automatic policy spins when it spins at all:
/// a wake-up of a parked shard costs about this much (an io_uring wait, a
/// membarrier, an eventfd write), so a spin that long is never the worse
/// deal when arrivals come within the ceiling.
pub const FLOOR_US: u64 = 150;
/// How long after its last I/O a shard whose core awaits its own log's
/// fsync spins (automatic policy).
pub const LOG_SYNC_US: u64 = 500;
/// How often the poller looks at its thread's run-queue wait.
pub const CONTENTION_CHECK: Duration = Duration::from_millis(20);
/// How long a shard that waited for CPUs does not spin.
pub const BACK_OFF: Duration = Duration::from_millis(200);
/// Run-queue wait, in thousandths of the time looked at, above which the
/// CPUs count as contended.
const CONTENDED_PERMILLE: u64 = 500;

/// How shards decide to spin (`--spin-us`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpinMode {
    /// [`SpinPolicy`]'s automatic window, for a process that may use
    /// `cpus` CPUs ([`usable_cpus`] at startup, before any thread is
    /// pinned to one).
    Auto { cpus: usize },
    /// A fixed window after the last client I/O, and as long again on the
    /// rings (glommio's `spin_before_park`).
    Fixed(Duration),
}

impl SpinMode {
    /// What glommio spins on its rings before it parks an executor.
    pub fn executor_spin(self) -> Duration {
        match self {
            SpinMode::Auto { .. } => Duration::ZERO,
            SpinMode::Fixed(d) => d,
        }
    }
}

/// One shard's spin decisions.
#[derive(Clone, Debug)]
pub struct SpinPolicy {
    fixed: Option<u64>,
    ceiling_us: u64,
    gaps: [u32; SAMPLES],
    len: usize,
    next: usize,
    /// Arrivals since the window was last worked out.
    fresh: usize,
    window_us: u64,
    /// No spinning before this time (µs, the poller's clock): contended.
    off_until_us: u64,
}

impl SpinPolicy {
    /// The policy for `mode` on a process with `shards` shards.
    pub fn new(mode: SpinMode, shards: usize) -> SpinPolicy {
        let (fixed, cpus) = match mode {
            SpinMode::Auto { cpus } => (None, cpus),
            SpinMode::Fixed(d) => (Some(d.as_micros() as u64), shards),
        };
        let ceiling_us = if shards > cpus { 0 } else { AUTO_CEILING_US };
        SpinPolicy {
            fixed,
            ceiling_us,
            gaps: [0; SAMPLES],
            len: 0,
            next: 0,
            fresh: 0,
            // Until it has seen enough arrivals, spin as long as allowed.
            window_us: ceiling_us,
            off_until_us: 0,
        }
    }

    /// True for the automatic policy.
    pub fn is_auto(&self) -> bool {
        self.fixed.is_none()
    }

    /// Client bytes arrived after the shard had been idle for `idle_us`.
    pub fn arrival(&mut self, idle_us: u64) {
        self.gaps[self.next] = idle_us.min(u64::from(u32::MAX)) as u32;
        self.next = (self.next + 1) % SAMPLES;
        self.len = (self.len + 1).min(SAMPLES);
        self.fresh += 1;
        // Worked out every few arrivals: a sort of 32 numbers is cheap, but
        // a busy shard has many arrivals.
        if self.len >= 8 && (self.fresh >= 8 || self.len < SAMPLES) {
            self.fresh = 0;
            let mut sorted = self.gaps;
            let sorted = &mut sorted[..self.len];
            sorted.sort_unstable();
            let q = u64::from(sorted[(self.len * 3).div_ceil(4) - 1]);
            let w = q + q / 4 + 10;
            self.window_us = if w <= self.ceiling_us {
                w.max(FLOOR_US).min(self.ceiling_us)
            } else {
                0
            };
        }
    }

    /// The thread waited `wait_us` for a CPU during the last `wall_us`
    /// (observed at `now_us`).
    pub fn run_queue_wait(&mut self, now_us: u64, wait_us: u64, wall_us: u64) -> bool {
        if wall_us > 0 && wait_us.saturating_mul(1000) > wall_us.saturating_mul(CONTENDED_PERMILLE)
        {
            self.off_until_us = now_us + BACK_OFF.as_micros() as u64;
            true
        } else {
            false
        }
    }

    /// How long, at `now_us`, the shard spins after its last client I/O;
    /// `log_sync`: its core awaits its own log's fsync.
    pub fn window_us(&self, now_us: u64, log_sync: bool) -> u64 {
        match self.fixed {
            Some(us) => us,
            None if now_us < self.off_until_us || self.ceiling_us == 0 => 0,
            None if log_sync => self.window_us.max(LOG_SYNC_US),
            None => self.window_us,
        }
    }
}

/// The CPUs the calling thread may use: its affinity and its cgroup's
/// quota (what the standard library reports). Called before any thread is
/// pinned, it is the process's.
pub fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A thread's run-queue wait so far, from `/proc/thread-self/schedstat`
/// (opened by the thread that reads it).
pub struct RunQueueWait(Option<std::fs::File>);

impl RunQueueWait {
    /// Opens the calling thread's schedstat (nothing if the kernel has none).
    pub fn for_this_thread() -> RunQueueWait {
        RunQueueWait(std::fs::File::open("/proc/thread-self/schedstat").ok())
    }

    /// Microseconds the thread has spent runnable but waiting for a CPU.
    pub fn micros(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let f = self.0.as_ref()?;
        let mut buf = [0u8; 96];
        let n = f.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        let ns: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
        Some(ns / 1000)
    }
}

/// What the shards' pollers did, for the metrics endpoint (summed over
/// shards).
#[derive(Debug, Default)]
pub struct SpinStats {
    /// Microseconds spent spinning with nothing to do.
    pub spin_us: AtomicU64,
    /// Spins that ended with client bytes arriving.
    pub hits: AtomicU64,
    /// Spins that ended with the shard parking.
    pub parks: AtomicU64,
    /// Times a shard stopped spinning because it waited for CPUs.
    pub contended: AtomicU64,
    /// The last window a shard worked out (µs).
    pub window_us: AtomicU64,
}

/// The process's spin figures.
pub static SPIN_STATS: SpinStats = SpinStats {
    spin_us: AtomicU64::new(0),
    hits: AtomicU64::new(0),
    parks: AtomicU64::new(0),
    contended: AtomicU64::new(0),
    window_us: AtomicU64::new(0),
};

impl SpinStats {
    /// Prometheus lines (the metrics endpoint: `mntr`'s keys stay
    /// ZooKeeper's).
    pub fn prometheus(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "corral_spin_window_us",
                "gauge",
                "The spin window a shard last parked with (microseconds).",
                get(&self.window_us),
            ),
            (
                "corral_spin_time_us_total",
                "counter",
                "Microseconds shards spent spinning with nothing to do.",
                get(&self.spin_us),
            ),
            (
                "corral_spin_hits_total",
                "counter",
                "Spins that ended with client bytes arriving.",
                get(&self.hits),
            ),
            (
                "corral_spin_parks_total",
                "counter",
                "Spins that ended with the shard parking.",
                get(&self.parks),
            ),
            (
                "corral_spin_contended_total",
                "counter",
                "Times a shard stopped spinning because it waited for CPUs.",
                get(&self.contended),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto() -> SpinPolicy {
        SpinPolicy::new(SpinMode::Auto { cpus: 2 }, 2)
    }

    #[test]
    fn a_lone_clients_quick_requests_are_spun_for() {
        let mut p = auto();
        for _ in 0..40 {
            p.arrival(40);
        }
        assert_eq!(p.window_us(0, false), FLOOR_US);
    }

    #[test]
    fn gaps_longer_than_the_ceiling_stop_the_spinning() {
        let mut p = auto();
        // A write that waits ~1 ms for its quorum, then the next request
        // 40 µs after the reply: half the gaps are long.
        for i in 0..40 {
            p.arrival(if i % 2 == 0 { 1000 } else { 40 });
        }
        assert_eq!(p.window_us(0, false), 0);
        // Unless the wait is for the server's own fsync.
        assert_eq!(p.window_us(0, true), LOG_SYNC_US);
        // The client speeds up again: spinning comes back.
        for _ in 0..SAMPLES {
            p.arrival(30);
        }
        assert!(p.window_us(0, false) > 30, "{}", p.window_us(0, false));
    }

    #[test]
    fn a_few_long_gaps_do_not_stop_it() {
        let mut p = auto();
        for i in 0..SAMPLES {
            p.arrival(if i % 8 == 0 { 50_000 } else { 20 });
        }
        assert_eq!(p.window_us(0, false), FLOOR_US);
        // A slower client: the window follows it.
        for _ in 0..SAMPLES {
            p.arrival(200);
        }
        assert_eq!(p.window_us(0, false), 200 + 50 + 10);
    }

    #[test]
    fn waiting_for_cpus_backs_off_for_a_while() {
        let mut p = auto();
        assert!(!p.run_queue_wait(1_000, 9_000, 20_000));
        assert_eq!(p.window_us(1_000, false), AUTO_CEILING_US);
        assert!(p.run_queue_wait(2_000, 12_000, 20_000));
        assert_eq!(p.window_us(2_000, true), 0);
        let back = 2_000 + BACK_OFF.as_micros() as u64;
        assert_eq!(p.window_us(back - 1, true), 0);
        assert_eq!(p.window_us(back, false), AUTO_CEILING_US);
    }

    #[test]
    fn more_shards_than_cpus_never_spin_and_fixed_always_does() {
        let mut p = SpinPolicy::new(SpinMode::Auto { cpus: 2 }, 4);
        for _ in 0..40 {
            p.arrival(10);
        }
        assert_eq!(p.window_us(0, false), 0);
        assert_eq!(p.window_us(0, true), 0);
        let mut f = SpinPolicy::new(SpinMode::Fixed(Duration::from_micros(200)), 4);
        f.arrival(5_000);
        assert!(f.run_queue_wait(0, 20_000, 20_000));
        assert_eq!(f.window_us(0, true), 200);
    }

    #[test]
    fn the_thread_can_read_its_run_queue_wait() {
        let w = RunQueueWait::for_this_thread();
        let a = w.micros().expect("schedstat parses");
        let b = w.micros().expect("schedstat parses again");
        assert!(b >= a);
    }
}
