//! Snapshot tree (being written).
