//! Snapshot commands (virsh 9.0's `virsh-snapshot.c`, call for call) and the
//! seed's: start-with-snapshot, snapshot-delete modes, snapshot-delete-all,
//! snapshot-rename. Also `checkpoint-create-as` (core's test driver keeps
//! checkpoints; checkpoints and snapshots exclude each other).

use virsnap_core::flags::{create as cf, delete as delf, list as lf, revert as rf, xml as xf};
use virsnap_core::{Domain, Error, ErrorCode, ErrorDomain, Snapshot};

use std::io::Write as _;

use crate::Ctl;
use crate::domain::{BYANY, lookup, lv, opt_str};
use crate::parse::Cmd;
use crate::util;

/// `virshLookupSnapshot`: the snapshot named by option `arg`, or the current one.
fn lookup_snapshot(
    ctl: &mut Ctl,
    cmd: &Cmd,
    arg: &str,
    exclusive: bool,
    dom: &Domain,
) -> Option<Snapshot> {
    let current = cmd.has("current");
    let name = opt_str(ctl, cmd, arg).ok()?;
    if exclusive && current && name.is_some() {
        ctl.error(&format!("--{arg} and --current are mutually exclusive"));
        return None;
    }
    let r = if let Some(n) = name {
        dom.snapshot_lookup_by_name(n, 0)
    } else if current {
        dom.snapshot_current(0)
    } else {
        ctl.error(&format!("--{arg} or --current is required"));
        return None;
    };
    match r {
        Ok(s) => Some(s),
        Err(e) => {
            ctl.save(e);
            ctl.report_error();
            None
        }
    }
}

/// `virshSnapshotCreate`.
fn create(ctl: &mut Ctl, dom: &Domain, xml: &str, flags: u32, from: Option<&str>, verbose: bool) -> bool {
    // libvirt's parser refuses XML that is not UTF-8, after the checks
    // core makes before it reads the XML (read-only, flags, checkpoints)
    if let Some(e) = crate::rawbytes::xml_error(xml, "domain_snapshot", ErrorDomain::DomainSnapshot) {
        ctl.save(dom.snapshot_create_check(flags).err().unwrap_or(e));
        return false;
    }
    let snap = lv!(ctl, crate::jobs::watched(ctl, dom, verbose, || dom.snapshot_create_xml(xml, flags)));
    if flags & cf::HALT != 0 && dom.is_active().unwrap_or(false) {
        ctl.error("domain was not halted");
        return false;
    }
    let name = snap.name();
    match from {
        Some(f) => ctl.print_extra(&format!("Domain snapshot {name} created from '{f}'")),
        None => ctl.print_extra(&format!("Domain snapshot {name} created")),
    }
    true
}

fn create_flags(cmd: &Cmd) -> u32 {
    let mut flags = 0;
    for (o, f) in [
        ("redefine", cf::REDEFINE),
        ("current", cf::CURRENT),
        ("no-metadata", cf::NO_METADATA),
        ("halt", cf::HALT),
        ("disk-only", cf::DISK_ONLY),
        ("reuse-external", cf::REUSE_EXT),
        ("quiesce", cf::QUIESCE),
        ("atomic", cf::ATOMIC),
        ("live", cf::LIVE),
        ("validate", cf::VALIDATE),
    ] {
        if cmd.def.opts.iter().any(|d| d.name == o) && cmd.has(o) {
            flags |= f;
        }
    }
    flags
}

pub fn cmd_create(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let flags = create_flags(cmd);
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Ok(from) = opt_str(ctl, cmd, "xmlfile") else {
        return false;
    };
    let xml = match from {
        None => "<domainsnapshot/>".to_owned(),
        Some(f) => match util::read_file(f) {
            Ok(x) => x,
            Err(m) => {
                ctl.error(&m);
                return false;
            }
        },
    };
    create(ctl, &dom, &xml, flags, from, false)
}

