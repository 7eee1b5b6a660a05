//! Domain commands: list, dominfo, domstate, domid, domname, domuuid,
//! start, destroy, shutdown, suspend, resume, define, undefine, dumpxml.

use virsnap_core::flags::{domain as df, list_domains as lf};
use virsnap_core::model::DomainState;
use virsnap_core::{Domain, ErrorDomain};

use crate::Ctl;
use crate::parse::Cmd;
use crate::util;

pub const BYID: u32 = 1;
pub const BYUUID: u32 = 2;
pub const BYNAME: u32 = 4;
pub const BYANY: u32 = BYID | BYUUID | BYNAME;

/// `vshCommandOptStringReq`: the option's value; an empty value is an error.
pub fn opt_str<'a>(ctl: &mut Ctl, cmd: &'a Cmd, name: &str) -> Result<Option<&'a str>, ()> {
    match cmd.raw(name) {
        Some("") => {
            ctl.error(&format!(
                "Failed to get option '{name}': Option argument is empty"
            ));
            Err(())
        }
        v => Ok(v),
    }
}

/// `virshCommandOptDomainBy`: the domain named by option `domain`, tried
/// as id, then UUID, then name.
pub fn lookup(ctl: &mut Ctl, cmd: &Cmd, by: u32) -> Option<Domain> {
    let n = opt_str(ctl, cmd, "domain").ok()??.to_owned();
    let conn = ctl.conn()?;
    let mut dom = None;
    if by & BYID != 0 {
        // virStrToLong_i: strtol syntax (leading blanks, sign), whole string
        match n.trim_start().parse::<i32>() {
            Ok(id) if id >= 0 => dom = conn.lookup_by_id(id).ok(),
            _ => {}
        }
    }
    if dom.is_none() && by & BYUUID != 0 && n.len() == 36 {
        dom = conn.lookup_by_uuid_string(&n).ok();
    }
    if dom.is_none() && by & BYNAME != 0 {
        dom = conn.lookup_by_name(&n).ok();
    }
    if dom.is_none() {
        ctl.error(&format!("failed to get domain '{n}'"));
    }
    dom
}

/// `virshDomainStateReasonToString`.
pub fn reason_str(state: DomainState, reason: i32) -> &'static str {
    use DomainState::*;
    let table: &[&str] = match state {
        NoState => &["unknown"],
        Running => &[
            "unknown",
            "booted",
            "migrated",
            "restored",
            "from snapshot",
            "unpaused",
            "migration canceled",
            "save canceled",
            "event wakeup",
            "crashed",
            "post-copy",
            "post-copy failed",
        ],
        Blocked => &["unknown"],
        Paused => &[
            "unknown",
            "user",
            "migrating",
            "saving",
            "dumping",
            "I/O error",
            "watchdog",
            "from snapshot",
            "shutting down",
            "creating snapshot",
            "crashed",
            "starting up",
            "post-copy",
            "post-copy failed",
            "api error",
        ],
        Shutdown => &["unknown", "user"],
        Shutoff => &[
            "unknown",
            "shutdown",
            "destroyed",
            "crashed",
            "migrated",
            "saved",
            "failed",
            "from snapshot",
            "daemon",
        ],
        Crashed => &["unknown", "panicked"],
        PmSuspended => &["unknown"],
    };
    usize::try_from(reason)
        .ok()
        .and_then(|r| table.get(r).copied())
        .unwrap_or("unknown")
}

fn state_from_u8(s: u8) -> DomainState {
    match s {
        1 => DomainState::Running,
        2 => DomainState::Blocked,
        3 => DomainState::Paused,
        4 => DomainState::Shutdown,
        5 => DomainState::Shutoff,
        6 => DomainState::Crashed,
        7 => DomainState::PmSuspended,
        _ => DomainState::NoState,
    }
}

macro_rules! lv {
    ($ctl:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                $ctl.save(e);
                return false;
            }
        }
    };
}
pub(crate) use lv;

