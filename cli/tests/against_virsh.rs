//! Byte-for-byte comparisons with the installed libvirt's `virsh` on
//! `test:///default` for output core's shared helpers produce: XML
//! escaping (virBufferEscapeString and libxml2's) and, under several `TZ`
//! values, snapshot creation times. Ignored (with the reason) when virsh
//! is not installed, as the repo's other component tests.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

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
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn xml_escaping_matches_virsh() {
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

/// snapshot-list's "Creation Time" column under many `TZ` values (zoneinfo
/// names and paths, POSIX rules, empty, invalid, unset) for times across
/// DST changes, 2038, 2100, LMT eras and the ends of GLib's year range.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn creation_times_match_virsh_under_tz() {
    let dom = run("virsh", &["dumpxml", "test"], &[]);
    assert_eq!(dom.0, 0);
    let dom = String::from_utf8(dom.1).expect("utf8");
    let dir = std::env::temp_dir().join(format!("virsnap-against-virsh-tz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("snap.xml");
    let f = file.to_str().expect("utf8");
    let line = format!("snapshot-create test --redefine {f}; snapshot-list test");
    let times: [i64; 12] = [
        0,
        15_000_000,
        1_272_917_631,
        1_751_328_000,
        1_795_630_999,
        2_147_483_648,
        4_102_444_800,
        -2_208_988_800,
        253_402_300_799,
        253_402_300_800,
        -62_135_596_801,
        -62_135_596_800,
    ];
    let zones: [Option<&str>; 14] = [
        None,
        Some(""),
        Some("UTC"),
        Some("America/New_York"),
        Some("EST5EDT"),
        Some(":Europe/Berlin"),
        Some("CET-1CEST,M3.5.0,M10.5.0/3"),
        Some("<+0530>-5:30"),
        Some("EST5"),
        Some("Foo/Bar"),
        Some(":"),
        Some("/usr/share/zoneinfo/Asia/Kolkata"),
        Some("Europe/London"),
        Some("Australia/Lord_Howe"),
    ];
    let mut differ = Vec::new();
    for t in times {
        std::fs::write(&file, format!("<domainsnapshot><name>s</name><state>shutoff</state><creationTime>{t}</creationTime>{dom}</domainsnapshot>")).expect("write");
        for tz in zones {
            let env = [("TZ", tz)];
            // GLib's "CRITICAL" line is compared without its pid and clock.
            let keep = |r: (i32, Vec<u8>, Vec<u8>)| {
                let err: String = String::from_utf8_lossy(&r.2)
                    .lines()
                    .map(|l| match l.split_once("): GLib-CRITICAL **: ") {
                        Some((_, rest)) => format!("(process:N): GLib-CRITICAL **: T:{}\n", rest.split_once(": ").map_or("", |x| x.1)),
                        None => format!("{l}\n"),
                    })
                    .collect();
                (r.0, String::from_utf8_lossy(&r.1).into_owned(), err)
            };
            let (want, got) = (keep(run("virsh", &[&line], &env)), keep(run(BIN, &[&line], &env)));
            if want != got {
                differ.push(format!("t={t} TZ={tz:?}\n  virsh:   {want:?}\n  virsnap: {got:?}"));
            }
        }
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert!(differ.is_empty(), "{} of {} cases differ:\n{}", differ.len(), times.len() * zones.len(), differ.join("\n"));
}

/// Checkpoints (kept by core's test driver now, not by the CLI), the
/// snapshot/checkpoint exclusion, dominfo's OS type and security lines,
/// and snapshot-info/-list read through core's typed getters.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn checkpoints_dominfo_and_snapshot_info_match_virsh() {
    let dir = std::env::temp_dir().join(format!("virsnap-against-virsh-ck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let d2 = dir.join("d2.xml");
    std::fs::write(&d2, "<domain type='test'><name>d2</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e1940</uuid><memory>8192</memory><os><type>hvm</type></os></domain>").expect("write");
    let d3 = dir.join("d3.xml");
    std::fs::write(
        &d3,
        "<domain type='test'><name>d3</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e1941</uuid><memory>8192</memory><os><type>hvm</type></os><devices>\
<disk type='file' device='disk'><source file='/guest/d3a'/><target dev='vda'/></disk>\
<disk type='file' device='disk'><source file='/guest/d3b'/><target dev='vdb'/></disk></devices></domain>",
    )
    .expect("write");
    let (d2, d3) = (d2.to_str().expect("utf8"), d3.to_str().expect("utf8"));
    let sessions = [
        "checkpoint-create-as test c1; snapshot-create-as test s1; checkpoint-create-as test c1; checkpoint-create-as test c2 --diskspec vdz; snapshot-list test".to_owned(),
        format!("define {d2}; checkpoint-create-as d2 k; dominfo d2; start d2; checkpoint-create-as d2 k; checkpoint-create-as d2 --name k2 --diskspec /guest/x; dominfo d2"),
        format!(
            "define {d3}; start d3; checkpoint-create-as d3 k --diskspec vdz; checkpoint-create-as d3 k --diskspec vda --diskspec vda; \
checkpoint-create-as d3 k --diskspec /guest/d3b,checkpoint=no; checkpoint-create-as d3 k; snapshot-create-as d3 s; \
snapshot-current d3; destroy d3; undefine d3 --checkpoints-metadata; dominfo d3"
        ),
        format!("define {d3}; start d3; checkpoint-create-as d3 k; destroy d3; undefine d3; define {d3}; start d3; snapshot-create-as d3 s; snapshot-list d3"),
        "snapshot-create-as test a; snapshot-create-as test b --disk-only --diskspec vda,snapshot=no; snapshot-create-as test c --memspec file=/tmp/m.img,snapshot=external --diskspec vda,snapshot=external,file=/tmp/c.img; \
snapshot-info test a; snapshot-info test b; snapshot-info test c; snapshot-info --current test; snapshot-list test --parent --name; snapshot-list test --tree; dominfo test"
            .to_owned(),
    ];
    let mask = |r: (i32, Vec<u8>, Vec<u8>)| {
        let out: String = String::from_utf8_lossy(&r.1)
            .lines()
            .map(|l| if l.starts_with("CPU time:") { "CPU time: N\n".to_owned() } else { format!("{l}\n") })
            .collect();
        // Creation times differ by when each program ran.
        let shape = |w: &str, sep: u8| w.len() >= 8 && w.as_bytes()[2] == sep && w.as_bytes()[5] == sep || w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-';
        let out = out.split(' ').map(|w| if shape(w, b':') { "TIME" } else { w }).collect::<Vec<_>>().join(" ");
        (r.0, out, String::from_utf8_lossy(&r.2).into_owned())
    };
    for line in &sessions {
        let want = mask(run("virsh", &[line], &[]));
        let got = mask(run(BIN, &[line], &[]));
        assert_eq!(got, want, "virsnap differs from virsh on: {line}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// XML that is not UTF-8 is refused by libvirt's parser only after the
/// checks made before parsing (read-only, checkpoints, snapshots, state):
/// core answers those (`*_create_check`), the CLI the encoding error.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn non_utf8_xml_errors_come_after_state_checks() {
    use std::os::unix::ffi::OsStrExt;
    let sessions: [&[u8]; 4] = [
        b"checkpoint-create-as test c; snapshot-create-as test --name a\xffb",
        b"snapshot-create-as test s; checkpoint-create-as test --name c\xff",
        b"checkpoint-create-as test --name c\xff",
        b"snapshot-create-as test --name a\xffb",
    ];
    for ro in [false, true] {
        for s in sessions {
            let out = |prog: &str| {
                let mut c = Command::new(prog);
                c.args(["-q", "-c", "test:///default"]).env_remove("LIBVIRT_DEFAULT_URI");
                if ro {
                    c.arg("-r");
                }
                let o = c.arg(std::ffi::OsStr::from_bytes(s)).output().expect("run");
                (o.status.code(), o.stdout, o.stderr)
            };
            let (want, got) = (out("virsh"), out(BIN));
            assert_eq!(
                (got.0, String::from_utf8_lossy(&got.1), String::from_utf8_lossy(&got.2)),
                (want.0, String::from_utf8_lossy(&want.1), String::from_utf8_lossy(&want.2)),
                "{} (read-only: {ro})",
                String::from_utf8_lossy(s)
            );
        }
    }
}
