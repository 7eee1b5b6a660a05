//! Python reaching ESX: tests/vcsim/clients/esx_python.py (libvirt-python style,
//! `import virsnap as libvirt`) against vcsim, the tree read back after.
//! Skipped when no Python with the `virsnap` module is found
//! (`VIRSNAP_PYTHON`, else target/venv-python/bin/python from the python suite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::path::PathBuf;
use std::process::Command;

use esx_support::{Raw, Vcsim, VM0};

#[test]
#[cfg_attr(any(virsnap_no_vcsim, virsnap_no_python_venv), ignore = "needs vcsim (tests/vcsim/build.sh); the Python module venv (.ci/suites/python.sh)")]
fn python_module_snapshots_on_vcsim() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let py = std::env::var_os("VIRSNAP_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join("target/venv-python/bin/python"));
    let importable = Command::new(&py).args(["-c", "import virsnap"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(importable, "a Python with the virsnap module is required at {}", py.display());
    let Some(v) = Vcsim::start("python") else { return };
    let out = Command::new(&py)
        .arg(root.join("tests/vcsim/clients/esx_python.py"))
        .arg(format!("esx://{}/?transport=http", v.addr))
        .output()
        .expect("run python");
    println!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python script failed");
    assert_eq!(Raw::login(&v.addr).render(VM0.1), "p1(p3*)");
}
