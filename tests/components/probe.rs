// Build-time probe of the external components the tests need, shared by
// core/build.rs and cli/build.rs (`include!`d, no crate of its own).
//
// For each missing component the build script emits
// `cargo:rustc-cfg=virsnap_no_<name>`, and the tests that need it carry
// `#[cfg_attr(virsnap_no_<name>, ignore = "needs <what>")]`: cargo's summary
// then counts them as *ignored*, with the reason, instead of passing them.
// A test that runs requires its component and fails when it is absent.
//
// `VIRSNAP_REQUIRE_ALL=1` (set by .ci/lib.sh when `CI=true`) emits no such
// cfg: every test runs, so a missing component is a failure there.
//
// The probe reruns when VIRSNAP_REQUIRE_ALL changes or an installed
// component it found changes; it reads VIRSNAP_VCSIM, VIRSNAP_VBOX_CHROOT,
// VIRSNAP_LIBDIR and VIRSNAP_PYTHON as they are then. A component installed,
// or a workspace output (CLI binary, libvirsnap.so, Python venv, vcsim)
// built, *after* the probe ran is seen once the probe runs again:
// `touch core/build.rs cli/build.rs` (.ci/lib.sh's `reprobe_if_newer` does
// it when a component is newer than the last probe). Until then its tests
// stay ignored, never passed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every component cfg name, with what the test needs (for check-cfg).
const COMPONENTS: &[&str] = &[
    "qemu", "qemu_io", "libvirt", "libvirt_qemu", "virsh", "vcsim", "vbox", "cc", "openssl", "script",
    "cli_release", "cli_any", "capi_so", "python_venv", "bash_completion", "root", "libvirtd", "sshd",
];

/// The first `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

/// The repository root (the parent of the crate being built).
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Probes every component: `(name, Some(paths to watch))` when present.
fn probe() -> Vec<(&'static str, Option<Vec<PathBuf>>)> {
    let root = repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let all = |names: &[&str]| names.iter().map(|n| on_path(n)).collect::<Option<Vec<_>>>();
    let python = PathBuf::from("/usr/bin/python3");
    let libvirt = (python.is_file() && succeeds(Command::new(&python).args(["-c", "import libvirt"])))
        .then(|| vec![python.clone()]);
    let qemu_driver = PathBuf::from("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so");
    let vcsim = std::env::var_os("VIRSNAP_VCSIM").filter(|v| !v.is_empty()).map_or_else(|| root.join("target/vcsim/vcsim"), PathBuf::from);
    let chroot = PathBuf::from(std::env::var("VIRSNAP_VBOX_CHROOT").unwrap_or_else(|_| "/var/cache/virsnap/vbox-chroot".into()));
    let vbox = (chroot.join("usr/lib/virtualbox/VBoxManage").is_file() && chroot.join(".virsnap-ready").exists())
        .then(|| vec![chroot.join(".virsnap-ready")]);
    let libdir = std::env::var_os("VIRSNAP_LIBDIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/release"));
    let venv = std::env::var_os("VIRSNAP_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join("target/venv-python/bin/python"));
    let cli_any = ["release", "debug"].iter().map(|p| target.join(p).join("virsnap")).find(|p| p.is_file());
    // Build outputs of this workspace are probed but never watched: watching
    // them would rebuild this crate whenever they are rebuilt.
    vec![
        ("qemu", all(&["qemu-system-x86_64", "qemu-img"])),
        ("qemu_io", all(&["qemu-io"])),
        ("libvirt", libvirt),
        ("virsh", all(&["virsh"])),
        ("libvirt_qemu", all(&["virsh"]).and_then(|mut v| qemu_driver.is_file().then(|| { v.push(qemu_driver.clone()); v }))),
        ("vcsim", vcsim.is_file().then(Vec::new)),
        ("vbox", vbox),
        ("cc", all(&["cc"])),
        ("openssl", all(&["openssl"])),
        ("script", all(&["script"])),
        ("cli_release", root.join("target/release/virsnap").is_file().then(Vec::new)),
        ("cli_any", cli_any.map(|_| Vec::new())),
        ("capi_so", libdir.join("libvirsnap.so").is_file().then(Vec::new)),
        ("python_venv", venv.is_file().then(Vec::new)),
        // root: may mount a tmpfs (the full-filesystem tests).
        ("root", Command::new("id").arg("-u").output().ok().filter(|o| o.stdout.trim_ascii() == b"0").map(|_| Vec::new())),
        // libvirtd: a private daemon in a mount namespace (root, unshare; core/tests/remote_support).
        ("libvirtd", all(&["unshare"]).filter(|_| Path::new("/usr/sbin/libvirtd").is_file() && Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")).map(|mut v| { v.push(PathBuf::from("/usr/sbin/libvirtd")); v })),
        // sshd: a throw-away sshd on loopback for the remote driver's ssh transport (+ netcat, ssh-keygen).
        ("sshd", all(&["sshd", "ssh", "ssh-keygen", "nc"])),
        ("bash_completion", Some(PathBuf::from("/usr/share/bash-completion/bash_completion")).filter(|p| p.is_file()).map(|p| vec![p])),
    ]
}

/// Emits the cfgs and rerun conditions (call from `main` of a build script).
fn emit_component_cfgs() {
    for c in COMPONENTS {
        println!("cargo::rustc-check-cfg=cfg(virsnap_no_{c})");
    }
    // Only this variable: the suites set the others (VIRSNAP_VCSIM, ...) for
    // the tests, and a rerun would rebuild the crate.
    println!("cargo::rerun-if-env-changed=VIRSNAP_REQUIRE_ALL");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../tests/components/probe.rs");
    let require_all = std::env::var("VIRSNAP_REQUIRE_ALL").as_deref() == Ok("1");
    for (name, found) in probe() {
        match found {
            Some(paths) => {
                for p in paths {
                    println!("cargo::rerun-if-changed={}", p.display());
                }
            }
            None if require_all => println!("cargo::warning=component {name} is missing; VIRSNAP_REQUIRE_ALL=1: its tests will fail"),
            None => println!("cargo::rustc-cfg=virsnap_no_{name}"),
        }
    }
}
