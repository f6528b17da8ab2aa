//! The client connections the core knows, as one owned part of
//! [`super::Core`]: each connection's state ([`Conn`]), how many come from
//! each address (`maxClientCnxns`), and which have output or a close
//! pending for the runtime ([`Conns::drain`]).

use super::{Conn, ConnStats, Output};
use crate::tree::acl::{Caller, Id};
use crate::types::{ConnId, FxHashMap, Now};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

#[derive(Default)]
pub(crate) struct Conns {
    map: FxHashMap<ConnId, Conn>,
    per_ip: FxHashMap<IpAddr, u32>,
    /// Connections with output or a close pending, each once.
    dirty: Vec<ConnId>,
}

impl Conns {
    /// Adds a connection; returns how many are now open from its address.
    pub fn open(&mut self, id: ConnId, addr: SocketAddr, now: Now) -> u32 {
        let n = self.per_ip.entry(addr.ip()).or_insert(0);
        *n += 1;
        let from_ip = *n;
        let caller = Caller {
            ids: vec![Id::new("ip", &addr.ip().to_string())],
            addr: Some(addr.ip()),
        };
        self.map.insert(
            id,
            Conn {
                addr,
                session: None,
                old_client: false,
                caller,
                out: Vec::new(),
                close: false,
                dirty: false,
                stats: ConnStats {
                    last_op: "NA",
                    established_wall_ms: now.wall_ms,
                    last_zxid: -1,
                    last_cxid: -1,
                    ..Default::default()
                },
                held: VecDeque::new(),
                fourlw: None,
                sasl: None,
            },
        );
        from_ip
    }

    /// Forgets a connection (closed by either side).
    pub fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let c = self.map.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&c.addr.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&c.addr.ip());
            }
        }
        Some(c)
    }

    pub fn get(&self, id: &ConnId) -> Option<&Conn> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        self.map.get_mut(id)
    }

    pub fn contains_key(&self, id: &ConnId) -> bool {
        self.map.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn keys(&self) -> impl Iterator<Item = &ConnId> {
        self.map.keys()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        self.map.values_mut()
    }

    /// The connection has output (or a close) for the runtime.
    pub fn mark(&mut self, id: ConnId) {
        if let Some(c) = self.map.get_mut(&id) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Lets `write` append to an open connection's output; marks it if
    /// `write` says it wrote.
    pub fn write(&mut self, id: ConnId, write: impl FnOnce(&mut Conn) -> bool) {
        if let Some(c) = self.map.get_mut(&id) {
            if write(c) && !c.dirty {
                c.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Asks the runtime to close the connection (after its pending output).
    pub fn close(&mut self, id: ConnId) {
        if let Some(c) = self.map.get_mut(&id) {
            c.close = true;
        }
        self.mark(id);
    }

    /// Hands every connection with pending output (or a pending close) to
    /// `f`. The runtime writes the bytes and clears the buffer.
    pub fn drain(&mut self, mut f: impl FnMut(Output<'_>)) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for id in &dirty {
            if let Some(c) = self.map.get_mut(id) {
                c.dirty = false;
                f(Output {
                    conn: *id,
                    bytes: &mut c.out,
                    close: c.close,
                });
            }
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }
}

impl std::ops::Index<&ConnId> for Conns {
    type Output = Conn;

    fn index(&self, id: &ConnId) -> &Conn {
        &self.map[id]
    }
}