fn memspec(ctl: &mut Ctl, buf: &mut String, s: &str) -> bool {
    let arr = util::string_to_array(s);
    let (mut snapshot, mut file): (Option<String>, Option<String>) = (None, None);
    let mut ok = !s.is_empty();
    for a in &arr {
        if snapshot.is_none() && a.starts_with("snapshot=") {
            snapshot = Some(a["snapshot=".len()..].to_owned());
        } else if file.is_none() && a.starts_with("file=") {
            file = Some(a["file=".len()..].to_owned());
        } else if file.is_none() && a.starts_with('/') {
            file = Some(a.clone());
        } else {
            ok = false;
            break;
        }
    }
    if !ok {
        ctl.error(&format!("unable to parse memspec: {s}"));
        return false;
    }
    buf.push_str("  <memory");
    if let Some(v) = snapshot {
        buf.push_str(&format!(" snapshot='{}'", util::xml_escape(&v)));
    }
    if let Some(v) = file {
        buf.push_str(&format!(" file='{}'", util::xml_escape(&v)));
    }
    buf.push_str("/>\n");
    true
}

fn diskspec(ctl: &mut Ctl, buf: &mut String, s: &str) -> bool {
    let arr = util::string_to_array(s);
    let mut ok = !s.is_empty();
    let (mut snapshot, mut driver, mut stype, mut file) = (None, None, None, None);
    for a in arr.iter().skip(1) {
        if snapshot.is_none() && a.starts_with("snapshot=") {
            snapshot = Some(&a["snapshot=".len()..]);
        } else if driver.is_none() && a.starts_with("driver=") {
            driver = Some(&a["driver=".len()..]);
        } else if stype.is_none() && a.starts_with("stype=") {
            stype = Some(&a["stype=".len()..]);
        } else if file.is_none() && a.starts_with("file=") {
            file = Some(&a["file=".len()..]);
        } else {
            ok = false;
            break;
        }
    }
    let mut is_file = true;
    if ok {
        let mut d = format!("    <disk name='{}'", util::xml_escape(&arr[0]));
        if let Some(v) = snapshot {
            d.push_str(&format!(" snapshot='{v}'"));
        }
        if let Some(t) = stype {
            if t == "block" {
                is_file = false;
            } else if t != "file" {
                ctl.error(&format!("Unknown storage type: '{t}'"));
                ok = false;
            }
            d.push_str(&format!(" type='{t}'"));
        }
        if ok {
            if driver.is_some() || file.is_some() {
                d.push_str(">\n");
                if let Some(v) = driver {
                    d.push_str(&format!("      <driver type='{v}'/>\n"));
                }
                if let Some(v) = file {
                    let attr = if is_file { "file" } else { "dev" };
                    d.push_str(&format!(
                        "      <source {attr}='{}'/>\n",
                        util::xml_escape(v)
                    ));
                }
                d.push_str("    </disk>\n");
            } else {
                d.push_str("/>\n");
            }
            buf.push_str(&d);
        }
    }
    if !ok {
        ctl.error(&format!("unable to parse diskspec: {s}"));
    }
    ok
}

/// Reads `--name` and `--description` and opens `<ROOT>` with them: the
/// start of snapshot-create-as's and checkpoint-create-as's XML.
fn start_doc<'a>(ctl: &mut Ctl, cmd: &'a Cmd, root: &str) -> Option<(String, Option<&'a str>)> {
    let name = opt_str(ctl, cmd, "name").ok()?;
    let desc = opt_str(ctl, cmd, "description").ok()?;
    let mut buf = format!("<{root}>\n");
    if let Some(n) = name {
        buf.push_str(&format!("  <name>{}</name>\n", util::xml_escape(n)));
    }
    if let Some(d) = desc {
        buf.push_str(&format!("  <description>{}</description>\n", util::xml_escape(d)));
    }
    Some((buf, name))
}

