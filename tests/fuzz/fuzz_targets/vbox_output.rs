//! What the vbox driver reads from VirtualBox: `VBoxManage snapshot list
//! --machinereadable`, `list vms`, `showvminfo --machinereadable`, the
//! "Snapshot taken" line, error text on stderr, and .vbox machine files.
//! No panic; tree queries stay within bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::vbox::parse;
use virsnap_core::drivers::vbox::settings;

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = virsnap_fuzz::split(data) else { return };
    match sel % 4 {
        0 => {
            if let Ok(l) = parse::parse_snapshot_list(text) {
                for i in 0..l.nodes.len().min(256) {
                    let _ = l.descendants(i);
                    let n = &l.nodes[i];
                    assert_eq!(l.find_name(&n.name).is_some(), true);
                }
            }
        }
        1 => {
            let _ = parse::parse_vm_list(text);
            let _ = parse::parse_vminfo(text);
        }
        2 => {
            let _ = parse::parse_taken(text);
            let _ = parse::parse_error(text);
            let _ = parse::parse_vbox_uuid(text);
            let _ = settings::parse_timestamp(text);
        }
        _ => {
            let _ = settings::parse_machine_file(text);
            if let Ok(mut m) = settings::VboxFile::parse(text) {
                let _ = m.to_text();
                let _ = m.is_old_dialect();
                let _ = m.set_last_state_change(0);
            }
        }
    }
});
