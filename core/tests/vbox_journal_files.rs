//! VirtualBox journals planted by a hostile user (issue 15 item 1 on the
//! vbox driver): opening `vbox:///session` finishes what a crashed REDEFINE
//! left; a journal naming a file that is not that machine's `.vbox` file
//! must not make it overwrite that file. VBoxManage is a stand-in script
//! here (no machine registered, `registervm` fails), so recovery reaches
//! the step that writes the kept original text back.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use virsnap_core::Connection;

#[test]
fn a_planted_redefine_journal_cannot_overwrite_another_file() {
    let dir = std::env::temp_dir().join(format!("vsv-journal-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let state = dir.join("state");
    fs::create_dir_all(&state).unwrap();
    let fake = dir.join("VBoxManage");
    fs::write(&fake, "#!/bin/sh\ncase \"$1\" in list) exit 0;; *) echo 'VBoxManage: error: fake' >&2; exit 1;; esac\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let victim = dir.join("victim");
    fs::write(&victim, "precious").unwrap();
    let vbox = dir.join("m.vbox");
    fs::write(&vbox, "precious too").unwrap();
    let uuid = "0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7";
    // The host path written beside VirtualBox's path points elsewhere; the
    // .vbox path itself holds no machine of this UUID.
    fs::write(state.join(format!("{uuid}.pending")), format!("{}\n{}\n999999999\n", vbox.display(), victim.display())).unwrap();
    fs::write(state.join(format!("{uuid}.orig")), "owned").unwrap();
    unsafe_env(&state, &fake);
    let c = Connection::open(Some("vbox:///session"));
    assert!(c.is_ok(), "{:?}", c.err());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_to_string(&vbox).unwrap(), "precious too");
    fs::remove_dir_all(&dir).unwrap();
}

fn unsafe_env(state: &std::path::Path, fake: &std::path::Path) {
    // Edition 2024: set_var is unsafe; the test binary has one test and
    // sets these before anything reads the environment concurrently.
    // SAFETY: single-threaded at this point (one test in this binary, no
    // other thread started yet reads or writes the environment).
    unsafe {
        std::env::set_var("VIRSNAP_VBOX_STATE_DIR", state);
        std::env::set_var("VIRSNAP_VBOXMANAGE", fake);
        std::env::remove_var("VIRSNAP_VBOX_ROOT");
    }
}
