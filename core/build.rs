//! Probes the components the integration tests need (see
//! ../tests/components/probe.rs): a missing one makes its tests ignored.

include!("../tests/components/probe.rs");

fn main() {
    emit_component_cfgs();
}
