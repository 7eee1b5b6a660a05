//! The `virsnap` CLI against vcsim, as the acceptance asks:
//! snapshot-create-as / snapshot-list --tree / snapshot-revert /
//! snapshot-delete / snapshot-delete-all, credentials from auth.conf, the
//! server's tree read back independently after every step. Skipped when
//! the CLI binary is not built (`VIRSNAP_CLI`, else target/release/virsnap).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::path::PathBuf;
use std::process::Command;

use esx_support::{Raw, Vcsim, VM0};

fn cli() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIRSNAP_CLI").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/virsnap");
    p.exists().then_some(p)
}

struct Cli {
    bin: PathBuf,
    uri: String,
    auth_file: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .env("LIBVIRT_AUTH_FILE", &self.auth_file)
            .output()
            .expect("run virsnap");
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("$ virsnap {}\n{so}{se}", args.join(" "));
        (out.status.success(), so, se)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, so, se) = self.run(args);
        assert!(ok, "virsnap {args:?} failed: {se}");
        so
    }
}

#[test]
#[cfg_attr(any(virsnap_no_vcsim, virsnap_no_cli_release), ignore = "needs vcsim (tests/vcsim/build.sh); target/release/virsnap (cargo build --release -p virsnap-cli)")]
fn cli_acceptance_against_vcsim() {
    let bin = cli().expect("the virsnap CLI is required (cargo build --release -p virsnap-cli)");
    let Some(v) = Vcsim::start("cli") else { return };
    let raw = Raw::login(&v.addr);
    let dir = std::env::temp_dir().join(format!("virsnap-esx-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auth_file = dir.join("auth.conf");
    std::fs::write(&auth_file, "[credentials-sim]\nusername=root\npassword=pass\n\n[auth-esx-127.0.0.1]\ncredentials=sim\n").unwrap();
    let c = Cli { bin, uri: format!("esx://{}/?transport=http&no_verify=1", v.addr), auth_file };
    let dom = VM0.0;

    let list = c.ok(&["list", "--all"]);
    assert!(list.contains(" 9    ha-host_VM0   running"), "{list}");

    assert_eq!(c.ok(&["snapshot-create-as", dom, "s1", "--description", "first"]).trim(), "Domain snapshot s1 created");
    assert_eq!(raw.render(VM0.1), "s1*");
    c.ok(&["snapshot-create-as", dom, "s2"]);
    assert_eq!(raw.render(VM0.1), "s1(s2*)");
    assert_eq!(c.ok(&["snapshot-revert", dom, "s1"]).trim(), "Domain snapshot s1 reverted");
    assert_eq!(raw.render(VM0.1), "s1*(s2)");
    c.ok(&["snapshot-create-as", dom, "s3"]);
    assert_eq!(raw.render(VM0.1), "s1(s2,s3*)");

    let tree = c.ok(&["snapshot-list", dom, "--tree"]);
    assert_eq!(tree, "s1\n  |\n  +- s2\n  +- s3\n    \n\n");
    let names = c.ok(&["snapshot-list", dom, "--name"]);
    assert_eq!(names.split_whitespace().collect::<Vec<_>>(), ["s1", "s2", "s3"]);
    let cur = c.ok(&["snapshot-current", dom, "--name"]);
    assert_eq!(cur.trim(), "s3");
    let xml = c.ok(&["snapshot-dumpxml", dom, "s1"]);
    assert!(xml.contains("<description>first</description>"), "{xml}");

    let (ok, _, err) = c.run(&["snapshot-rename", dom, "s1", "renamed"]);
    assert!(!ok && err.contains("not supported"), "{err}");
    assert!(raw.find(VM0.1, "renamed").is_none());

    assert_eq!(c.ok(&["snapshot-delete", dom, "s2"]).trim(), "Domain snapshot s2 deleted");
    assert_eq!(raw.render(VM0.1), "s1(s3*)");
    c.ok(&["snapshot-revert", dom, "--current"]);
    assert_eq!(raw.render(VM0.1), "s1(s3*)");
    c.ok(&["snapshot-delete-all", dom]);
    assert_eq!(raw.render(VM0.1), "");
    let (ok, _, err) = c.run(&["snapshot-current", dom]);
    assert!(!ok && err.starts_with("error:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
