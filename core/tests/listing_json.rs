//! Issue 20: `snapshot-list --json` (flat and `--tree`) and `snapshot-info
//! --json` of the `virsnap` CLI on every driver — test, qemu (real
//! qemu-img), esx (vcsim), vbox (a real VirtualBox 7.2 in the chroot) —
//! checked against docs/snapshot.schema.json by Python's `jsonschema`
//! (the python suite's venv installs it; `VIRSNAP_PYTHON` names another
//! interpreter). A document the schema must refuse is checked first, so
//! the checker cannot pass by accident.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;
mod qemu_common;
mod vbox_common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The most recently built CLI (`VIRSNAP_CLI` first).
fn cli() -> PathBuf {
    if let Some(p) = std::env::var_os("VIRSNAP_CLI").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("virsnap"))
        .filter_map(|p| std::fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
        .max()
        .map(|(_, p)| p)
        .expect("the virsnap CLI is required (cargo build -p virsnap-cli)")
}

fn python() -> PathBuf {
    std::env::var_os("VIRSNAP_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join("target/venv-python/bin/python"))
}

const CHECK: &str = "import json, sys, jsonschema\n\
schema = json.load(open(sys.argv[1]))\n\
jsonschema.Draft202012Validator.check_schema(schema)\n\
jsonschema.Draft202012Validator(schema).validate(json.loads(sys.stdin.read()))\n";

/// Validates `doc` against the schema: Ok, or the validator's message.
fn validate(doc: &str) -> Result<(), String> {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(CHECK)
        .arg(root().join("docs/snapshot.schema.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

fn assert_valid(what: &str, doc: &str) {
    if let Err(e) = validate(doc) {
        panic!("{what}: not valid against docs/snapshot.schema.json:\n{doc}\n{e}");
    }
}

/// The schema refuses what it must (the checker is live).
fn checker_is_live() {
    let good = r#"[{"name":"a","parent":null,"children":0,"creationTime":1,"state":"shutoff","current":true,"description":null,"uuid":null,"metadata":false,"memory":"no","location":"internal","disks":[]}]"#;
    assert_valid("a minimal listing", good);
    for bad in [
        good.replace("\"creationTime\":1", "\"creationTime\":\"1\""),
        good.replace("\"state\":\"shutoff\"", "\"state\":\"off\""),
        good.replace(",\"disks\":[]", ""),
        good.replace("\"disks\":[]", "\"disks\":[],\"extra\":1"),
    ] {
        assert!(validate(&bad).is_err(), "the schema accepts {bad}");
    }
}

/// Runs the CLI: stdout, asserting success.
fn run(uri: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = Command::new(cli());
    c.arg("-c").arg(uri).args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("run virsnap");
    let (so, se) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert!(o.status.success(), "virsnap {args:?}: {so}{se}");
    so
}

/// The three JSON outputs of domain `dom` (snapshot `snap`) are valid and
/// name `names`; returns the flat listing.
fn check_driver(what: &str, uri: &str, dom: &str, snap: &str, names: &[&str], env: &[(&str, &str)]) -> String {
    let flat = run(uri, &["snapshot-list", dom, "--json"], env);
    assert_valid(&format!("{what} snapshot-list --json"), &flat);
    for n in names {
        assert!(flat.contains(&format!("{{\"name\":\"{n}\"")), "{what}: {n} missing from {flat}");
    }
    assert_eq!(flat.lines().filter(|l| l.starts_with("{\"name\":")).count(), names.len(), "{what}: {flat}");
    let tree = run(uri, &["snapshot-list", dom, "--tree", "--json"], env);
    assert_valid(&format!("{what} snapshot-list --tree --json"), &tree);
    assert!(tree.contains("\"childSnapshots\":[{"), "{what}: nothing nested in {tree}");
    let info = run(uri, &["snapshot-info", dom, snap, "--json"], env);
    assert_valid(&format!("{what} snapshot-info --json"), &info);
    assert!(info.starts_with(&format!("{{\"name\":\"{snap}\"")), "{info}");
    flat
}

#[test]
#[cfg_attr(any(virsnap_no_python_venv, virsnap_no_cli_any), ignore = "needs the python suite's venv (jsonschema); the virsnap binary (cargo build -p virsnap-cli)")]
fn test_driver_json_matches_the_schema() {
    checker_is_live();
    // One session (the test driver lives in the process).
    let out = run(
        "test:///default",
        &["snapshot-create-as test a --description 'first \"one\"'; snapshot-create-as test b; snapshot-revert test a; snapshot-create-as test c; snapshot-list test --json; snapshot-list test --tree --json; snapshot-info test a --json; snapshot-list test --leaves --json; snapshot-list test --from a --json"],
        &[],
    );
    // Each command's output is followed by a blank line in a session.
    let docs: Vec<&str> = out.split("\n]\n").map(str::trim).collect();
    assert_eq!(docs.len(), 5, "{out}");
    let (flat, tree) = (format!("{}\n]\n", docs[0].trim_start_matches(|c| c != '[')), format!("{}\n]\n", docs[1]));
    assert_valid("test snapshot-list --json", &flat);
    assert!(flat.contains(r#""description":"first \"one\"""#), "{flat}");
    assert!(flat.contains(r#"{"name":"c","parent":"a","children":0"#) && flat.contains(r#""current":true"#), "{flat}");
    assert_valid("test snapshot-list --tree --json", &tree);
    assert!(tree.contains(r#""childSnapshots":[{"name":"b""#), "{tree}");
    let (info, leaves) = docs[2].split_once('\n').unwrap();
    let leaves = leaves.trim();
    assert_valid("test snapshot-info --json", info);
    assert!(info.contains(r#""domain":"test","descendants":2"#), "{info}");
    let leaves = format!("{leaves}\n]\n");
    assert_valid("test snapshot-list --leaves --json", &leaves);
    assert!(!leaves.contains(r#"{"name":"a""#) && leaves.contains(r#"{"name":"b""#), "filters apply: {leaves}");
}

#[test]
#[cfg_attr(any(virsnap_no_python_venv, virsnap_no_cli_any, virsnap_no_qemu), ignore = "needs the python suite's venv (jsonschema); the virsnap binary; qemu-img")]
fn qemu_json_matches_the_schema() {
    if qemu_common::skip() {
        return;
    }
    checker_is_live();
    let r = qemu_common::Root::new("json");
    let img = r.image("vm.qcow2");
    std::fs::write(r.dir.join("vm.xml"), qemu_common::Root::domain_xml("vm", &img)).unwrap();
    let uri = r.uri();
    let overlay = r.dir.join("vm.s2.qcow2");
    run(&uri, &["define", &r.dir.join("vm.xml").display().to_string()], &[]);
    run(&uri, &["snapshot-create-as", "vm", "s1", "--description", "internal one"], &[]);
    run(&uri, &["snapshot-create-as", "vm", "s2", "--disk-only", "--diskspec", &format!("vda,snapshot=external,file={}", overlay.display())], &[]);
    let flat = check_driver("qemu", &uri, "vm", "s1", &["s1", "s2"], &[]);
    assert!(flat.contains(&format!(r#""snapshot":"external","file":"{}""#, overlay.display())), "the external file is listed: {flat}");
    assert!(flat.contains(r#""description":"internal one""#), "{flat}");
}

#[test]
#[cfg_attr(any(virsnap_no_python_venv, virsnap_no_cli_any, virsnap_no_vcsim), ignore = "needs the python suite's venv (jsonschema); the virsnap binary; vcsim (tests/vcsim/build.sh)")]
fn esx_json_matches_the_schema() {
    checker_is_live();
    let Some(v) = esx_support::Vcsim::start("json") else { return };
    let dir = std::env::temp_dir().join(format!("virsnap-esx-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auth = dir.join("auth.conf");
    std::fs::write(&auth, "[credentials-sim]\nusername=root\npassword=pass\n\n[auth-esx-127.0.0.1]\ncredentials=sim\n").unwrap();
    let uri = format!("esx://{}/?transport=http&no_verify=1", v.addr);
    let env = [("LIBVIRT_AUTH_FILE", auth.to_str().unwrap())];
    let dom = esx_support::VM0.0;
    run(&uri, &["snapshot-create-as", dom, "e1", "--description", "on esx"], &env);
    run(&uri, &["snapshot-create-as", dom, "e2"], &env);
    check_driver("esx", &uri, dom, "e1", &["e1", "e2"], &env);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(any(virsnap_no_python_venv, virsnap_no_cli_any, virsnap_no_vbox), ignore = "needs the python suite's venv (jsonschema); the virsnap binary; the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn vbox_json_matches_the_schema() {
    checker_is_live();
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let name = format!("virsnap-json-{}", std::process::id());
    let vbm = |args: &[&str]| {
        let (rc, out, err) = vbox_common::vbm_in(&root, args);
        assert_eq!(rc, 0, "VBoxManage {args:?}: {out}{err}");
    };
    vbm(&["createvm", "--name", &name, "--ostype", "Linux_64", "--register"]);
    let command = format!("chroot {} env HOME=/root /usr/lib/virtualbox/VBoxManage", root.display());
    let env = [("VIRSNAP_VBOXMANAGE", command.as_str()), ("VIRSNAP_VBOX_ROOT", root.to_str().unwrap())];
    let result = std::panic::catch_unwind(|| {
        run("vbox:///session", &["snapshot-create-as", &name, "v1", "--description", "on vbox"], &env);
        run("vbox:///session", &["snapshot-create-as", &name, "v2"], &env);
        let flat = check_driver("vbox", "vbox:///session", &name, "v1", &["v1", "v2"], &env);
        assert!(flat.contains(r#""description":"on vbox""#), "{flat}");
    });
    let _ = vbox_common::vbm_in(&root, &["unregistervm", &name, "--delete-all"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
