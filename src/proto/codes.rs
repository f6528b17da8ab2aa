//! Opcodes, error codes, event types and create modes of the ZooKeeper client
//! protocol (protocol reference §4, §6, §10, §12).

/// Every opcode of the client protocol, with what the server keeps per
/// opcode: its wire code, ZooKeeper's name for it, the tag `cons` prints
/// as `lop`, its latency histogram and whether it takes effect at arrival.
/// Each property is one exhaustive `match`, so a new opcode cannot be
/// left out of any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    Notification,
    Create,
    Delete,
    Exists,
    GetData,
    SetData,
    GetAcl,
    SetAcl,
    GetChildren,
    Sync,
    Ping,
    GetChildren2,
    Check,
    Multi,
    Create2,
    Reconfig,
    CheckWatches,
    RemoveWatches,
    CreateContainer,
    DeleteContainer,
    CreateTtl,
    MultiRead,
    Auth,
    SetWatches,
    Sasl,
    GetEphemerals,
    GetAllChildrenNumber,
    SetWatches2,
    AddWatch,
    WhoAmI,
    CreateSession,
    CloseSession,
    Error,
}

impl OpCode {
    pub const ALL: [OpCode; 33] = [
        OpCode::Notification,
        OpCode::Create,
        OpCode::Delete,
        OpCode::Exists,
        OpCode::GetData,
        OpCode::SetData,
        OpCode::GetAcl,
        OpCode::SetAcl,
        OpCode::GetChildren,
        OpCode::Sync,
        OpCode::Ping,
        OpCode::GetChildren2,
        OpCode::Check,
        OpCode::Multi,
        OpCode::Create2,
        OpCode::Reconfig,
        OpCode::CheckWatches,
        OpCode::RemoveWatches,
        OpCode::CreateContainer,
        OpCode::DeleteContainer,
        OpCode::CreateTtl,
        OpCode::MultiRead,
        OpCode::Auth,
        OpCode::SetWatches,
        OpCode::Sasl,
        OpCode::GetEphemerals,
        OpCode::GetAllChildrenNumber,
        OpCode::SetWatches2,
        OpCode::AddWatch,
        OpCode::WhoAmI,
        OpCode::CreateSession,
        OpCode::CloseSession,
        OpCode::Error,
    ];

    /// The wire code.
    pub const fn code(self) -> i32 {
        match self {
            OpCode::Notification => 0,
            OpCode::Create => 1,
            OpCode::Delete => 2,
            OpCode::Exists => 3,
            OpCode::GetData => 4,
            OpCode::SetData => 5,
            OpCode::GetAcl => 6,
            OpCode::SetAcl => 7,
            OpCode::GetChildren => 8,
            OpCode::Sync => 9,
            OpCode::Ping => 11,
            OpCode::GetChildren2 => 12,
            OpCode::Check => 13,
            OpCode::Multi => 14,
            OpCode::Create2 => 15,
            OpCode::Reconfig => 16,
            OpCode::CheckWatches => 17,
            OpCode::RemoveWatches => 18,
            OpCode::CreateContainer => 19,
            OpCode::DeleteContainer => 20,
            OpCode::CreateTtl => 21,
            OpCode::MultiRead => 22,
            OpCode::Auth => 100,
            OpCode::SetWatches => 101,
            OpCode::Sasl => 102,
            OpCode::GetEphemerals => 103,
            OpCode::GetAllChildrenNumber => 104,
            OpCode::SetWatches2 => 105,
            OpCode::AddWatch => 106,
            OpCode::WhoAmI => 107,
            OpCode::CreateSession => -10,
            OpCode::CloseSession => -11,
            OpCode::Error => -1,
        }
    }

