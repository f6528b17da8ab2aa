//! corral: a ZooKeeper-compatible coordination service.
//!
//! Reading order: [`types`], [`proto`] (the client wire protocol), [`peer`]
//! (server-to-server frames),
//! [`tree`] (the DataTree, ACLs, watches), [`session`] (sessions and prep),
//! [`server`] (the sans-IO request pipeline), [`zab`] (replication),
//! [`node`] (an ensemble member: the core and its replica, joined),
//! [`storage`] (the txn log format, writer and recovery), [`config`], and
//! [`runtime`] (the only code touching glommio, sockets, files and clocks).
//!
//! A request's path: a connection shard reads bytes and cuts frames; the
//! core shard's [`server::Core`] decodes each frame zero-copy, answers reads
//! from the tree, preps writes into txns (ZooKeeper's check order), applies
//! them, fires watches into the output buffers of the watching connections,
//! and appends the reply to the requester's buffer; the connection shard
//! writes each buffer out in one write.

pub mod client;
pub mod config;
pub mod dev;
pub mod jaas;
pub mod lincheck;
pub mod node;
pub mod peer;
pub mod proto;
pub mod runtime;
pub mod server;
pub mod session;
pub mod sim;
pub mod storage;
pub mod tree;
pub mod types;
pub mod zab;