pub fn cmd_create_as(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let flags = create_flags(cmd);
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some((mut buf, _)) = start_doc(ctl, cmd, "domainsnapshot") else {
        return false;
    };
    let Ok(mem) = opt_str(ctl, cmd, "memspec") else {
        return false;
    };
    if let Some(m) = mem
        && !memspec(ctl, &mut buf, m)
    {
        return false;
    }
    if cmd.has("diskspec") {
        buf.push_str("  <disks>\n");
        for d in cmd.argv("diskspec") {
            if !diskspec(ctl, &mut buf, d) {
                return false;
            }
        }
        buf.push_str("  </disks>\n");
    }
    buf.push_str("</domainsnapshot>\n");
    if cmd.has("print-xml") {
        ctl.print(&format!("{buf}\n"));
        return true;
    }
    create(ctl, &dom, &buf, flags, None, cmd.has("verbose"))
}

pub fn cmd_current(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    if !crate::shell::exclusive(ctl, cmd, "name", "snapshotname") {
        return false;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let flags = if cmd.has("security-info") {
        xf::SECURE
    } else {
        0
    };
    let Ok(snapname) = opt_str(ctl, cmd, "snapshotname") else {
        return false;
    };
    if let Some(sn) = snapname {
        let snap = lv!(ctl, dom.snapshot_lookup_by_name(sn, 0));
        let xml = lv!(ctl, snap.xml_desc(xf::SECURE));
        let mut cflags = cf::REDEFINE | cf::CURRENT;
        if xml.contains("<state>disk-snapshot</state>") {
            cflags |= cf::DISK_ONLY;
        }
        lv!(ctl, dom.snapshot_create_xml(&xml, cflags));
        ctl.print_extra(&format!("Snapshot {sn} set as current"));
        return true;
    }
    let has = lv!(ctl, dom.has_current_snapshot(0));
    if !has {
        ctl.error(&format!("domain '{}' has no current snapshot", dom.name()));
        return false;
    }
    let snap = lv!(ctl, dom.snapshot_current(0));
    if cmd.has("name") {
        ctl.print(&snap.name());
    } else {
        let xml = lv!(ctl, snap.xml_desc(flags));
        ctl.print(&xml);
    }
    true
}

/// Parent name, `None` for a root (`virshGetSnapshotParent`).
fn parent_of(ctl: &mut Ctl, snap: &Snapshot) -> Result<Option<String>, ()> {
    match snap.parent(0) {
        Ok(p) => Ok(Some(p.name().to_string())),
        Err(e) if e.code == ErrorCode::NoDomainSnapshot => Ok(None),
        Err(e) => {
            ctl.save(e);
            Err(())
        }
    }
}

pub fn cmd_parent(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some(snap) = lookup_snapshot(ctl, cmd, "snapshotname", true, &dom) else {
        return false;
    };
    let Ok(parent) = parent_of(ctl, &snap) else {
        return false;
    };
    match parent {
        Some(p) => {
            ctl.print(&p);
            true
        }
        None => {
            ctl.error(&format!("snapshot '{}' has no parent", snap.name()));
            false
        }
    }
}

pub fn cmd_dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let flags = if cmd.has("security-info") {
        xf::SECURE
    } else {
        0
    };
    let Ok(xp) = opt_str(ctl, cmd, "xpath") else {
        return false;
    };
    let Ok(Some(name)) = opt_str(ctl, cmd, "snapshotname") else {
        return false;
    };
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let snap = lv!(ctl, dom.snapshot_lookup_by_name(name, 0));
    let xml = lv!(ctl, snap.xml_desc(flags));
    crate::domain::dump_xml(ctl, &xml, xp, cmd.has("wrap"))
}

