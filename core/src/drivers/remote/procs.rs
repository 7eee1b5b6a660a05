//! Procedure numbers of `remote_protocol.x` (libvirt 9.0) this driver
//! calls. The numbers never change between libvirt releases.
#![allow(missing_docs)]

pub const CONNECT_OPEN: i32 = 1;
pub const CONNECT_CLOSE: i32 = 2;
pub const CONNECT_GET_TYPE: i32 = 3;
pub const CONNECT_GET_VERSION: i32 = 4;
pub const CONNECT_GET_MAX_VCPUS: i32 = 5;
pub const NODE_GET_INFO: i32 = 6;
pub const CONNECT_GET_CAPABILITIES: i32 = 7;
pub const DOMAIN_CREATE_XML: i32 = 10;
pub const DOMAIN_DESTROY: i32 = 12;
pub const DOMAIN_GET_XML_DESC: i32 = 14;
pub const DOMAIN_GET_INFO: i32 = 16;
pub const DOMAIN_GET_OS_TYPE: i32 = 19;
pub const DOMAIN_LOOKUP_BY_ID: i32 = 22;
pub const DOMAIN_LOOKUP_BY_NAME: i32 = 23;
pub const DOMAIN_LOOKUP_BY_UUID: i32 = 24;
pub const DOMAIN_RESUME: i32 = 28;
pub const DOMAIN_SHUTDOWN: i32 = 33;
pub const DOMAIN_SUSPEND: i32 = 34;
pub const DOMAIN_UNDEFINE: i32 = 35;
pub const CONNECT_GET_HOSTNAME: i32 = 59;
pub const AUTH_LIST: i32 = 66;
pub const AUTH_POLKIT: i32 = 70;
pub const NODE_GET_FREE_MEMORY: i32 = 102;
pub const CONNECT_GET_URI: i32 = 110;
pub const DOMAIN_GET_SECURITY_LABEL: i32 = 121;
pub const NODE_GET_SECURITY_MODEL: i32 = 122;
pub const DOMAIN_IS_PERSISTENT: i32 = 151;
pub const DOMAIN_SNAPSHOT_CREATE_XML: i32 = 185;
pub const DOMAIN_SNAPSHOT_GET_XML_DESC: i32 = 186;
pub const DOMAIN_SNAPSHOT_NUM: i32 = 187;
pub const DOMAIN_SNAPSHOT_LIST_NAMES: i32 = 188;
pub const DOMAIN_SNAPSHOT_LOOKUP_BY_NAME: i32 = 189;
pub const DOMAIN_HAS_CURRENT_SNAPSHOT: i32 = 190;
pub const DOMAIN_SNAPSHOT_CURRENT: i32 = 191;
pub const DOMAIN_REVERT_TO_SNAPSHOT: i32 = 192;
pub const DOMAIN_SNAPSHOT_DELETE: i32 = 193;
pub const DOMAIN_CREATE_WITH_FLAGS: i32 = 196;
pub const DOMAIN_GET_STATE: i32 = 212;
pub const CONNECT_GET_SYSINFO: i32 = 203;
pub const DOMAIN_UNDEFINE_FLAGS: i32 = 231;
pub const DOMAIN_DESTROY_FLAGS: i32 = 234;
pub const DOMAIN_SNAPSHOT_GET_PARENT: i32 = 244;
pub const DOMAIN_SNAPSHOT_NUM_CHILDREN: i32 = 246;
pub const DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES: i32 = 247;
pub const DOMAIN_SHUTDOWN_FLAGS: i32 = 258;
pub const DOMAIN_SNAPSHOT_IS_CURRENT: i32 = 271;
pub const DOMAIN_SNAPSHOT_HAS_METADATA: i32 = 272;
pub const CONNECT_LIST_ALL_DOMAINS: i32 = 273;
pub const DOMAIN_LIST_ALL_SNAPSHOTS: i32 = 274;
pub const DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN: i32 = 275;
pub const DOMAIN_DEFINE_XML_FLAGS: i32 = 350;

/// `remote_auth_type`.
pub const AUTH_NONE: i32 = 0;
pub const AUTH_SASL: i32 = 1;
pub const AUTH_POLKIT_TYPE: i32 = 2;

/// `REMOTE_DOMAIN_LIST_MAX`, `REMOTE_DOMAIN_SNAPSHOT_LIST_MAX` of libvirt 9.0.
pub const LIST_MAX: usize = 16_384;
