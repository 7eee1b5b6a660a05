//! vSphere SOAP responses as the ESX driver reads them: the envelope
//! parser, faults, the snapshot tree (`VirtualMachineSnapshotInfo`, which
//! the driver walks recursively) and dateTime values. No panic, no stack
//! overflow, bounded work.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::esx::soap::{self, parse_datetime, MoRef, Reply};
use virsnap_core::drivers::esx::tree::{snapshot_uuid, Tree};
use virsnap_core::uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Some(xml) = virsnap_fuzz::text(data) else { return };
    let _ = parse_datetime(xml);
    let node = match soap::parse_reply(xml) {
        Ok(Reply::Ok(n)) => n,
        Ok(Reply::Fault(f)) => {
            let _ = f.describe();
            return;
        }
        Err(_) => match soap::parse(xml) {
            Ok(n) => n,
            Err(_) => return,
        },
    };
    let _ = MoRef::from_node(&node);
    // The snapshot property wherever it sits in the reply.
    let mut stack = vec![&node];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        if n.name == "val" || n.name == "snapshot" || n.name == "returnval" {
            let t = Tree::from_info(Some(n));
            let dom = Uuid::parse("c7a5fdbd-edaf-9455-926a-d65c16db1809").unwrap_or_default();
            let _ = t.current_index();
            for flags in [0u32, 1, 2, 4, 8, 16, 1024] {
                let _ = t.list(flags);
            }
            for i in 0..t.len().min(64) {
                let _ = t.list_children(i, 0);
                let _ = t.list_children(i, 1);
                let u = t.uuid_of(&dom, i);
                let _ = t.find_uuid(&dom, &u);
            }
            let _ = snapshot_uuid(&dom, i64::MAX);
        }
        stack.extend(n.children.iter());
    }
});