pub fn cmd_info(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some(snap) = lookup_snapshot(ctl, cmd, "snapshotname", true, &dom) else {
        return false;
    };
    if cmd.has("json") {
        let e = lv!(ctl, snap.entry(true));
        let descendants = lv!(ctl, snap.num_children(lf::DESCENDANTS));
        let domain = dom.name().to_owned();
        ctl.print_stream(|w| crate::json::info(w, &domain, &e, descendants));
        return true;
    }
    let mut s = String::new();
    let line = |s: &mut String, k: &str, v: &str| s.push_str(&format!("{k:<15} {v}\n"));
    line(&mut s, "Name:", &snap.name());
    line(&mut s, "Domain:", dom.name());
    let current = match snap.is_current(0) {
        Ok(c) => c,
        Err(e) => {
            ctl.print(&s);
            ctl.save(e);
            return false;
        }
    };
    line(&mut s, "Current:", if current { "yes" } else { "no" });
    let info = match snap.info() {
        Ok(i) => i,
        Err(e) => {
            ctl.print(&s);
            ctl.save(e);
            return false;
        }
    };
    let Some((info, state)) = info.and_then(|i| i.state.map(|st| (i, st))) else {
        ctl.print(&s);
        ctl.error("unexpected problem reading snapshot xml");
        return false;
    };
    line(&mut s, "State:", state.as_str());
    line(
        &mut s,
        "Location:",
        if info.external { "external" } else { "internal" },
    );
    line(&mut s, "Parent:", info.parent.as_deref().unwrap_or("-"));
    match snap.num_children(0) {
        Ok(n) => line(&mut s, "Children:", &n.to_string()),
        Err(e) => {
            ctl.print(&s);
            if e.code == ErrorCode::NoSupport {
                return true;
            }
            ctl.save(e);
            return false;
        }
    }
    match snap.num_children(lf::DESCENDANTS) {
        Ok(n) => line(&mut s, "Descendants:", &n.to_string()),
        Err(e) => {
            ctl.print(&s);
            ctl.save(e);
            return false;
        }
    }
    if let Ok(m) = snap.has_metadata(0) {
        line(&mut s, "Metadata:", if m { "yes" } else { "no" });
    }
    ctl.print(&s);
    true
}