pub fn cmd_list(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let mut flags = lf::ACTIVE;
    if cmd.has("inactive") {
        flags = lf::INACTIVE;
    }
    if cmd.has("all") {
        flags = lf::INACTIVE | lf::ACTIVE;
    }
    for (o, f) in [
        ("persistent", lf::PERSISTENT),
        ("transient", lf::TRANSIENT),
        ("with-managed-save", lf::MANAGEDSAVE),
        ("without-managed-save", lf::NO_MANAGEDSAVE),
        ("autostart", lf::AUTOSTART),
        ("no-autostart", lf::NO_AUTOSTART),
        ("with-snapshot", lf::HAS_SNAPSHOT),
        ("without-snapshot", lf::NO_SNAPSHOT),
        ("with-checkpoint", lf::HAS_CHECKPOINT),
        ("without-checkpoint", lf::NO_CHECKPOINT),
        ("state-running", lf::RUNNING),
        ("state-paused", lf::PAUSED),
        ("state-shutoff", lf::SHUTOFF),
        ("state-other", lf::OTHER),
    ] {
        if cmd.has(o) {
            flags |= f;
        }
    }
    for o in ["name", "uuid", "id"] {
        if !crate::shell::exclusive(ctl, cmd, "table", o) {
            return false;
        }
    }
    let Some(conn) = ctl.conn() else { return false };
    let doms = lv!(ctl, conn.list_all_domains(flags));
    let mut entries = Vec::new();
    for d in doms {
        let id = lv!(ctl, d.current_id());
        entries.push((id, d));
    }
    entries.sort_by(|(ia, a), (ib, b)| match (*ia >= 0, *ib >= 0) {
        (true, true) => ia.cmp(ib),
        (false, false) => a
            .name()
            .to_ascii_lowercase()
            .cmp(&b.name().to_ascii_lowercase()),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
    });
    let (name, uuid, idonly) = (cmd.has("name"), cmd.has("uuid"), cmd.has("id"));
    if name || uuid || idonly {
        let mut s = String::new();
        for (id, d) in &entries {
            if idonly && *id < 0 {
                continue;
            }
            let mut parts = Vec::new();
            if idonly {
                parts.push(id.to_string());
            }
            if uuid {
                parts.push(d.uuid_string());
            }
            if name {
                parts.push(d.name().to_owned());
            }
            s.push_str(&parts.join(" "));
            s.push('\n');
        }
        ctl.print(&s);
        return true;
    }
    let mut rows = Vec::new();
    for (id, d) in &entries {
        let (st, _) = lv!(ctl, d.state(0));
        let id = if *id >= 0 {
            id.to_string()
        } else {
            "-".to_owned()
        };
        let mut row = vec![id, d.name().to_owned(), st.virsh_name().to_owned()];
        if cmd.has("title") {
            row.push(String::new());
        }
        rows.push(row);
    }
    let header: &[&str] = if cmd.has("title") {
        &["Id", "Name", "State", "Title"]
    } else {
        &["Id", "Name", "State"]
    };
    let t = util::table(header, &rows, !ctl.quiet);
    ctl.print(&t);
    true
}