    /// The opcode of a wire code (None: no such opcode).
    pub const fn from_code(code: i32) -> Option<OpCode> {
        Some(match code {
            0 => OpCode::Notification,
            1 => OpCode::Create,
            2 => OpCode::Delete,
            3 => OpCode::Exists,
            4 => OpCode::GetData,
            5 => OpCode::SetData,
            6 => OpCode::GetAcl,
            7 => OpCode::SetAcl,
            8 => OpCode::GetChildren,
            9 => OpCode::Sync,
            11 => OpCode::Ping,
            12 => OpCode::GetChildren2,
            13 => OpCode::Check,
            14 => OpCode::Multi,
            15 => OpCode::Create2,
            16 => OpCode::Reconfig,
            17 => OpCode::CheckWatches,
            18 => OpCode::RemoveWatches,
            19 => OpCode::CreateContainer,
            20 => OpCode::DeleteContainer,
            21 => OpCode::CreateTtl,
            22 => OpCode::MultiRead,
            100 => OpCode::Auth,
            101 => OpCode::SetWatches,
            102 => OpCode::Sasl,
            103 => OpCode::GetEphemerals,
            104 => OpCode::GetAllChildrenNumber,
            105 => OpCode::SetWatches2,
            106 => OpCode::AddWatch,
            107 => OpCode::WhoAmI,
            -10 => OpCode::CreateSession,
            -11 => OpCode::CloseSession,
            -1 => OpCode::Error,
            _ => return None,
        })
    }