pub fn cmd_list(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let tree = cmd.has("tree");
    let json = cmd.has("json");
    let name = cmd.has("name");
    let from = cmd.has("from");
    let parent = cmd.has("parent");
    let roots = cmd.has("roots");
    let current = cmd.has("current");
    for (a, b) in [
        ("tree", "name"),
        ("json", "name"),
        ("parent", "roots"),
        ("parent", "tree"),
        ("roots", "tree"),
        ("roots", "from"),
        ("roots", "current"),
    ] {
        if !crate::shell::exclusive(ctl, cmd, a, b) {
            return false;
        }
    }
    let mut flags = 0;
    for (o, f) in [
        ("leaves", lf::LEAVES),
        ("no-leaves", lf::NO_LEAVES),
        ("inactive", lf::INACTIVE),
        ("active", lf::ACTIVE),
        ("disk-only", lf::DISK_ONLY),
        ("internal", lf::INTERNAL),
        ("external", lf::EXTERNAL),
    ] {
        if cmd.has(o) {
            if tree {
                ctl.error(&format!("--{o} and --tree are mutually exclusive"));
                return false;
            }
            flags |= f;
        }
    }
    if cmd.has("topological") {
        flags |= lf::TOPOLOGICAL;
    }
    if roots {
        flags |= lf::ROOTS;
    }
    if cmd.has("metadata") {
        flags |= lf::METADATA;
    }
    if cmd.has("no-metadata") {
        flags |= lf::NO_METADATA;
    }
    if cmd.has("descendants") {
        if !from && !current {
            ctl.error("--descendants requires either --from or --current");
            return false;
        }
        flags |= lf::DESCENDANTS;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let start = if from || current {
        match lookup_snapshot(ctl, cmd, "from", true, &dom) {
            Some(s) => Some(s),
            None => return false,
        }
    } else {
        None
    };
    // One driver call for the whole listing (names, parents, states…).
    let mut items = match &start {
        Some(s) => lv!(ctl, s.children_entries(flags, json)),
        None => lv!(ctl, dom.snapshot_tree_entries(flags, json)),
    };
    if let (true, Some(s)) = (tree, &start) {
        let mut e = lv!(ctl, s.entry(json));
        e.parent = None;
        items.push(e);
    }
    if flags & lf::TOPOLOGICAL == 0 {
        items.sort_by_cached_key(|e| e.name.to_ascii_lowercase());
    }
    if json {
        ctl.print_stream(|w| if tree { crate::json::tree(w, &items) } else { crate::json::list(w, &items) });
        return true;
    }
    if tree {
        let list: Vec<(String, Option<String>)> = items.into_iter().map(|e| (e.name, e.parent)).collect();
        ctl.print_stream(|w| util::tree(&list, w));
        return true;
    }
    if name {
        let mut out = String::new();
        for e in &items {
            out.push_str(&e.name);
            out.push('\n');
        }
        ctl.print(&out);
        return true;
    }
    let mut rows = Vec::new();
    for e in &items {
        let info = e.info();
        let (Some(state), Some(ct)) = (info.state, info.creation_time) else {
            continue;
        };
        let state = state.as_str().to_owned();
        let par = if parent { info.parent } else { None };
        // virsh's GLib formatter fails outside years 1..=9999 (logging a
        // critical) and the table then refuses the short row.
        let Some(when) = util::format_time(ct) else {
            util::glib_critical("g_date_time_format: assertion 'datetime != NULL' failed");
            ctl.error("internal error: Incorrect number of cells in a table row");
            return false;
        };
        let mut row = vec![e.name.clone(), when, state];
        if parent {
            row.push(par.unwrap_or_default());
        }
        rows.push(row);
    }
    let header: &[&str] = if parent {
        &["Name", "Creation Time", "State", "Parent"]
    } else {
        &["Name", "Creation Time", "State"]
    };
    let t = util::table(header, &rows, !ctl.quiet);
    ctl.print(&t);
    true
}

pub fn cmd_revert(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let mut flags = 0;
    if cmd.has("running") {
        flags |= rf::RUNNING;
    }
    if cmd.has("paused") {
        flags |= rf::PAUSED;
    }
    let force = cmd.has("force");
    if cmd.has("reset-nvram") {
        flags |= rf::RESET_NVRAM;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some(snap) = lookup_snapshot(ctl, cmd, "snapshotname", true, &dom) else {
        return false;
    };
    let verbose = cmd.has("verbose");
    let mut r = crate::jobs::watched(ctl, &dom, verbose, || snap.revert(flags));
    if force
        && r.as_ref()
            .is_err_and(|e| e.code == ErrorCode::SnapshotRevertRisky)
    {
        r = crate::jobs::watched(ctl, &dom, verbose, || snap.revert(flags | rf::FORCE));
    }
    let name = snap.name();
    let r = r.map(|()| format!("Domain snapshot {name} reverted\n"));
    finish(ctl, r, &format!("Failed to revert snapshot {name}"))
}

/// Ends a command on its call's result: prints the success message (unless
/// quiet), or keeps the error and prints `failed` (virsh's "Failed to …").
fn finish(ctl: &mut Ctl, r: Result<String, Error>, failed: &str) -> bool {
    match r {
        Ok(msg) => {
            ctl.print_extra(&msg);
            true
        }
        Err(e) => {
            ctl.save(e);
            ctl.error(failed);
            false
        }
    }
}

const SEED_DELETE: [(&str, u32); 4] = [
    ("merge", delf::MERGE),
    ("mergeforce", delf::MERGE_FORCE),
    ("delete", delf::DISCARD),
    ("deleteforce", delf::DISCARD_FORCE),
];

pub fn cmd_delete(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    // The seed's modes exclude each other and libvirt's delete options.
    let all = [
        "children",
        "children-only",
        "metadata",
        "merge",
        "mergeforce",
        "delete",
        "deleteforce",
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let seed = |n: &str| SEED_DELETE.iter().any(|(s, _)| *s == n);
            if (seed(a) || seed(b)) && !crate::shell::exclusive(ctl, cmd, a, b) {
                return false;
            }
        }
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some(snap) = lookup_snapshot(ctl, cmd, "snapshotname", true, &dom) else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("children") {
        flags |= delf::CHILDREN;
    }
    if cmd.has("children-only") {
        flags |= delf::CHILDREN_ONLY;
    }
    if cmd.has("metadata") {
        flags |= delf::METADATA_ONLY;
    }
    for (o, f) in SEED_DELETE {
        if cmd.has(o) {
            flags |= f;
        }
    }
    let name = snap.name();
    let r = crate::jobs::watched(ctl, &dom, false, || snap.delete(flags)).map(|()| {
        if flags & delf::CHILDREN_ONLY != 0 {
            format!("Domain snapshot {name} children deleted\n")
        } else {
            format!("Domain snapshot {name} deleted\n")
        }
    });
    finish(ctl, r, &format!("Failed to delete snapshot {name}"))
}

pub fn cmd_delete_all(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let r = dom
        .snapshot_delete_all(0)
        .map(|n| format!("Domain '{}': {n} snapshots deleted\n", dom.name()));
    finish(ctl, r, &format!("Failed to delete snapshots of domain '{}'", dom.name()))
}

pub fn cmd_rename(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Ok(Some(old)) = opt_str(ctl, cmd, "snapshotname") else {
        return false;
    };
    let Ok(Some(new)) = opt_str(ctl, cmd, "newname") else {
        return false;
    };
    let snap = lv!(ctl, dom.snapshot_lookup_by_name(old, 0));
    if crate::rawbytes::carries(new) {
        // a name is UTF-8 (libvirt's parser would refuse the XML naming it)
        ctl.save(Error::invalid_arg(
            ErrorDomain::DomainSnapshot,
            format!("snapshot name '{new}' is not valid UTF-8"),
        ));
        ctl.error(&format!("Failed to rename snapshot {old}"));
        return false;
    }
    let r = snap
        .rename(new, 0)
        .map(|()| format!("Domain snapshot {old} renamed to {new}\n"));
    finish(ctl, r, &format!("Failed to rename snapshot {old}"))
}

pub fn cmd_start_with_snapshot(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Ok(Some(name)) = opt_str(ctl, cmd, "snapshotname") else {
        return false;
    };
    let snap = lv!(ctl, dom.snapshot_lookup_by_name(name, 0));
    let mut flags = 0;
    if cmd.has("paused") {
        flags |= rf::PAUSED;
    }
    if cmd.has("force") {
        flags |= rf::FORCE;
    }
    let dname = dom.name();
    let r = snap
        .create_from(flags)
        .map(|()| format!("Domain '{dname}' started from snapshot {name}\n"));
    finish(ctl, r, &format!("Failed to start domain '{dname}' from snapshot {name}"))
}

pub fn cmd_edit(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let rename_ok = cmd.has("rename");
    let clone_ok = cmd.has("clone");
    if !crate::shell::exclusive(ctl, cmd, "rename", "clone") {
        return false;
    }
    let mut define_flags = cf::REDEFINE;
    if cmd.has("current") && cmd.has("snapshotname") {
        define_flags |= cf::CURRENT;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some(snap) = lookup_snapshot(ctl, cmd, "snapshotname", false, &dom) else {
        return false;
    };
    let name = snap.name().to_string();
    let ok = edit_inner(ctl, &dom, &snap, &name, define_flags, rename_ok, clone_ok);
    if !ok {
        ctl.error(&format!("Failed to update {name}"));
    }
    ok
}

fn edit_inner(
    ctl: &mut Ctl,
    dom: &Domain,
    snap: &Snapshot,
    name: &str,
    define_flags: u32,
    rename_ok: bool,
    clone_ok: bool,
) -> bool {
    let doc = lv!(ctl, snap.xml_desc(xf::SECURE));
    let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".to_owned());
    let path = match write_temp(&dir, &doc) {
        Ok(p) => p,
        Err(e) => {
            ctl.error(&format!(
                "Failed to create temporary file: {}",
                util::strerror(&e)
            ));
            return false;
        }
    };
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "vi".to_owned());
    let outcome = edit_loop(ctl, dom, snap, doc, &path, &editor, define_flags);
    let _ = std::fs::remove_file(&path);
    let new = match outcome {
        Edit::Failed => return false,
        Edit::Unchanged => {
            ctl.print_extra(&format!("Snapshot {name} XML configuration not changed.\n"));
            return true;
        }
        Edit::Defined(n) => n,
    };
    let new_name = new.name().to_string();
    if new_name == name {
        ctl.print_extra(&format!("Snapshot {name} edited.\n"));
    } else if clone_ok {
        ctl.print_extra(&format!("Snapshot {name} cloned to {new_name}.\n"));
    } else {
        let victim = if rename_ok { snap } else { &new };
        if let Err(e) = victim.delete(delf::METADATA_ONLY) {
            ctl.save(e);
            ctl.report_error();
            ctl.error(&format!(
                "Failed to clean up {}",
                if rename_ok { name } else { &new_name }
            ));
            return false;
        }
        if !rename_ok {
            ctl.error(&format!(
                "Must use --rename or --clone to change {name} to {new_name}"
            ));
            return false;
        }
    }
    true
}

enum Edit {
    Failed,
    Unchanged,
    Defined(Snapshot),
}

/// virsh-edit.c's loop: edit, check nobody changed the snapshot meanwhile,
/// redefine; on failure, on a terminal, offer to edit again or retry.
fn edit_loop(
    ctl: &mut Ctl,
    dom: &Domain,
    snap: &Snapshot,
    mut doc: String,
    path: &std::path::Path,
    editor: &str,
    define_flags: u32,
) -> Edit {
    'reedit: loop {
        if let Err(msg) = run_editor(editor, path) {
            ctl.error(&msg);
            return Edit::Failed;
        }
        let edited = match std::fs::read(path) {
            // invalid UTF-8 carried for the XML check below
            Ok(x) => crate::rawbytes::decode(&x),
            Err(e) => {
                ctl.error(&format!(
                    "Failed to read file '{}': {}",
                    path.display(),
                    util::strerror(&e)
                ));
                return Edit::Failed;
            }
        };
        if edited == doc && define_flags & cf::CURRENT == 0 {
            return Edit::Unchanged;
        }
        loop {
            let reread = match snap.xml_desc(xf::SECURE) {
                Ok(x) => x,
                Err(e) => {
                    ctl.save(e);
                    return Edit::Failed;
                }
            };
            let msg = if reread != doc {
                doc = reread;
                "The XML configuration was changed by another user."
            } else {
                let utf8 = crate::rawbytes::xml_error(&edited, "domain_snapshot", ErrorDomain::DomainSnapshot);
                let create = || dom.snapshot_create_xml(&edited, define_flags);
                match utf8.map_or_else(create, |e| Err(dom.snapshot_create_check(define_flags).err().unwrap_or(e))) {
                    Ok(n) => return Edit::Defined(n),
                    Err(e) => {
                        ctl.save(e);
                        "Failed."
                    }
                }
            };
            match ask_reedit(ctl, msg) {
                Some('y') => continue 'reedit,
                Some('f') => continue,
                Some(_) => return Edit::Failed,
                None => {
                    ctl.error(msg);
                    return Edit::Failed;
                }
            }
        }
    }
}

/// `vshAskReedit`: `None` when stdin is not a terminal, else the answer.
fn ask_reedit(ctl: &mut Ctl, msg: &str) -> Option<char> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        return None;
    }
    ctl.report_error();
    loop {
        ctl.print(&format!("\r{msg} Try again? [y,n,f,?]: "));
        ctl.flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            return Some('n');
        }
        let c = line.trim().chars().next().map(|c| c.to_ascii_lowercase());
        match c {
            Some('?') => ctl.print(
                "y - yes, start editor again\nn - no, throw away my changes\n\
                 f - force, try to redefine again\n? - print this help\n",
            ),
            Some(c @ ('y' | 'n' | 'f')) => {
                ctl.print("\n");
                return Some(c);
            }
            _ => {}
        }
    }
}

