//! The VBoxManage parsers and error mapping on every real VirtualBox 7.2.22
//! output captured in tests/vbox/transcripts (its README).
#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::collections::BTreeMap;

use vbox_common::*;
use virsnap_core::drivers::vbox::cli::Output;
use virsnap_core::drivers::vbox::errors::{to_error, Ctx};
use virsnap_core::drivers::vbox::parse::{parse_snapshot_list, parse_taken, parse_vm_list, parse_vminfo};
use virsnap_core::drivers::vbox::settings::parse_machine_file;
use virsnap_core::drivers::DomainRef;
use virsnap_core::uuid::Uuid;
use virsnap_core::ErrorCode;

struct Step {
    name: String,
    cmd: String,
    out: Output,
}

fn steps() -> Vec<Step> {
    let dir = transcripts();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".cmd").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() >= 87, "expected the 87+ captured steps, found {}", names.len());
    names
        .into_iter()
        .map(|n| {
            let r = |ext: &str| read(&dir.join(format!("{n}.{ext}")));
            Step {
                cmd: r("cmd"),
                out: Output { code: r("rc").trim().parse().unwrap(), stdout: r("stdout"), stderr: r("stderr") },
                name: n,
            }
        })
        .collect()
}

fn step_no(name: &str) -> u32 {
    name[..2].parse().unwrap()
}

/// The `.vbox` VirtualBox had when step `n` ran (the last file written before it).
fn file_before(n: u32) -> Option<String> {
    if n >= 91 {
        return Some(read(&conformance().join("vbox72-settings/golden.final.vbox")));
    }
    if (75..=90).contains(&n) {
        return None; // locked-session steps changed it without a captured file
    }
    let dir = conformance().join("vbox72-cli/vbox-after-step");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_owned))
        .filter(|f| f.ends_with(".vbox") && step_no(f) < n)
        .collect();
    files.sort();
    files.last().map(|f| read(&dir.join(f)))
}

fn is_listing(s: &Step) -> bool {
    s.out.code == 0
        && s.cmd.contains("--machinereadable")
        && (s.cmd.contains(" list ") || s.cmd.contains("showvminfo golden"))
}

#[test]
fn every_listing_matches_the_vbox_file_virtualbox_wrote() {
    let mut checked = 0;
    for s in steps().iter().filter(|s| is_listing(s)) {
        let l = parse_snapshot_list(&s.out.stdout).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        if s.cmd.contains("showvminfo") {
            let info = parse_vminfo(&s.out.stdout).unwrap();
            assert_eq!(info.uuid, Uuid::parse("11111111-2222-3333-4444-555555555555"), "{}", s.name);
            assert!(info.cfg_file.as_deref().unwrap().ends_with("/golden/golden.vbox"));
            assert!(["poweroff", "saved"].contains(&info.state.as_str()), "{}: {}", s.name, info.state);
            assert_eq!(info.state == "saved", info.state_file.is_some());
        }
        let Some(text) = file_before(step_no(&s.name)) else { continue };
        let f = parse_machine_file(&text).unwrap();
        let uuids: Vec<Uuid> = l.nodes.iter().map(|n| n.uuid).collect();
        assert_eq!(uuids, f.order, "{}: pre-order UUIDs", s.name);
        for n in &l.nodes {
            let fs = &f.snapshots[&n.uuid];
            assert_eq!(n.name, fs.name, "{}: name", s.name);
            assert_eq!(n.description, fs.description.clone().filter(|d| !d.is_empty()), "{}: description", s.name);
            assert_eq!(n.parent.map(|p| l.nodes[p].uuid), fs.parent, "{}: parent of {}", s.name, n.name);
        }
        assert_eq!(l.current.map(|c| l.nodes[c].uuid), f.current, "{}: current", s.name);
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} listings checked");
}

#[test]
fn unescaped_names_descriptions_and_current_mid_listing() {
    let all = steps();
    let get = |n: &str| &all.iter().find(|s| s.name == n).unwrap().out;
    let l = parse_snapshot_list(&get("20-list-mr-weird").stdout).unwrap();
    let names: Vec<&str> = l.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s2", "s3", "we\"ird = name"]);
    assert_eq!(l.nodes[3].description.as_deref(), Some("has \"quotes\" = and\na second line"));
    assert_eq!(l.find_name("s2"), Some(1), "first s2 in depth-first order");
    assert_eq!(l.current, Some(4));
    // Current* lines right after the root, before its children (step 95).
    let l = parse_snapshot_list(&get("95-list-mr-final").stdout).unwrap();
    assert_eq!(l.current, Some(0));
    assert_eq!(l.nodes.len(), 10);
    assert_eq!(l.nodes.last().unwrap().name, "", "empty name (step 91)");
    let root_children: Vec<&str> = l.nodes[0].children.iter().map(|&c| l.nodes[c].name.as_str()).collect();
    assert_eq!(root_children, ["weird-renamed", "s2-renamed", ""]);
    // showvminfo: the same block followed by other keys.
    let l = parse_snapshot_list(&get("22-showvminfo-mr").stdout).unwrap();
    assert_eq!(l.nodes.len(), 5);
    assert_eq!(l.nodes[4].name, "we\"ird = name");
}

