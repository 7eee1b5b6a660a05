//! libvirt 9.0's `qemudomainsnapshotxml2xmltest` cases, run against virsnap's
//! parser and formatter (flags per case from shared/conformance/libvirt/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use virsnap_core::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags};

fn conformance_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("VIRSNAP_CONFORMANCE").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/libvirt")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/libvirt")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("qemudomainsnapshotxml2xmlout").is_dir())
}

#[derive(Clone, Copy)]
enum Kind {
    Out,
    InOut,
    In,
}

struct Case {
    kind: Kind,
    file: &'static str,
    redefine: bool,
    internal: bool,
    uuid: Option<&'static str>,
    time: i64,
    running: bool,
}

const U1: &str = "9d37b878-a7cc-9f9a-b78f-49b3abad25a8";
const U2: &str = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
const U3: &str = "14beef2c-8cae-4ea8-bf55-e48fe0cd4b73";

fn cases() -> Vec<Case> {
    let out = |file, internal, uuid| Case { kind: Kind::Out, file, redefine: true, internal, uuid, time: 0, running: false };
    let inout = |file, uuid, time| Case { kind: Kind::InOut, file, redefine: false, internal: false, uuid, time, running: false };
    let inn = |file| Case { kind: Kind::In, file, redefine: false, internal: false, uuid: None, time: 0, running: false };
    vec![
        out("all_parameters", true, Some(U1)),
        out("disk_snapshot_redefine", true, Some(U2)),
        out("full_domain", true, Some(U2)),
        out("noparent_nodescription_noactive", false, None),
        out("noparent_nodescription", true, None),
        out("noparent", false, Some(U1)),
        out("metadata", false, Some(U2)),
        out("external_vm_redefine", false, Some(U2)),
        out("memory-snapshot-inactivedomain", false, Some(U3)),
        inout("empty", Some(U1), 1_386_166_249),
        Case { running: true, ..inout("noparent", Some(U1), 1_272_917_631) },
        inout("external_vm", None, 1_555_419_243),
        inout("disk_snapshot", None, 1_555_419_243),
        inout("disk_driver_name_null", None, 1_555_419_243),
        inout("disk-seclabel", Some(U1), 581_484_660),
        inout("qcow2-metadata-cache", Some(U1), 1_386_166_249),
        inn("name_and_description"),
        inn("description_only"),
        inn("name_only"),
    ]
}

#[test]
fn xml2xml_every_libvirt_file_matches() {
    let Some(dir) = conformance_dir() else {
        println!("SKIP: shared/conformance/libvirt not found (set VIRSNAP_CONFORMANCE)");
        return;
    };
    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        let (input, expected) = match c.kind {
            Kind::Out => (dir.join("qemudomainsnapshotxml2xmlout"), dir.join("qemudomainsnapshotxml2xmlout")),
            Kind::InOut => (dir.join("qemudomainsnapshotxml2xmlin"), dir.join("qemudomainsnapshotxml2xmlout")),
            Kind::In => (dir.join("qemudomainsnapshotxml2xmlin"), dir.join("qemudomainsnapshotxml2xmlin")),
        };
        let file = format!("{}.xml", c.file);
        let src = std::fs::read_to_string(input.join(&file)).expect("read input");
        let want = std::fs::read_to_string(expected.join(&file)).expect("read expected");
        let mut def = match parse_snapshot(&src, ParseFlags { redefine: c.redefine, internal: c.internal }) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{file}: parse failed: {}", e.message));
                continue;
            }
        };
        if !c.redefine && c.time != 0 {
            def.creation_time = c.time;
            if def.name.is_none() {
                def.name = Some(c.time.to_string());
            }
        }
        if c.running {
            assert!(def.state.is_none(), "{file}: state already parsed");
            def.state = Some(virsnap_core::model::SnapshotState::Running);
        }
        let current = def.active == Some(true);
        let got = format_snapshot(&def, c.uuid, FormatFlags { secure: true, internal: c.internal, current });
        if got != want {
            failures.push(format!("{file}: output differs\n--- want\n{want}--- got\n{got}"));
        }
    }
    println!("{}/{} files match", cases.len() - failures.len(), cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
