//! virsnap-core: libvirt's domain snapshot API re-implemented in Rust.
//!
//! Layers, from the caller down:
//! - [`connect`]: the public API (`Connection`, `Domain`, `Snapshot`). It makes
//!   libvirt's entry-point checks once (read-only, flag groups, NULL-equivalents)
//!   and dispatches to a driver.
//! - [`drivers`]: one [`drivers::Driver`] trait; `test`, `qemu`, `esx`, `vbox`.
//! - [`model`], [`xml`], [`tree`], [`store`]: the snapshot definition, its
//!   libvirt-exact XML, the in-memory snapshot tree and the crash-safe store.
//! - [`error`]: libvirt's error codes, domains and message templates.
#![forbid(unsafe_code)]

pub mod connect;
pub mod drivers;
pub mod error;
pub mod events;
pub mod flags;
pub mod fsio;
pub mod health;
pub mod host;
pub mod job;
pub mod model;
pub mod names;
pub mod qcow2;
pub mod report;
pub mod store;
pub mod time;
pub mod tree;
pub mod usage;
pub mod uuid;
pub mod xml;

pub use connect::{Connection, Domain, Snapshot};
pub use error::{Error, ErrorCode, ErrorDomain, Result};
pub use usage::SnapshotUsage;