/// `vshEditFile`: runs the editor on `path`, directly when `editor` is a
/// plain word, else through `sh -c`; the error is worded as libvirt's.
fn run_editor(editor: &str, path: &std::path::Path) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    let file = path.display().to_string();
    let (mut cmd, shown) = if editor.chars().all(ok) {
        let mut c = std::process::Command::new(editor);
        c.arg(path);
        (c, format!("{editor} {file}"))
    } else {
        if !file.chars().all(ok) {
            return Err(format!(
                "{file}: temporary filename contains shell meta or other unacceptable characters (is $TMPDIR wrong?)"
            ));
        }
        let script = format!("{editor} {file}");
        let mut c = std::process::Command::new("sh");
        c.arg("-c").arg(&script);
        (c, format!("sh -c {}", crate::shell::shell_escape(&script)))
    };
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) => {
            // libvirt's child reports this through the default error
            // handler, then exits 127.
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "libvirt:  error : cannot execute binary {editor}: {}",
                util::strerror(&e)
            );
            return Err(format!(
                "internal error: Child process ({shown}) unexpected exit status 127"
            ));
        }
    };
    if status.success() {
        return Ok(());
    }
    match status.code() {
        Some(c) => Err(format!(
            "internal error: Child process ({shown}) unexpected exit status {c}"
        )),
        None => {
            use std::os::unix::process::ExitStatusExt;
            Err(format!(
                "internal error: Child process ({shown}) unexpected fatal signal {}",
                status.signal().unwrap_or(0)
            ))
        }
    }
}

