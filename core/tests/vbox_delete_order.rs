//! Leaf-first deletion (VirtualBox deletes one snapshot at a time and
//! refuses one with two children), checked with an in-process fake runner
//! that lists the real captured tree of step 20 and records what is deleted.
#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::sync::{Arc, Mutex};

use vbox_common::*;
use virsnap_core::drivers::vbox::{Output, Runner, VboxDriver};
use virsnap_core::drivers::{DomainRef, Driver};
use virsnap_core::flags::delete;
use virsnap_core::uuid::Uuid;
use virsnap_core::Result;

struct Fake {
    listing: String,
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Runner for Fake {
    fn run(&self, args: &[String]) -> Result<Output> {
        self.calls.lock().unwrap().push(args.to_vec());
        let stdout = if args.get(2).map(String::as_str) == Some("list") { self.listing.clone() } else { String::new() };
        Ok(Output { code: 0, stdout, stderr: String::new() })
    }
}

fn setup() -> (VboxDriver, DomainRef, Arc<Mutex<Vec<Vec<String>>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let listing = read(&transcripts().join("20-list-mr-weird.stdout"));
    let drv = VboxDriver::with_runner(Box::new(Fake { listing, calls: calls.clone() }));
    let dom = DomainRef { name: "golden".into(), uuid: Uuid::parse("11111111-2222-3333-4444-555555555555").unwrap(), id: -1 };
    (drv, dom, calls)
}

fn deleted(calls: &Mutex<Vec<Vec<String>>>) -> Vec<String> {
    calls.lock().unwrap().iter().filter(|c| c[2] == "delete").map(|c| c[3][..8].to_owned()).collect()
}

// Tree (step 20): s1(50cbacaf) → { s2(21f85aa9) → s2(296e38c7), s3(c7d7ab7e) → weird(fab0e616) }.

#[test]
fn children_are_deleted_leaf_first_by_uuid() {
    let (drv, dom, calls) = setup();
    drv.snapshot_delete(&dom, "s1", delete::CHILDREN).unwrap();
    assert_eq!(deleted(&calls), ["fab0e616", "c7d7ab7e", "296e38c7", "21f85aa9", "50cbacaf"]);
}

#[test]
fn children_only_keeps_the_snapshot() {
    let (drv, dom, calls) = setup();
    drv.snapshot_delete(&dom, "s3", delete::CHILDREN_ONLY).unwrap();
    assert_eq!(deleted(&calls), ["fab0e616"]);
    calls.lock().unwrap().clear();
    drv.snapshot_delete(&dom, "s2", 0).unwrap();
    assert_eq!(deleted(&calls), ["21f85aa9"], "the first s2 in depth-first order");
}

#[test]
fn delete_all_goes_through_the_roots() {
    let (drv, dom, calls) = setup();
    assert_eq!(drv.snapshot_delete_all(&dom, 0).unwrap(), 5);
    assert_eq!(deleted(&calls).len(), 5);
    assert_eq!(deleted(&calls).last().unwrap(), "50cbacaf");
}

#[test]
fn names_starting_with_a_dash_are_taken_then_renamed() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    struct Taker(Arc<Mutex<Vec<Vec<String>>>>);
    impl Runner for Taker {
        fn run(&self, args: &[String]) -> Result<Output> {
            self.0.lock().unwrap().push(args.to_vec());
            let stdout = if args.get(2).map(String::as_str) == Some("take") {
                "Snapshot taken. UUID: 6d59d5e0-8b4e-4570-ba97-07355affc2bc\n".to_owned()
            } else {
                String::new()
            };
            Ok(Output { code: 0, stdout, stderr: String::new() })
        }
    }
    let drv = VboxDriver::with_runner(Box::new(Taker(calls.clone())));
    let dom = DomainRef { name: "golden".into(), uuid: Uuid::parse("11111111-2222-3333-4444-555555555555").unwrap(), id: -1 };
    let name = drv.snapshot_create_xml(&dom, "<domainsnapshot><name>-x</name><description>--live</description></domainsnapshot>", 0).unwrap();
    assert_eq!(name, "-x");
    let c: Vec<Vec<String>> = calls.lock().unwrap().iter().filter(|c| c[2] != "list").cloned().collect();
    assert!(c[0][3].starts_with("virsnap-"), "{:?}", c[0]);
    assert_eq!(c[0][4], "--description=--live");
    assert_eq!(c[1], ["snapshot", "11111111-2222-3333-4444-555555555555", "edit", "6d59d5e0-8b4e-4570-ba97-07355affc2bc", "--name=-x"]);
}