    /// ZooKeeper's name for it (`Request.op2String`), the label of its
    /// latency figures.
    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Notification => "notification",
            OpCode::Create => "create",
            OpCode::Delete => "delete",
            OpCode::Exists => "exists",
            OpCode::GetData => "getData",
            OpCode::SetData => "setData",
            OpCode::GetAcl => "getACL",
            OpCode::SetAcl => "setACL",
            OpCode::GetChildren => "getChildren",
            OpCode::Sync => "sync",
            OpCode::Ping => "ping",
            OpCode::GetChildren2 => "getChildren2",
            OpCode::Check => "check",
            OpCode::Multi => "multi",
            OpCode::Create2 => "create2",
            OpCode::Reconfig => "reconfig",
            OpCode::CheckWatches => "checkWatches",
            OpCode::RemoveWatches => "removeWatches",
            OpCode::CreateContainer => "createContainer",
            OpCode::DeleteContainer => "deleteContainer",
            OpCode::CreateTtl => "createTTL",
            OpCode::MultiRead => "multiRead",
            OpCode::Auth => "auth",
            OpCode::SetWatches => "setWatches",
            OpCode::Sasl => "sasl",
            OpCode::GetEphemerals => "getEphemerals",
            OpCode::GetAllChildrenNumber => "getAllChildrenNumber",
            OpCode::SetWatches2 => "setWatches2",
            OpCode::AddWatch => "addWatch",
            OpCode::WhoAmI => "whoAmI",
            OpCode::CreateSession => "createSession",
            OpCode::CloseSession => "closeSession",
            OpCode::Error => "error",
        }
    }

    /// What `cons` shows as the connection's last operation once a
    /// request of this kind is answered (ZooKeeper's FinalRequestProcessor
    /// tags). None: the request does not pass there (auth and SASL are
    /// answered before it; a notification or an error is never a
    /// request) and the tag stays as it was.
    pub const fn last_op_tag(self) -> Option<&'static str> {
        match self {
            OpCode::Notification => None,
            OpCode::Create => Some("CREA"),
            OpCode::Delete => Some("DELE"),
            OpCode::Exists => Some("EXIS"),
            OpCode::GetData => Some("GETD"),
            OpCode::SetData => Some("SETD"),
            OpCode::GetAcl => Some("GETA"),
            OpCode::SetAcl => Some("SETA"),
            OpCode::GetChildren => Some("GETC"),
            OpCode::Sync => Some("SYNC"),
            OpCode::Ping => Some("PING"),
            OpCode::GetChildren2 => Some("GETC"),
            OpCode::Check => Some("CHEC"),
            OpCode::Multi => Some("MULT"),
            OpCode::Create2 => Some("CREA"),
            OpCode::Reconfig => Some("RECO"),
            OpCode::CheckWatches => Some("CHKW"),
            OpCode::RemoveWatches => Some("REMW"),
            OpCode::CreateContainer => Some("CREA"),
            OpCode::DeleteContainer => Some("DELE"),
            OpCode::CreateTtl => Some("CREA"),
            OpCode::MultiRead => Some("MLTR"),
            OpCode::Auth => None,
            OpCode::SetWatches => Some("SETW"),
            OpCode::Sasl => None,
            OpCode::GetEphemerals => Some("GETE"),
            OpCode::GetAllChildrenNumber => Some("GETACN"),
            OpCode::SetWatches2 => Some("STW2"),
            OpCode::AddWatch => Some("ADDW"),
            OpCode::WhoAmI => Some("HOMI"),
            OpCode::CreateSession => Some("SESS"),
            OpCode::CloseSession => Some("CLOS"),
            OpCode::Error => None,
        }
    }

    /// Its latency histogram: an index into [`OpCode::METRICS`] (None:
    /// the request is refused or never timed).
    pub const fn metric(self) -> Option<usize> {
        match self {
            OpCode::Notification => None,
            OpCode::Create => Some(0),
            OpCode::Delete => Some(1),
            OpCode::Exists => Some(2),
            OpCode::GetData => Some(3),
            OpCode::SetData => Some(4),
            OpCode::GetAcl => Some(5),
            OpCode::SetAcl => Some(6),
            OpCode::GetChildren => Some(7),
            OpCode::Sync => Some(8),
            OpCode::Ping => Some(21),
            OpCode::GetChildren2 => Some(7),
            OpCode::Check => Some(9),
            OpCode::Multi => Some(10),
            OpCode::Create2 => Some(0),
            OpCode::Reconfig => None,
            OpCode::CheckWatches => Some(15),
            OpCode::RemoveWatches => Some(14),
            OpCode::CreateContainer => Some(0),
            OpCode::DeleteContainer => None,
            OpCode::CreateTtl => Some(0),
            OpCode::MultiRead => Some(11),
            OpCode::Auth => Some(19),
            OpCode::SetWatches => Some(12),
            OpCode::Sasl => None,
            OpCode::GetEphemerals => Some(16),
            OpCode::GetAllChildrenNumber => Some(17),
            OpCode::SetWatches2 => Some(12),
            OpCode::AddWatch => Some(13),
            OpCode::WhoAmI => Some(18),
            OpCode::CreateSession => None,
            OpCode::CloseSession => Some(20),
            OpCode::Error => None,
        }
    }

    /// The labels of the latency histograms, by [`OpCode::metric`].
    pub const METRICS: [&'static str; 22] = [
        "create",
        "delete",
        "exists",
        "getData",
        "setData",
        "getACL",
        "setACL",
        "getChildren",
        "sync",
        "check",
        "multi",
        "multiRead",
        "setWatches",
        "addWatch",
        "removeWatches",
        "checkWatches",
        "getEphemerals",
        "getAllChildrenNumber",
        "whoAmI",
        "auth",
        "closeSession",
        "ping",
    ];

    /// Refused by a read-only server with NotReadOnly (ZooKeeper's
    /// ReadOnlyRequestProcessor): every change, and sync.
    pub const fn refused_read_only(self) -> bool {
        match self {
            OpCode::Notification => false,
            OpCode::Create => true,
            OpCode::Delete => true,
            OpCode::Exists => false,
            OpCode::GetData => false,
            OpCode::SetData => true,
            OpCode::GetAcl => false,
            OpCode::SetAcl => true,
            OpCode::GetChildren => false,
            OpCode::Sync => true,
            OpCode::Ping => false,
            OpCode::GetChildren2 => false,
            OpCode::Check => true,
            OpCode::Multi => true,
            OpCode::Create2 => true,
            OpCode::Reconfig => true,
            OpCode::CheckWatches => false,
            OpCode::RemoveWatches => false,
            OpCode::CreateContainer => true,
            OpCode::DeleteContainer => true,
            OpCode::CreateTtl => true,
            OpCode::MultiRead => false,
            OpCode::Auth => false,
            OpCode::SetWatches => false,
            OpCode::Sasl => false,
            OpCode::GetEphemerals => false,
            OpCode::GetAllChildrenNumber => false,
            OpCode::SetWatches2 => false,
            OpCode::AddWatch => false,
            OpCode::WhoAmI => false,
            OpCode::CreateSession => false,
            OpCode::CloseSession => false,
            OpCode::Error => false,
        }
    }

    /// Takes effect at arrival even behind the connection's writes in
    /// flight: writes (prepped, so they stream behind the earlier ones) and
    /// auth (so that a write sent after it is checked with its id, as
    /// ZooKeeper does). Their answers still go out in request order.
    pub const fn runs_at_arrival(self) -> bool {
        match self {
            OpCode::Notification => false,
            OpCode::Create => true,
            OpCode::Delete => true,
            OpCode::Exists => false,
            OpCode::GetData => false,
            OpCode::SetData => true,
            OpCode::GetAcl => false,
            OpCode::SetAcl => true,
            OpCode::GetChildren => false,
            OpCode::Sync => false,
            OpCode::Ping => false,
            OpCode::GetChildren2 => false,
            OpCode::Check => true,
            OpCode::Multi => true,
            OpCode::Create2 => true,
            OpCode::Reconfig => false,
            OpCode::CheckWatches => false,
            OpCode::RemoveWatches => false,
            OpCode::CreateContainer => true,
            OpCode::DeleteContainer => false,
            OpCode::CreateTtl => true,
            OpCode::MultiRead => false,
            OpCode::Auth => true,
            OpCode::SetWatches => false,
            OpCode::Sasl => false,
            OpCode::GetEphemerals => false,
            OpCode::GetAllChildrenNumber => false,
            OpCode::SetWatches2 => false,
            OpCode::AddWatch => false,
            OpCode::WhoAmI => false,
            OpCode::CreateSession => false,
            OpCode::CloseSession => true,
            OpCode::Error => false,
        }
    }
}

