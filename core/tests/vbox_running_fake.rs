//! Running-VM paths, which no real VirtualBox can exercise here (no
//! /dev/vboxdrv): the commands the driver issues, checked against an
//! in-process FAKE (a state machine answering in the captured output
//! formats). This checks command construction and state checks only, not
//! VirtualBox's behaviour.

#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::sync::{Arc, Mutex};

use vbox_common::*;
use virsnap_core::drivers::vbox::{Output, Runner, VboxDriver};
use virsnap_core::drivers::{DomainRef, Driver};
use virsnap_core::flags::{create, domain as domf, revert};
use virsnap_core::model::DomainState;
use virsnap_core::uuid::Uuid;
use virsnap_core::{ErrorCode, Result};

#[derive(Default)]
struct Vm {
    state: &'static str,
    calls: Vec<String>,
}

struct Fake(Arc<Mutex<Vm>>);

const GOLDEN: &str = "11111111-2222-3333-4444-555555555555";

impl Runner for Fake {
    fn run(&self, args: &[String]) -> Result<Output> {
        let mut vm = self.0.lock().unwrap();
        vm.calls.push(args.join(" "));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let ok = |s: &str| Ok(Output { code: 0, stdout: s.to_owned(), stderr: String::new() });
        let online = matches!(vm.state, "running" | "paused");
        match a.as_slice() {
            ["list", "vms"] => ok(&format!("\"golden\" {{{GOLDEN}}}\n")),
            ["list", "runningvms"] => ok(&if online { format!("\"golden\" {{{GOLDEN}}}\n") } else { String::new() }),
            ["showvminfo", _, "--machinereadable"] => {
                let base = read(&transcripts().join("22-showvminfo-mr.stdout"));
                ok(&base.replace("VMState=\"poweroff\"", &format!("VMState=\"{}\"", vm.state)))
            }
            ["snapshot", _, "list", "--machinereadable"] => ok(&read(&transcripts().join("14-list-mr.stdout"))),
            ["snapshot", _, "take", ..] => ok("Snapshot taken. UUID: 6d59d5e0-8b4e-4570-ba97-07355affc2bc\n"),
            ["snapshot", _, "restore", _] => ok("Restoring snapshot\n"),
            ["startvm", _, "--type", "headless"] => {
                vm.state = "running";
                ok("Waiting for VM \"golden\" to power on...\nVM \"golden\" has been successfully started.\n")
            }
            ["controlvm", _, "pause"] => {
                vm.state = "paused";
                ok("")
            }
            ["controlvm", _, "resume"] => {
                vm.state = "running";
                ok("")
            }
            ["controlvm", _, "poweroff" | "acpipowerbutton"] => {
                vm.state = "poweroff";
                ok("")
            }
            _ => Ok(Output { code: 1, stdout: String::new(), stderr: format!("fake: unexpected {a:?}") }),
        }
    }
}

fn setup(state: &'static str) -> (VboxDriver, DomainRef, Arc<Mutex<Vm>>) {
    let vm = Arc::new(Mutex::new(Vm { state, calls: Vec::new() }));
    let drv = VboxDriver::with_runner(Box::new(Fake(vm.clone())));
    let dom = DomainRef { name: "golden".into(), uuid: Uuid::parse(GOLDEN).unwrap(), id: -1 };
    (drv, dom, vm)
}

fn mutating(vm: &Mutex<Vm>) -> Vec<String> {
    vm.lock()
        .unwrap()
        .calls
        .iter()
        .filter(|c| !c.starts_with("list ") && !c.starts_with("showvminfo") && !c.ends_with("list --machinereadable"))
        .map(|c| c.replace(GOLDEN, "VM"))
        .collect()
}

#[test]
fn lifecycle_commands() {
    let (drv, dom, vm) = setup("poweroff");
    drv.domain_create(&dom, domf::START_PAUSED).unwrap();
    assert_eq!(drv.domain_state(&dom).unwrap().0, DomainState::Paused);
    assert_eq!(drv.domain_create(&dom, 0).unwrap_err().code, ErrorCode::OperationInvalid);
    drv.domain_resume(&dom).unwrap();
    assert_eq!(drv.domain_state(&dom).unwrap().0, DomainState::Running);
    assert_eq!(drv.domain_resume(&dom).unwrap_err().code, ErrorCode::OperationInvalid);
    drv.domain_suspend(&dom).unwrap();
    drv.domain_destroy(&dom, 0).unwrap();
    assert_eq!(drv.domain_state(&dom).unwrap().0, DomainState::Shutoff);
    drv.domain_create(&dom, 0).unwrap();
    drv.domain_shutdown(&dom, 0).unwrap();
    assert_eq!(
        mutating(&vm),
        [
            "startvm VM --type headless",
            "controlvm VM pause",
            "controlvm VM resume",
            "controlvm VM pause",
            "controlvm VM poweroff",
            "startvm VM --type headless",
            "controlvm VM acpipowerbutton",
        ]
    );
    // A running domain is listed first with an id.
    drv.domain_create(&dom, 0).unwrap();
    let d = drv.list_domains().unwrap();
    assert_eq!(d[0].id, 1);
    assert_eq!(drv.lookup_domain_by_id(1).unwrap().name, "golden");
}

#[test]
fn snapshots_of_a_running_machine() {
    let (drv, dom, vm) = setup("running");
    drv.snapshot_create_xml(&dom, "<domainsnapshot><name>live</name></domainsnapshot>", create::LIVE).unwrap();
    drv.snapshot_create_xml(&dom, "<domainsnapshot><name>halt</name></domainsnapshot>", create::HALT).unwrap();
    assert_eq!(mutating(&vm), ["snapshot VM take live --live", "snapshot VM take halt", "controlvm VM poweroff"]);
    vm.lock().unwrap().calls.clear();
    // Revert refuses a running machine (VirtualBox restores only when off).
    drv.domain_create(&dom, 0).unwrap();
    let e = drv.snapshot_revert(&dom, "s1", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    drv.domain_destroy(&dom, 0).unwrap();
    vm.lock().unwrap().calls.clear();
    // REVERT_RUNNING / REVERT_PAUSED start the machine afterwards.
    drv.snapshot_revert(&dom, "s1", revert::RUNNING).unwrap();
    drv.domain_destroy(&dom, 0).unwrap();
    drv.snapshot_revert(&dom, "s1", revert::PAUSED).unwrap();
    assert_eq!(
        mutating(&vm),
        [
            "snapshot VM restore 50cbacaf-0e21-428a-958e-bb96338b29a3",
            "startvm VM --type headless",
            "controlvm VM poweroff",
            "snapshot VM restore 50cbacaf-0e21-428a-958e-bb96338b29a3",
            "startvm VM --type headless",
            "controlvm VM pause",
        ]
    );
    // Start from a snapshot (the seed's virDomainCreateFromSnapshot).
    drv.domain_destroy(&dom, 0).unwrap();
    vm.lock().unwrap().calls.clear();
    drv.snapshot_create_from(&dom, "s1", 0).unwrap();
    assert_eq!(mutating(&vm), ["snapshot VM restore 50cbacaf-0e21-428a-958e-bb96338b29a3", "startvm VM --type headless"]);
    assert_eq!(drv.domain_state(&dom).unwrap().0, DomainState::Running);
}