/// Writes `doc` to a new file `DIR/virsnapXXXXXX.xml` (created exclusively,
/// mode 0600, so an existing file or symlink is never followed).
fn write_temp(dir: &str, doc: &str) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = None;
    for i in 0..100u32 {
        let tag = (seed ^ std::process::id().rotate_left(16))
            .wrapping_add(i.wrapping_mul(2_654_435_761))
            % 1_000_000;
        let path = std::path::Path::new(dir).join(format!("virsnap{tag:06}.xml"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(doc.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

pub fn cmd_checkpoint_create_as(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Some((mut buf, _)) = start_doc(ctl, cmd, "domaincheckpoint") else {
        return false;
    };
    if cmd.has("diskspec") {
        buf.push_str("  <disks>\n");
        for spec in cmd.argv("diskspec") {
            let arr = util::string_to_array(spec);
            let (mut ck, mut bm) = (None, None);
            for a in arr.iter().skip(1) {
                if ck.is_none() && a.starts_with("checkpoint=") {
                    ck = Some(&a["checkpoint=".len()..]);
                } else if bm.is_none() && a.starts_with("bitmap=") {
                    bm = Some(&a["bitmap=".len()..]);
                } else {
                    ctl.error(&format!("unable to parse diskspec: {spec}"));
                    return false;
                }
            }
            buf.push_str(&format!("    <disk name='{}'", util::xml_escape(&arr[0])));
            if let Some(c) = ck {
                buf.push_str(&format!(" checkpoint='{c}'"));
            }
            if let Some(b) = bm {
                buf.push_str(&format!(" bitmap='{b}'"));
            }
            buf.push_str("/>\n");
        }
        buf.push_str("  </disks>\n");
    }
    buf.push_str("</domaincheckpoint>\n");
    if cmd.has("print-xml") {
        ctl.print(&format!("{buf}\n"));
        return true;
    }
    // libvirt's parser refuses XML that is not UTF-8, after its checks of
    // the domain's state; core takes &str, so the CLI reports it.
    if let Some(e) = crate::rawbytes::xml_error(&buf, "domain_checkpoint", ErrorDomain::Domain) {
        ctl.save(dom.checkpoint_create_check().err().unwrap_or(e));
        return false;
    }
    // VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE
    let flags = if cmd.has("quiesce") { 1 << 1 } else { 0 };
    let n = lv!(ctl, dom.checkpoint_create_xml(&buf, flags));
    ctl.print_extra(&format!("Domain checkpoint {n} created"));
    true
}
