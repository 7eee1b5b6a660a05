//! The C ABI reaching ESX: tests/vcsim/clients/esx_capi.c, written against
//! libvirt's headers, compiled against include/ and linked to the built
//! libvirsnap, run against vcsim; the server's tree is read back after.
//! Skipped when the library (`VIRSNAP_LIBDIR`, else target/release) or a C
//! compiler is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::path::PathBuf;
use std::process::Command;

use esx_support::{Raw, Vcsim, VM0};

#[test]
#[cfg_attr(any(virsnap_no_vcsim, virsnap_no_capi_so, virsnap_no_cc), ignore = "needs vcsim (tests/vcsim/build.sh); target/release/libvirsnap.so (cargo build --release -p virsnap-capi); a C compiler (cc)")]
fn c_program_snapshots_on_vcsim() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let libdir = std::env::var_os("VIRSNAP_LIBDIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/release"));
    assert!(libdir.join("libvirsnap.so").exists(), "libvirsnap.so is required in {}", libdir.display());
    let Some(v) = Vcsim::start("capi") else { return };
    let exe = std::env::temp_dir().join(format!("virsnap-esx-capi-{}", std::process::id()));
    let cc = Command::new("cc")
        .args(["-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(root.join("tests/vcsim/clients/esx_capi.c"))
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-L{}", libdir.display()))
        .arg("-lvirsnap")
        .output();
    let cc = cc.expect("a C compiler (cc) is required");
    assert!(cc.status.success(), "cc failed: {}", String::from_utf8_lossy(&cc.stderr));
    // The library's SONAME is libvirsnap.so.0; cargo alone makes only
    // libvirsnap.so (capi/build-so.sh adds the versioned names).
    let sodir = std::env::temp_dir().join(format!("virsnap-esx-capi-lib-{}", std::process::id()));
    std::fs::create_dir_all(&sodir).unwrap();
    let so0 = sodir.join("libvirsnap.so.0");
    let _ = std::fs::remove_file(&so0);
    let real = if libdir.join("libvirsnap.so.0").exists() { libdir.join("libvirsnap.so.0") } else { libdir.join("libvirsnap.so") };
    std::os::unix::fs::symlink(std::fs::canonicalize(real).unwrap(), &so0).unwrap();
    let out = Command::new(&exe)
        .arg(format!("esx://{}/?transport=http", v.addr))
        .env("LD_LIBRARY_PATH", &sodir)
        .output()
        .expect("run the C program");
    let _ = std::fs::remove_file(&exe);
    let _ = std::fs::remove_dir_all(&sodir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "C program failed");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok: ")).count(), 15);
    assert_eq!(Raw::login(&v.addr).render(VM0.1), "c1*");
}