#[test]
fn no_snapshots_is_an_empty_listing_not_an_error() {
    let all = steps();
    for n in ["07-list-none", "08-list-none-mr", "09-restorecurrent-none"] {
        let o = &all.iter().find(|s| s.name == n).unwrap().out;
        assert_eq!(o.code, 1);
        assert!(o.is_no_snapshots(), "{n}");
    }
}

#[test]
fn vm_lists_skip_the_wrappers_warning() {
    let all = steps();
    for n in ["43-list-vms", "90-wrapper-list-vms-without-vboxdrv"] {
        let v = parse_vm_list(&all.iter().find(|s| s.name == n).unwrap().out.stdout);
        let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["snaptest", "golden"], "{n}");
    }
    assert!(parse_vm_list(&all.iter().find(|s| s.name == "44-list-runningvms").unwrap().out.stdout).is_empty());
}

#[test]
fn take_prints_the_new_uuid() {
    let all = steps();
    let mut n = 0;
    for s in all.iter().filter(|s| s.cmd.contains(" take ") && s.out.code == 0) {
        let id = parse_taken(&s.out.stdout).unwrap_or_else(|| panic!("{}", s.name));
        let after = after_step(&s.name);
        if after.exists() {
            let f = parse_machine_file(&read(&after)).unwrap();
            assert_eq!(f.current, Some(id), "{}: the new snapshot is current", s.name);
        }
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn every_failure_maps_to_a_libvirt_error_by_code() {
    let dom = DomainRef {
        name: "golden".into(),
        uuid: Uuid::parse("11111111-2222-3333-4444-555555555555").unwrap(),
        id: -1,
    };
    let expect: BTreeMap<&str, ErrorCode> = [
        ("25-snapshot-showvminfo-extra", ErrorCode::OperationFailed),
        ("32-take-uniq-bad", ErrorCode::InternalError),
        ("33-take-live-offvm", ErrorCode::OperationInvalid),
        ("35-delete-current-leaf", ErrorCode::NoDomainSnapshot),
        ("37-delete-2children", ErrorCode::OperationInvalid),
        ("38-restore-missing", ErrorCode::NoDomainSnapshot),
        ("39-delete-missing", ErrorCode::NoDomainSnapshot),
        ("40-take-noname", ErrorCode::OperationFailed),
        ("41-bad-subcommand", ErrorCode::OperationFailed),
        ("42-unknown-vm", ErrorCode::NoDomain),
        ("45-showvminfo-missing", ErrorCode::NoDomain),
        ("46-startvm-headless", ErrorCode::OperationFailed),
        ("47-controlvm-poweroff", ErrorCode::OperationFailed),
        ("48-controlvm-pause", ErrorCode::OperationFailed),
        ("49-controlvm-resume", ErrorCode::OperationFailed),
        ("50-controlvm-savestate", ErrorCode::OperationFailed),
        ("64-edit-missing", ErrorCode::NoDomainSnapshot),
        ("81-locked-modifyvm", ErrorCode::OperationInvalid),
        ("82-locked-startvm", ErrorCode::OperationInvalid),
    ]
    .into_iter()
    .collect();
    let mut seen = 0;
    for s in steps().iter().filter(|s| s.out.code != 0 && !s.out.is_no_snapshots()) {
        let want = *expect.get(s.name.as_str()).unwrap_or_else(|| panic!("unexpected failing step {}", s.name));
        let e = to_error(&s.out, Ctx::Snapshot(&dom, "x"));
        assert_eq!(e.code, want, "{}: {}", s.name, e.message);
        assert_eq!(e.domain, virsnap_core::ErrorDomain::Vbox);
        assert!(!e.message.contains("Context:"), "{}", e.message);
        seen += 1;
    }
    assert_eq!(seen, expect.len());
    // The snapshot-not-found wording is libvirt's.
    let s = steps().into_iter().find(|s| s.name == "38-restore-missing").unwrap();
    assert_eq!(
        to_error(&s.out, Ctx::Snapshot(&dom, "nosuch")).message,
        "Domain snapshot not found: no domain snapshot with matching name 'nosuch'"
    );
    let s = steps().into_iter().find(|s| s.name == "37-delete-2children").unwrap();
    assert!(to_error(&s.out, Ctx::Plain).message.contains("VBOX_E_INVALID_OBJECT_STATE"));
}

#[test]
fn libvirt_vbox_files_parse_in_the_old_dialect() {
    let mut n = 0;
    for p in libvirt_vbox_file_list() {
        let f = parse_machine_file(&read(&p)).unwrap();
        assert!(f.uuid.is_some(), "{}", p.display());
        let expect = match p.file_name().unwrap().to_str().unwrap() {
            "2disks-nosnap.vbox" => 0,
            "2disks-1snap.vbox" => 1,
            "2disks-2snap.vbox" => 2,
            "2disks-3snap.vbox" => 3,
            _ => 4,
        };
        assert_eq!(f.order.len(), expect, "{}", p.display());
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn vbox_files_round_trip_byte_for_byte() {
    use virsnap_core::drivers::vbox::settings::VboxFile;
    let mut files: Vec<std::path::PathBuf> = libvirt_vbox_file_list();
    files.extend(std::fs::read_dir(conformance().join("vbox72-cli/vbox-after-step")).unwrap().map(|e| e.unwrap().path()));
    files.push(conformance().join("vbox72-settings/golden.final.vbox"));
    files.push(conformance().join("vbox72-settings/golden.final.vbox-prev"));
    assert!(files.len() >= 35);
    for p in files {
        let text = read(&p);
        let mut f = VboxFile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(f.to_text(), text, "{}", p.display());
        // libvirt's harness: identical except lastStateChange.
        f.set_last_state_change(0).unwrap();
        let mask = |s: &str| {
            let i = s.find("lastStateChange=\"").unwrap();
            let j = s[i + 17..].find('"').unwrap();
            format!("{}{}", &s[..i], &s[i + 17 + j..])
        };
        assert_eq!(mask(&f.to_text()), mask(&text), "{}", p.display());
        assert!(f.to_text().contains("lastStateChange=\"1970-01-01T00:00:00Z\""));
    }
}

#[test]
fn redefined_snapshots_are_written_in_both_dialects() {
    use virsnap_core::drivers::vbox::settings::{NewSnapshot, VboxFile};
    let cases = [
        (libvirt_vbox_files().join("2disks-3snap.vbox"), true),
        (conformance().join("vbox72-settings/golden.final.vbox"), false),
    ];
    for (p, old) in cases {
        let text = read(&p);
        let before = parse_machine_file(&text).unwrap();
        let mut f = VboxFile::parse(&text).unwrap();
        assert_eq!(f.is_old_dialect(), old);
        let parent = *before.order.last().unwrap();
        let snap = NewSnapshot {
            uuid: Uuid::parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").unwrap(),
            name: "re<def>".into(),
            description: Some("a & b".into()),
            time: 1_000_000_000,
        };
        f.add_snapshot(Some(&parent), &snap).unwrap();
        let out = f.to_text();
        let after = parse_machine_file(&out).unwrap();
        assert_eq!(after.order.len(), before.order.len() + 1);
        let s = &after.snapshots[&snap.uuid];
        assert_eq!((s.name.as_str(), s.description.as_deref(), s.time, s.parent), ("re<def>", Some("a & b"), 1_000_000_000, Some(parent)));
        assert!(!out.contains("<AttachedDevice type=\"HardDisk\" hotpluggable=\"false\" port=\"0\" device=\"0\">\n                  <Image uuid=\"{aaaa"));
        // Everything else is untouched, and a second write is stable.
        assert_eq!(VboxFile::parse(&out).unwrap().to_text(), out);
        assert_eq!(after.current, before.current);
        // A second root is refused.
        let e = VboxFile::parse(&text).unwrap().add_snapshot(None, &snap).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        if old {
            // libvirt's layout: <StorageControllers> copied beside <Hardware>.
            let i = out.find("name=\"re&lt;def&gt;\"").unwrap();
            assert!(out[i..].find("<StorageControllers>").unwrap() < out[i..].find("</Snapshot>").unwrap());
        }
    }
    let nosnap = read(&libvirt_vbox_files().join("2disks-nosnap.vbox"));
    let mut f = VboxFile::parse(&nosnap).unwrap();
    let snap = NewSnapshot { uuid: Uuid::parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").unwrap(), name: "root".into(), description: None, time: 0 };
    f.add_snapshot(None, &snap).unwrap();
    assert_eq!(parse_machine_file(&f.to_text()).unwrap().order, [snap.uuid]);
}