pub fn cmd_dominfo(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let conn = dom.connection().clone();
    let info = lv!(ctl, dom.info());
    let id = lv!(ctl, dom.current_id());
    let mut s = String::new();
    let line = |s: &mut String, k: &str, v: &str| s.push_str(&format!("{k:<15} {v}\n"));
    line(
        &mut s,
        "Id:",
        &if id >= 0 {
            id.to_string()
        } else {
            "-".to_owned()
        },
    );
    line(&mut s, "Name:", dom.name());
    line(&mut s, "UUID:", &dom.uuid_string());
    if let Ok(Some(os)) = dom.os_type() {
        line(&mut s, "OS Type:", &os);
    }
    let state = state_from_u8(info.state);
    line(&mut s, "State:", state.virsh_name());
    line(&mut s, "CPU(s):", &info.nr_virt_cpu.to_string());
    if info.cpu_time != 0 {
        line(
            &mut s,
            "CPU time:",
            &format!("{:.1}s", info.cpu_time as f64 / 1_000_000_000.0),
        );
    }
    if info.max_mem != u64::from(u32::MAX) {
        line(&mut s, "Max memory:", &format!("{} KiB", info.max_mem));
    } else {
        line(&mut s, "Max memory:", "no limit");
    }
    line(&mut s, "Used memory:", &format!("{} KiB", info.memory));
    match dom.is_persistent() {
        Ok(p) => line(&mut s, "Persistent:", if p { "yes" } else { "no" }),
        Err(_) => line(&mut s, "Persistent:", "unknown"),
    }
    line(&mut s, "Autostart:", "disable");
    line(&mut s, "Managed save:", "no");
    // Security model and label, when the driver has one (virsh skips
    // them on VIR_ERR_NO_SUPPORT).
    match conn.security_model() {
        Ok((model, doi)) if !model.is_empty() => {
            line(&mut s, "Security model:", &model);
            line(&mut s, "Security DOI:", &doi);
            match dom.security_label() {
                Ok((label, enforcing)) if !label.is_empty() => {
                    let mode = if enforcing { "enforcing" } else { "permissive" };
                    line(&mut s, "Security label:", &format!("{label} ({mode})"));
                }
                Ok(_) => {}
                Err(e) => {
                    ctl.print(&s);
                    ctl.save(e);
                    return false;
                }
            }
        }
        Ok(_) => {}
        Err(e) if e.code == virsnap_core::ErrorCode::NoSupport => {}
        Err(e) => {
            ctl.print(&s);
            ctl.save(e);
            return false;
        }
    }
    ctl.print(&s);
    true
}

pub fn cmd_domstate(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let (st, reason) = lv!(ctl, dom.state(0));
    if cmd.has("reason") {
        ctl.print(&format!(
            "{} ({})\n",
            st.virsh_name(),
            reason_str(st, reason)
        ));
    } else {
        ctl.print(&format!("{}\n", st.virsh_name()));
    }
    true
}

pub fn cmd_domid(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYNAME | BYUUID) else {
        return false;
    };
    let id = lv!(ctl, dom.current_id());
    if id < 0 {
        ctl.print("-\n");
    } else {
        ctl.print(&format!("{id}\n"));
    }
    true
}

pub fn cmd_domname(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYID | BYUUID) else {
        return false;
    };
    ctl.print(&format!("{}\n", dom.name()));
    true
}

pub fn cmd_domuuid(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYID | BYNAME) else {
        return false;
    };
    ctl.print(&format!("{}\n", dom.uuid_string()));
    true
}

pub fn cmd_start(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYNAME | BYUUID) else {
        return false;
    };
    if lv!(ctl, dom.current_id()) >= 0 {
        ctl.error("Domain is already active");
        return false;
    }
    if cmd.has("console") {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            ctl.error("Cannot run interactive console without a controlling TTY");
        } else {
            ctl.error("virsnap has no console support");
        }
        return false;
    }
    let mut flags = 0;
    for (o, f) in [
        ("paused", 1),
        ("autodestroy", 2),
        ("bypass-cache", 4),
        ("force-boot", 8),
        ("reset-nvram", 16),
    ] {
        if cmd.has(o) {
            flags |= f;
        }
    }
    if let Err(e) = dom.create(flags) {
        ctl.save(e);
        ctl.error(&format!("Failed to start domain '{}'", dom.name()));
        return false;
    }
    ctl.print_extra(&format!("Domain '{}' started\n", dom.name()));
    true
}

fn simple(
    ctl: &mut Ctl,
    cmd: &Cmd,
    what: &str,
    done: &str,
    f: impl Fn(&Domain) -> virsnap_core::Result<()>,
) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    if let Err(e) = f(&dom) {
        ctl.save(e);
        ctl.error(&format!("Failed to {what} domain '{}'", dom.name()));
        return false;
    }
    ctl.print_extra(&format!("Domain '{}' {done}\n", dom.name()));
    true
}

pub fn cmd_destroy(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let mut flags = 0;
    if cmd.has("graceful") {
        flags |= 1;
    }
    if cmd.has("remove-logs") {
        flags |= 2;
    }
    simple(ctl, cmd, "destroy", "destroyed", |d| d.destroy(flags))
}

