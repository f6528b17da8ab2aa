//! Request latency (an HDR histogram in microseconds, split into reads and
//! writes) and the Prometheus text exposition of the server's figures. The
//! runtime measures the time; this module only counts it.

use super::Core;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

use crate::proto::codes::OpCode;

/// The request kinds with their own latency histogram, as Prometheus
/// labels (by [`OpCode::metric`]).
pub const OPS: [&str; 22] = OpCode::METRICS;

fn new_histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, sigfig).expect("valid bounds")
}

/// Latency histograms, in microseconds.
pub struct Latency {
    pub reads: Histogram<u64>,
    pub writes: Histogram<u64>,
    /// Per request kind (index of [`OPS`]); made on first use, 2 significant digits.
    pub per_op: Vec<Option<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            reads: new_histogram(3),
            writes: new_histogram(3),
            per_op: (0..OPS.len()).map(|_| None).collect(),
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

    pub fn record_op(&mut self, index: usize, micros: u64, n: u64) {
        if let Some(slot) = self.per_op.get_mut(index) {
            slot.get_or_insert_with(|| new_histogram(2))
                .saturating_record_n(micros.max(1), n);
        }
    }

    pub fn reset(&mut self) {
        self.reads.reset();
        self.writes.reset();
        for h in self.per_op.iter_mut().flatten() {
            h.reset();
        }
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram<u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} summary");
    summary_lines(out, name, "", h);
}

/// The quantile, sum and count lines of one summary; `labels` is empty or
/// `key="value",`.
fn summary_lines(out: &mut String, name: &str, labels: &str, h: &Histogram<u64>) {
    for q in [0.5, 0.9, 0.99, 0.999] {
        let v = if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        };
        let _ = writeln!(out, "{name}{{{labels}quantile=\"{q}\"}} {v}");
    }
    let sum: f64 = h.mean() * h.len() as f64 / 1e6;
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.trim_end_matches(','))
    };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {}", h.len());
}

impl Core {
    /// Records the server-side latency of the requests handled since the
    /// last call (the runtime times each batch of frames it hands over).
    pub fn record_batch_latency(&mut self, micros: u64) {
        let (reads, writes) = std::mem::take(&mut self.batch);
        let m = micros.max(1);
        if reads > 0 {
            self.latency.reads.saturating_record_n(m, reads);
        }
        if writes > 0 {
            self.latency.writes.saturating_record_n(m, writes);
        }
        for i in 0..self.batch_ops.len() {
            let n = std::mem::take(&mut self.batch_ops[i]);
            if n > 0 {
                self.latency.record_op(i, m, n as u64);
            }
        }
    }

    /// The figures `mntr` shows, in Prometheus' text format.
    pub fn prometheus(&self, uptime_ms: u64) -> String {
        let mut o = String::with_capacity(4096);
        let (conns, paths, data_watches) = self.watches.data_summary();
        let figures: [(&str, &str, &str, f64); 17] = [
            (
                "zk_znode_count",
                "gauge",
                "Znodes, the root counted twice as ZooKeeper does.",
                self.tree.node_count() as f64,
            ),
            (
                "zk_approximate_data_size",
                "gauge",
                "Bytes of znode data.",
                self.tree.approximate_data_size() as f64,
            ),
            (
                "zk_ephemerals_count",
                "gauge",
                "Ephemeral znodes.",
                self.tree.ephemeral_count() as f64,
            ),
            (
                "zk_global_sessions",
                "gauge",
                "Live sessions.",
                self.sessions.len() as f64,
            ),
            (
                "zk_num_alive_connections",
                "gauge",
                "Open client connections.",
                self.conns.len() as f64,
            ),
            (
                "zk_watch_count",
                "gauge",
                "Data and child watches.",
                self.watches.total() as f64,
            ),
            (
                "corral_data_watches",
                "gauge",
                "Data and exist watches (what wchs counts).",
                data_watches as f64,
            ),
            (
                "corral_data_watch_paths",
                "gauge",
                "Paths with a data watch.",
                paths as f64,
            ),
            (
                "corral_watching_connections",
                "gauge",
                "Connections holding a data watch.",
                conns as f64,
            ),
            (
                "zk_last_zxid",
                "gauge",
                "Last applied zxid.",
                self.last_zxid() as f64,
            ),
            (
                "zk_uptime_seconds",
                "gauge",
                "Seconds since start.",
                uptime_ms as f64 / 1000.0,
            ),
            (
                "zk_packets_received",
                "counter",
                "Packets received.",
                self.stats.packets_received as f64,
            ),
            (
                "zk_packets_sent",
                "counter",
                "Packets sent.",
                self.stats.packets_sent as f64,
            ),
            (
                "zk_auth_failed_count",
                "counter",
                "Failed auth packets.",
                self.stats.auth_failed as f64,
            ),
            (
                "zk_connection_rejected",
                "counter",
                "Connections refused by maxClientCnxns or maxCnxns.",
                self.stats.connections_rejected as f64,
            ),
            (
                "zk_outstanding_requests",
                "gauge",
                "Txns proposed and not yet applied.",
                self.in_flight() as f64,
            ),
            (
                "corral_max_outstanding_requests",
                "gauge",
                "The most txns in flight at once since start.",
                self.stats.max_in_flight as f64,
            ),
        ];
        for (name, kind, help, v) in figures {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
            let _ = writeln!(o, "{name} {v}");
        }
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
        let name = "corral_request_latency_seconds";
        let _ = writeln!(o, "# HELP {name} Server-side latency per request kind.");
        let _ = writeln!(o, "# TYPE {name} summary");
        for (i, h) in self.latency.per_op.iter().enumerate() {
            if let Some(h) = h {
                summary_lines(&mut o, name, &format!("op=\"{}\",", OPS[i]), h);
            }
        }
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
        c.batch = (3, 0);
        c.batch_ops[OpCode::GetData.metric().unwrap()] = 3;
        c.record_batch_latency(250);
        let t = c.prometheus(1500);
        assert!(t.contains("\nzk_znode_count 5\n"), "{t}");
        assert!(t.contains("zk_uptime_seconds 1.5"));
        assert!(t.contains("corral_read_latency_seconds_count 3"));
        assert!(t.contains("corral_read_latency_seconds{quantile=\"0.99\"} 0.00025"));
        assert!(t.contains("corral_write_latency_seconds_count 0"));
        assert!(
            t.contains("corral_request_latency_seconds_count{op=\"getData\"} 3"),
            "{t}"
        );
        assert!(!t.contains("op=\"setData\""));
    }
}