/// The wire codes, for encoders and patterns.
pub mod op {
    use super::OpCode;

    pub const NOTIFICATION: i32 = OpCode::Notification.code();
    pub const CREATE: i32 = OpCode::Create.code();
    pub const DELETE: i32 = OpCode::Delete.code();
    pub const EXISTS: i32 = OpCode::Exists.code();
    pub const GET_DATA: i32 = OpCode::GetData.code();
    pub const SET_DATA: i32 = OpCode::SetData.code();
    pub const GET_ACL: i32 = OpCode::GetAcl.code();
    pub const SET_ACL: i32 = OpCode::SetAcl.code();
    pub const GET_CHILDREN: i32 = OpCode::GetChildren.code();
    pub const SYNC: i32 = OpCode::Sync.code();
    pub const PING: i32 = OpCode::Ping.code();
    pub const GET_CHILDREN2: i32 = OpCode::GetChildren2.code();
    pub const CHECK: i32 = OpCode::Check.code();
    pub const MULTI: i32 = OpCode::Multi.code();
    pub const CREATE2: i32 = OpCode::Create2.code();
    pub const RECONFIG: i32 = OpCode::Reconfig.code();
    pub const CHECK_WATCHES: i32 = OpCode::CheckWatches.code();
    pub const REMOVE_WATCHES: i32 = OpCode::RemoveWatches.code();
    pub const CREATE_CONTAINER: i32 = OpCode::CreateContainer.code();
    pub const DELETE_CONTAINER: i32 = OpCode::DeleteContainer.code();
    pub const CREATE_TTL: i32 = OpCode::CreateTtl.code();
    pub const MULTI_READ: i32 = OpCode::MultiRead.code();
    pub const AUTH: i32 = OpCode::Auth.code();
    pub const SET_WATCHES: i32 = OpCode::SetWatches.code();
    pub const SASL: i32 = OpCode::Sasl.code();
    pub const GET_EPHEMERALS: i32 = OpCode::GetEphemerals.code();
    pub const GET_ALL_CHILDREN_NUMBER: i32 = OpCode::GetAllChildrenNumber.code();
    pub const SET_WATCHES2: i32 = OpCode::SetWatches2.code();
    pub const ADD_WATCH: i32 = OpCode::AddWatch.code();
    pub const WHO_AM_I: i32 = OpCode::WhoAmI.code();
    pub const CREATE_SESSION: i32 = OpCode::CreateSession.code();
    pub const CLOSE_SESSION: i32 = OpCode::CloseSession.code();
    pub const ERROR: i32 = OpCode::Error.code();
}

