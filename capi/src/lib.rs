//! libvirsnap: the C ABI of virsnap, a drop-in for libvirt's domain snapshot API.
//!
//! Every export follows the project's FFI rules (the design's style guide, §8):
//! - the body is one call to [`boundary::entry`], which resets the thread's last
//!   error, catches panics, stores a libvirt `virError` and returns libvirt's
//!   failure sentinel (−1 or NULL);
//! - handles are registry keys ([`handles`]), never dereferenced, so NULL,
//!   stale, double-freed and forged pointers give `VIR_ERR_INVALID_*`;
//! - every string or array handed to the caller comes from `malloc` and is
//!   released with `free()`.
//!
//! Modules, one per API family: [`connect`], [`domain`], [`domain_snapshot`],
//! [`errors`], [`extensions`] (virsnap 0.1 seed calls) and [`flags`] (enums for
//! the header only); [`unsupported`] holds the generated rest of libvirt 9.0's
//! public ABI (each entry point fails with `VIR_ERR_NO_SUPPORT`).
#![allow(non_camel_case_types, non_snake_case)]

pub mod auth_default;
pub mod boundary;
pub mod connect;
pub mod connect_info;
pub mod domain;
pub mod domain_event;
pub mod domain_snapshot;
pub mod errors;
pub mod event;
pub mod extensions;
pub mod flags;
pub mod handles;
pub mod health;
pub mod jobs;
pub mod qemu;
pub mod types;
pub mod unsupported;
pub mod usage;

#[cfg(test)]
mod tests;

pub use errors::{_virError, virError, virErrorFunc, virErrorPtr};
pub use types::*;