pub fn cmd_shutdown(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Ok(mode) = opt_str(ctl, cmd, "mode") else {
        return false;
    };
    let mut flags = 0;
    if let Some(mode) = mode {
        for m in mode.split(',') {
            flags |= match m {
                "acpi" => 1,
                "agent" => 2,
                "initctl" => 4,
                "signal" => 8,
                "paravirt" => 16,
                _ => {
                    ctl.error(&format!(
                        "Unknown mode {m} value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'"
                    ));
                    return false;
                }
            };
        }
    }
    simple(ctl, cmd, "shutdown", "is being shutdown", |d| {
        d.shutdown(flags)
    })
}

pub fn cmd_suspend(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    simple(ctl, cmd, "suspend", "suspended", |d| d.suspend())
}

pub fn cmd_resume(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    simple(ctl, cmd, "resume", "resumed", |d| d.resume())
}

pub fn cmd_define(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Ok(Some(from)) = opt_str(ctl, cmd, "file") else {
        return false;
    };
    let from = from.to_owned();
    let Some(conn) = ctl.conn() else { return false };
    let xml = match util::read_file(&from) {
        Ok(x) => x,
        Err(m) => {
            ctl.error(&m);
            return false;
        }
    };
    let flags = if cmd.has("validate") {
        df::DEFINE_VALIDATE
    } else {
        0
    };
    if !ctl.readonly
        && let Some(e) = crate::rawbytes::xml_error(&xml, "domain_definition", ErrorDomain::Domain)
    {
        ctl.save(e);
        ctl.error(&format!("Failed to define domain from {from}"));
        return false;
    }
    match conn.define_xml(&xml, flags) {
        Ok(d) => {
            ctl.print_extra(&format!("Domain '{}' defined from {from}\n", d.name()));
            true
        }
        Err(e) => {
            ctl.save(e);
            ctl.error(&format!("Failed to define domain from {from}"));
            false
        }
    }
}

pub fn cmd_undefine(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let mut flags = 0;
    for (o, f) in [
        ("managed-save", df::UNDEFINE_MANAGED_SAVE),
        ("snapshots-metadata", df::UNDEFINE_SNAPSHOTS_METADATA),
        ("checkpoints-metadata", df::UNDEFINE_CHECKPOINTS_METADATA),
        ("nvram", df::UNDEFINE_NVRAM),
        ("keep-nvram", df::UNDEFINE_KEEP_NVRAM),
        ("tpm", df::UNDEFINE_TPM),
        ("keep-tpm", df::UNDEFINE_KEEP_TPM),
    ] {
        if cmd.has(o) {
            flags |= f;
        }
    }
    if !crate::shell::exclusive(ctl, cmd, "nvram", "keep-nvram")
        || !crate::shell::exclusive(ctl, cmd, "tpm", "keep-tpm")
    {
        return false;
    }
    if cmd.has("storage")
        || cmd.has("remove-all-storage")
        || cmd.has("wipe-storage")
        || cmd.has("delete-storage-volume-snapshots")
    {
        ctl.error("storage volume removal is not supported by virsnap");
        return false;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let name = dom.name().to_owned();
    if let Err(e) = dom.undefine(flags) {
        ctl.save(e);
        ctl.error(&format!("Failed to undefine domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' has been undefined\n"));
    true
}

pub fn cmd_dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Ok(xp) = opt_str(ctl, cmd, "xpath") else {
        return false;
    };
    let mut flags = 0;
    for (o, f) in [
        ("security-info", df::XML_SECURE),
        ("inactive", df::XML_INACTIVE),
        ("update-cpu", df::XML_UPDATE_CPU),
        ("migratable", df::XML_MIGRATABLE),
    ] {
        if cmd.has(o) {
            flags |= f;
        }
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let x = lv!(ctl, dom.xml_desc(flags));
    dump_xml(ctl, &x, xp, cmd.has("wrap"))
}

/// `virshDumpXML`: the document, or what `--xpath` selects.
pub fn dump_xml(ctl: &mut Ctl, xml: &str, xpath: Option<&str>, wrap: bool) -> bool {
    match xpath {
        None => {
            ctl.print(xml);
            true
        }
        Some(x) => match crate::xpath::dump_xml(xml, x, wrap) {
            Ok(s) => {
                ctl.print(&s);
                true
            }
            Err(m) => {
                ctl.error(&m);
                false
            }
        },
    }
}
