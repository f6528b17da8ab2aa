//! Request latency (an HDR histogram in microseconds, split into reads and
//! writes) and the Prometheus text exposition of the server's figures. The
//! runtime measures the time; this module only counts it.

use super::Core;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// Latency histograms, in microseconds.
pub struct Latency {
    pub reads: Histogram<u64>,
    pub writes: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        Latency {
            reads: h(),
            writes: h(),
        }
    }
}

impl Latency {
    pub fn record(&mut self, write: bool, micros: u64) {
        let h = if write {
            &mut self.writes
        } else {
            &mut self.reads
        };
        h.saturating_record(micros.max(1));
    }

    /// Reads and writes together: (count, min, mean, max) in microseconds.
    pub fn overall(&self) -> (u64, u64, f64, u64) {
        let n = self.reads.len() + self.writes.len();
        if n == 0 {
            return (0, 0, 0.0, 0);
        }
        let min = match (self.reads.is_empty(), self.writes.is_empty()) {
            (false, false) => self.reads.min().min(self.writes.min()),
            (false, true) => self.reads.min(),
            _ => self.writes.min(),
        };
        let max = self.reads.max().max(self.writes.max());
        let mean = (self.reads.mean() * self.reads.len() as f64
            + self.writes.mean() * self.writes.len() as f64)
            / n as f64;
        (n, min, mean, max)
    }

    pub fn reset(&mut self) {
        self.reads.reset();
        self.writes.reset();
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram<u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} summary");
    for q in [0.5, 0.9, 0.99, 0.999] {
        let v = if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        };
        let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {v}");
    }
    let sum: f64 = h.mean() * h.len() as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {}", h.len());
}

impl Core {
    /// Records the server-side latency of `n` requests of one kind.
    pub fn record_latency(&mut self, write: bool, micros: u64, n: u64) {
        for _ in 0..n.min(1024) {
            self.latency.record(write, micros);
        }
    }

    /// The figures `mntr` shows, in Prometheus' text format.
    pub fn prometheus(&self, uptime_ms: u64) -> String {
        let mut o = String::with_capacity(4096);
        let mut g = |name: &str, kind: &str, help: &str, v: f64| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
            let _ = writeln!(o, "{name} {v}");
        };
        let (conns, paths, data_watches) = self.watches.data_summary();
        g(
            "zk_znode_count",
            "gauge",
            "Znodes, the root counted twice as ZooKeeper does.",
            self.tree.node_count() as f64,
        );
        g(
            "zk_approximate_data_size",
            "gauge",
            "Bytes of znode data.",
            self.tree.approximate_data_size() as f64,
        );
        g(
            "zk_ephemerals_count",
            "gauge",
            "Ephemeral znodes.",
            self.tree.ephemeral_count() as f64,
        );
        g(
            "zk_global_sessions",
            "gauge",
            "Live sessions.",
            self.sessions.len() as f64,
        );
        g(
            "zk_num_alive_connections",
            "gauge",
            "Open client connections.",
            self.conns.len() as f64,
        );
        g(
            "zk_watch_count",
            "gauge",
            "Data and child watches.",
            self.watches.total() as f64,
        );
        g(
            "corral_data_watches",
            "gauge",
            "Data and exist watches (what wchs counts).",
            data_watches as f64,
        );
        g(
            "corral_data_watch_paths",
            "gauge",
            "Paths with a data watch.",
            paths as f64,
        );
        g(
            "corral_watching_connections",
            "gauge",
            "Connections holding a data watch.",
            conns as f64,
        );
        g(
            "zk_last_zxid",
            "gauge",
            "Last applied zxid.",
            self.last_zxid() as f64,
        );
        g(
            "zk_uptime_seconds",
            "gauge",
            "Seconds since start.",
            uptime_ms as f64 / 1000.0,
        );
        g(
            "zk_packets_received",
            "counter",
            "Packets received.",
            self.stats.packets_received as f64,
        );
        g(
            "zk_packets_sent",
            "counter",
            "Packets sent.",
            self.stats.packets_sent as f64,
        );
        g(
            "zk_auth_failed_count",
            "counter",
            "Failed auth packets.",
            self.stats.auth_failed as f64,
        );
        g(
            "zk_connection_rejected",
            "counter",
            "Connections refused by maxClientCnxns or maxCnxns.",
            self.stats.connections_rejected as f64,
        );
        histogram(
            &mut o,
            "corral_read_latency_seconds",
            "Server-side latency of reads.",
            &self.latency.reads,
        );
        histogram(
            &mut o,
            "corral_write_latency_seconds",
            "Server-side latency of writes.",
            &self.latency.writes,
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_combines_reads_and_writes() {
        let mut l = Latency::default();
        assert_eq!(l.overall(), (0, 0, 0.0, 0));
        l.record(false, 100);
        l.record(true, 300);
        let (n, min, mean, max) = l.overall();
        assert_eq!(n, 2);
        assert_eq!(min, 100);
        assert!((mean - 200.0).abs() < 1.0);
        assert!((299..=301).contains(&max));
    }

    #[test]
    fn prometheus_text_has_gauges_and_quantiles() {
        let mut c = Core::new(super::super::CoreConfig::default(), Default::default());
        c.record_latency(false, 250, 3);
        let t = c.prometheus(1500);
        assert!(t.contains("\nzk_znode_count 5\n"), "{t}");
        assert!(t.contains("zk_uptime_seconds 1.5"));
        assert!(t.contains("corral_read_latency_seconds_count 3"));
        assert!(t.contains("corral_read_latency_seconds{quantile=\"0.99\"} 0.00025"));
        assert!(t.contains("corral_write_latency_seconds_count 0"));
    }
}
