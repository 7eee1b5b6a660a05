//! Shared by the differential tests: a scenario interpreter for virsnap that
//! prints exactly what tests/data/scenario_libvirt.py prints for libvirt.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use virsnap_core::{Connection, Domain, Error};

pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub fn json_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(", "))
}

pub fn mask_time(x: &str) -> String {
    let mut out = String::new();
    let mut rest = x;
    while let Some(i) = rest.find("<creationTime>") {
        out.push_str(&rest[..i + 14]);
        rest = &rest[i + 14..];
        let end = rest.find('<').unwrap_or(rest.len());
        out.push('T');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

pub fn run(dom: &Domain, op: &str, a: &[&str]) -> Result<String, Error> {
    let int = |i: usize| a[i].parse::<u32>().expect("flags");
    let snap = |n: &str| dom.snapshot_lookup_by_name(n, 0);
    let sorted = |mut v: Vec<String>, flags: u32| {
        if flags & 1024 == 0 {
            v.sort();
        }
        v
    };
    Ok(match op {
        "state" => {
            let (s, r) = dom.state(0)?;
            format!("[{}, {r}]", s as i32)
        }
        "hascurrent" => i32::from(dom.has_current_snapshot(int(0))?).to_string(),
        "current" => json_str(&dom.snapshot_current(int(0))?.name()),
        "num" => dom.snapshot_num(int(0))?.to_string(),
        "create" => json_str(&dom.snapshot_create_xml(a[0], int(1))?.name()),
        "redefine" => {
            let xml = snap(a[0])?.xml_desc(1)?;
            json_str(&dom.snapshot_create_xml(&xml, int(1))?.name())
        }
        "xml" => json_str(&mask_time(&snap(a[0])?.xml_desc(int(1))?)),
        "parent" => json_str(&snap(a[0])?.parent(int(1))?.name()),
        "iscurrent" => i32::from(snap(a[0])?.is_current(int(1))?).to_string(),
        "hasmeta" => i32::from(snap(a[0])?.has_metadata(int(1))?).to_string(),
        "list" => {
            let f = int(0);
            let num = dom.snapshot_num(f)?;
            let names = sorted(dom.snapshot_list_names(f)?, f);
            let all = sorted(dom.list_all_snapshots(f)?.iter().map(|s| s.name().to_string()).collect(), f);
            format!("[{}, {}, {num}]", json_list(&names), json_list(&all))
        }
        "children" => {
            let s = snap(a[0])?;
            let f = int(1);
            // libvirt-python's listChildrenNames counts first.
            s.num_children(f)?;
            let names = sorted(s.list_children_names(f)?, f);
            let all = sorted(s.list_all_children(f)?.iter().map(|s| s.name().to_string()).collect(), f);
            format!("[{}, {}]", json_list(&names), json_list(&all))
        }
        "numchildren" => snap(a[0])?.num_children(int(1))?.to_string(),
        "lookup" => json_str(&dom.snapshot_lookup_by_name(a[0], int(1))?.name()),
        "revert" => {
            snap(a[0])?.revert(int(1))?;
            "0".into()
        }
        "delete" => {
            snap(a[0])?.delete(int(1))?;
            "0".into()
        }
        "destroy" => dom.destroy(0).map(|()| "0".into())?,
        "start" => dom.create(0).map(|()| "0".into())?,
        "suspend" => dom.suspend().map(|()| "0".into())?,
        "resume" => dom.resume().map(|()| "0".into())?,
        "undefine" => dom.undefine(int(0)).map(|()| "0".into())?,
        "definexml" => {
            let d = dom.connection().define_xml(a[0], 0)?;
            let xml = d.xml_desc(0);
            d.undefine(0)?;
            json_str(&xml?)
        }
        other => panic!("unknown op {other}"),
    })
}

/// Runs the scenario on virsnap, formatted as scenario_libvirt.py prints it.
pub fn run_virsnap(script: &str) -> String {
    let mut conn = Connection::open(Some("test:///default")).expect("open");
    let mut dom = conn.lookup_by_name("test").expect("domain");
    let mut out = String::new();
    for line in script.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "reset" {
            drop(dom);
            drop(conn);
            conn = Connection::open(Some("test:///default")).expect("open");
            dom = conn.lookup_by_name("test").expect("domain");
            continue;
        }
        let mut parts = line.split(" | ");
        let op = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        let res = match run(&dom, op, &args) {
            Ok(v) => v,
            Err(e) => format!("ERR {} {} {}", e.code as i32, e.domain as i32, json_str(&e.message)),
        };
        out.push_str(&format!("{line}\n  => {res}\n"));
    }
    out
}


/// True when real libvirt-python is installed for /usr/bin/python3.
pub fn have_libvirt() -> bool {
    Command::new("/usr/bin/python3").args(["-c", "import libvirt"]).output().is_ok_and(|o| o.status.success())
}

/// The test data folder.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Runs `script` through real libvirt. A run in which the reference dies
/// of a signal (libvirt crashed) is rerun, up to 5 times: a crash of the
/// reference is never counted as virsnap's difference.
pub fn run_libvirt(script: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let path = std::env::temp_dir().join(format!("virsnap-scenario-{}-{:?}.txt", std::process::id(), std::thread::current().id()));
    std::fs::write(&path, script).expect("write scenario");
    let mut attempt = 1;
    let out = loop {
        let out = Command::new("/usr/bin/python3")
            .arg(data_dir().join("scenario_libvirt.py"))
            .arg("libvirt")
            .arg(&path)
            .output()
            .expect("run python3");
        match out.status.signal() {
            Some(sig) if attempt < 5 => println!("reference libvirt died of signal {sig} (attempt {attempt}); rerunning"),
            Some(sig) => panic!("reference libvirt died of signal {sig} {attempt} times; nothing compared"),
            None => break out,
        }
        attempt += 1;
    };
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Compares two transcripts line by line; returns the differences.
pub fn diff(theirs: &str, ours: &str) -> Vec<String> {
    let (o, t): (Vec<_>, Vec<_>) = (ours.lines().collect(), theirs.lines().collect());
    let mut diffs = Vec::new();
    for (i, (a, b)) in o.iter().zip(t.iter()).enumerate() {
        if a != b {
            let ctx = if i > 0 { t[i - 1] } else { "" };
            diffs.push(format!("line {} (after {ctx}):\n  libvirt: {b}\n  virsnap: {a}", i + 1));
        }
    }
    if o.len() != t.len() {
        diffs.push(format!("line counts differ: libvirt {} virsnap {}", t.len(), o.len()));
    }
    diffs
}
