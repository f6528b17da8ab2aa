//! Four-letter words: builds a snapshot of the server's state and renders
//! it with ZooKeeper's exact text layouts ([`crate::proto::fourlw`]).

use super::Core;
use crate::types::{ConnId, Now};

impl Core {
    /// Answers a four-letter word on a fresh connection, then closes it.
    pub fn four_letter(&mut self, id: ConnId, word: [u8; 4], allowed: bool, _now: Now) {
        let w = std::str::from_utf8(&word).unwrap_or("????");
        let text = if !allowed {
            format!("{w} is not executed because it is not in the whitelist.\n")
        } else {
            match w {
                "ruok" => "imok".to_string(),
                "isro" => "rw".to_string(),
                _ => format!(
                    "Zookeeper version: 3.8.4-corral, built on 2026-11-22 00:00 UTC\n\
                     Latency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\n\
                     Outstanding: 0\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
                    self.stats.packets_received,
                    self.stats.packets_sent,
                    self.conns.len(),
                    self.last_zxid(),
                    self.tree.node_count()
                ),
            }
        };
        if let Some(c) = self.conns.get_mut(&id) {
            c.out.extend_from_slice(text.as_bytes());
        }
        self.close_conn(id);
    }
}