/// Error codes (`KeeperException.Code`).
pub mod err {
    pub const OK: i32 = 0;
    pub const RUNTIME_INCONSISTENCY: i32 = -2;
    pub const MARSHALLING_ERROR: i32 = -5;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NO_NODE: i32 = -101;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const NO_CHILDREN_FOR_EPHEMERALS: i32 = -108;
    pub const NODE_EXISTS: i32 = -110;
    pub const NOT_EMPTY: i32 = -111;
    pub const SESSION_EXPIRED: i32 = -112;
    pub const INVALID_ACL: i32 = -114;
    pub const AUTH_FAILED: i32 = -115;
    pub const SESSION_MOVED: i32 = -118;
    pub const NOT_READ_ONLY: i32 = -119;
    pub const NO_WATCHER: i32 = -121;
    pub const RECONFIG_DISABLED: i32 = -123;
    /// `enforce.auth.enabled` and the connection has no id of the schemes.
    pub const SESSION_CLOSED_REQUIRE_SASL_AUTH: i32 = -124;
    /// ZooKeeper 3.7+ `QuotaExceeded`; corral also answers it to a watch
    /// request past the per-connection watch limits.
    pub const QUOTA_EXCEEDED: i32 = -125;
}

/// Watch event types as sent in notifications.
pub mod event {
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    /// KeeperState SyncConnected: the only state a server sends.
    pub const SYNC_CONNECTED: i32 = 3;
}

/// Special xids.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
}

/// Permission bits.
pub mod perm {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// The node kind requested by a create (`CreateMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateMode {
    pub ephemeral: bool,
    pub sequential: bool,
    pub container: bool,
    pub ttl: bool,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        let m = |ephemeral, sequential, container, ttl| CreateMode {
            ephemeral,
            sequential,
            container,
            ttl,
        };
        Some(match flags {
            0 => m(false, false, false, false),
            1 => m(true, false, false, false),
            2 => m(false, true, false, false),
            3 => m(true, true, false, false),
            4 => m(false, false, true, false),
            5 => m(false, false, false, true),
            6 => m(false, true, false, true),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod opcode_tests {
    use super::*;

    #[test]
    fn opcodes_round_trip_and_their_tables_agree() {
        for o in OpCode::ALL {
            assert_eq!(OpCode::from_code(o.code()), Some(o), "{o:?}");
            if let Some(m) = o.metric() {
                assert!(m < OpCode::METRICS.len(), "{o:?}");
            }
        }
        // Every histogram label belongs to an opcode, and the opcodes that
        // share one are the variants of one request.
        for (i, label) in OpCode::METRICS.iter().enumerate() {
            let owners: Vec<OpCode> = OpCode::ALL
                .into_iter()
                .filter(|o| o.metric() == Some(i))
                .collect();
            assert!(
                owners.iter().any(|o| o.name() == *label),
                "{label}: {owners:?}"
            );
        }
        assert_eq!(OpCode::from_code(10), None);
        assert_eq!(OpCode::from_code(99), None);
        assert_eq!(OpCode::GetChildren2.last_op_tag(), Some("GETC"));
        assert_eq!(OpCode::GetAllChildrenNumber.last_op_tag(), Some("GETACN"));
        assert_eq!(OpCode::Auth.last_op_tag(), None);
        assert!(OpCode::Auth.runs_at_arrival() && OpCode::CloseSession.runs_at_arrival());
        assert!(!OpCode::GetData.runs_at_arrival() && !OpCode::Sync.runs_at_arrival());
    }
}
