//! The command table (names, groups, options, help texts as virsh 9.0 words
//! them) and virsh's help layout.

use crate::Ctl;
use crate::parse::Cmd;

/// virsh's option types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    Bool,
    Str,
    Int,
    Data,
    Argv,
}

/// One option of a command (`vshCmdOptDef`).
#[derive(Debug)]
pub struct OptDef {
    pub name: &'static str,
    pub ty: OptType,
    /// `VSH_OFLAG_REQ`
    pub req: bool,
    /// `VSH_OFLAG_REQ_OPT`: only as `--name value`, never positional.
    pub req_opt: bool,
    pub help: &'static str,
    /// A virsnap extension left out of `help`, so that it stays virsh's text.
    pub hidden: bool,
}

impl OptDef {
    const fn new(name: &'static str, ty: OptType, req: bool, req_opt: bool, help: &'static str) -> Self {
        Self { name, ty, req, req_opt, help, hidden: false }
    }
    /// `--name`, a virsnap extension (accepted, not in `help`).
    pub const fn extension(name: &'static str, help: &'static str) -> Self {
        Self { hidden: true, ..Self::new(name, OptType::Bool, false, false, help) }
    }
    /// `--name`
    pub const fn boolean(name: &'static str, help: &'static str) -> Self {
        Self::new(name, OptType::Bool, false, false, help)
    }
    /// `[--name] <string>`, optional.
    pub const fn string(name: &'static str, help: &'static str) -> Self {
        Self::new(name, OptType::Str, false, false, help)
    }
    /// `--name <string>` only, never positional.
    pub const fn named(name: &'static str, help: &'static str) -> Self {
        Self::new(name, OptType::Str, false, true, help)
    }
    /// `[--name] <string>`, required.
    pub const fn data(name: &'static str, help: &'static str) -> Self {
        Self::new(name, OptType::Data, true, false, help)
    }
    /// The rest of the arguments.
    pub const fn argv(name: &'static str, help: &'static str) -> Self {
        Self::new(name, OptType::Argv, false, false, help)
    }
}

pub type Handler = fn(&mut Ctl, &Cmd) -> bool;

/// One command (`vshCmdDef`).
pub struct CmdDef {
    pub name: &'static str,
    pub group: usize,
    pub info: &'static str,
    pub desc: &'static str,
    pub opts: &'static [OptDef],
    pub handler: Handler,
    /// Runs without a hypervisor connection (help, echo, quit…).
    pub no_connect: bool,
}

impl std::fmt::Debug for CmdDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Command groups: (title, keyword).
pub const GROUPS: &[(&str, &str)] = &[
    ("Domain Management", "domain"),
    ("Domain Monitoring", "monitor"),
    ("Domain Events", "events"),
    ("Host and Hypervisor", "host"),
    ("Checkpoint", "checkpoint"),
    ("Snapshot", "snapshot"),
    ("Virsh itself", "virsh"),
];
const G_DOM: usize = 0;
const G_MON: usize = 1;
const G_EVENTS: usize = 2;
const G_HOST: usize = 3;
const G_CHK: usize = 4;
const G_SNAP: usize = 5;
const G_VIRSH: usize = 6;
/// Commands in no group: left out of `help` listings (virsh's internal
/// `complete`).
const G_HIDDEN: usize = usize::MAX;

const DOMAIN: OptDef = OptDef::data("domain", "domain name, id or uuid");

use crate::domain as d;
use crate::shell as sh;
use crate::snapshot as s;
use crate::jobs;

/// `cmd!([noconn] name, group, handler, info, desc, options)`: one `CmdDef`;
/// `noconn` for a command that runs without a connection.
macro_rules! cmd {
    ($name:literal, $g:expr, $h:expr, $info:literal, $desc:literal, $opts:expr) => {
        CmdDef { name: $name, group: $g, info: $info, desc: $desc, opts: $opts, handler: $h, no_connect: false }
    };
    (noconn $name:literal, $g:expr, $h:expr, $info:literal, $desc:literal, $opts:expr) => {
        CmdDef { name: $name, group: $g, info: $info, desc: $desc, opts: $opts, handler: $h, no_connect: true }
    };
}

/// The options of snapshot-create and snapshot-create-as: each command's
/// first ones, the flags both have, then its last ones (virsh's order).
macro_rules! create_opts {
    ([$($first:expr,)*], [$($last:expr,)*]) => {
        &[
            $($first,)*
            OptDef::boolean("no-metadata", "take snapshot but create no metadata"),
            OptDef::boolean("halt", "halt domain after snapshot is created"),
            OptDef::boolean("disk-only", "capture disk state but not vm state"),
            OptDef::boolean("reuse-external", "reuse any existing external files"),
            OptDef::boolean("quiesce", "quiesce guest's file systems"),
            OptDef::boolean("atomic", "require atomic operation"),
            OptDef::boolean("live", "take a live snapshot"),
            OptDef::boolean("validate", "validate the XML against the schema"),
            $($last,)*
        ]
    };
}

#[rustfmt::skip]
pub static COMMANDS: &[CmdDef] = &[
    // Domain Management (virsh's order)
    cmd!("define", G_DOM, d::cmd_define,
        "define (but don't start) a domain from an XML file",
        "Define a domain.", &[
        OptDef::data("file", "file containing an XML domain description"),
        OptDef::boolean("validate", "validate the XML against the schema"),
    ]),
    cmd!("destroy", G_DOM, d::cmd_destroy,
        "destroy (stop) a domain",
        "Forcefully stop a given domain, but leave its resources intact.", &[
        DOMAIN,
        OptDef::boolean("graceful", "terminate gracefully"),
        OptDef::boolean("remove-logs", "remove domain logs"),
    ]),
    cmd!("domid", G_DOM, d::cmd_domid,
        "convert a domain name or UUID to domain id",
        "", &[OptDef::data("domain", "domain name or uuid")]),
    cmd!("domname", G_DOM, d::cmd_domname,
        "convert a domain id or UUID to domain name",
        "", &[OptDef::data("domain", "domain id or uuid")]),
    cmd!("domuuid", G_DOM, d::cmd_domuuid,
        "convert a domain name or id to domain UUID",
        "", &[OptDef::data("domain", "domain id or name")]),
    cmd!("dumpxml", G_DOM, d::cmd_dumpxml,
        "domain information in XML",
        "Output the domain information as an XML dump to stdout.", &[
        DOMAIN,
        OptDef::boolean("inactive", "show inactive defined XML"),
        OptDef::boolean("security-info", "include security sensitive information in XML dump"),
        OptDef::boolean("update-cpu", "update guest CPU according to host CPU"),
        OptDef::boolean("migratable", "provide XML suitable for migrations"),
        OptDef::named("xpath", "xpath expression to filter the XML document"),
        OptDef::boolean("wrap", "wrap xpath results in an common root element"),
    ]),
    cmd!("resume", G_DOM, d::cmd_resume,
        "resume a domain",
        "Resume a previously suspended domain.", &[DOMAIN]),
    cmd!("shutdown", G_DOM, d::cmd_shutdown,
        "gracefully shutdown a domain",
        "Run shutdown in the target domain.", &[
        DOMAIN,
        OptDef::named("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"),
    ]),
    cmd!("start", G_DOM, d::cmd_start,
        "start a (previously defined) inactive domain",
        "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.", &[
        OptDef::data("domain", "name of the inactive domain"),
        OptDef::boolean("console", "attach to console after creation"),
        OptDef::boolean("paused", "leave the guest paused after creation"),
        OptDef::boolean("autodestroy", "automatically destroy the guest when virsh disconnects"),
        OptDef::boolean("bypass-cache", "avoid file system cache when loading"),
        OptDef::boolean("force-boot", "force fresh boot by discarding any managed save"),
        OptDef::named("pass-fds", "pass file descriptors N,M,... to the guest"),
        OptDef::boolean("reset-nvram", "re-initialize NVRAM from its pristine template"),
    ]),
    cmd!("suspend", G_DOM, d::cmd_suspend,
        "suspend a domain",
        "Suspend a running domain.", &[DOMAIN]),
    cmd!("undefine", G_DOM, d::cmd_undefine,
        "undefine a domain",
        "Undefine an inactive domain, or convert persistent to transient.", &[
        DOMAIN,
        OptDef::boolean("managed-save", "remove domain managed state file"),
        OptDef::named("storage", "remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)"),
        OptDef::boolean("remove-all-storage", "remove all associated storage volumes (use with caution)"),
        OptDef::boolean("delete-storage-volume-snapshots", "delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)"),
        OptDef::boolean("wipe-storage", "wipe data on the removed volumes"),
        OptDef::boolean("snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)"),
        OptDef::boolean("checkpoints-metadata", "remove all domain checkpoint metadata (vm must be inactive)"),
        OptDef::boolean("nvram", "remove nvram file"),
        OptDef::boolean("keep-nvram", "keep nvram file"),
        OptDef::boolean("tpm", "remove TPM state"),
        OptDef::boolean("keep-tpm", "keep TPM state"),
    ]),
    // Domain Monitoring
    cmd!("dominfo", G_MON, d::cmd_dominfo,
        "domain information",
        "Returns basic information about the domain.", &[DOMAIN]),
    cmd!("event", G_EVENTS, crate::event::cmd_event,
        "Domain Events",
        "List event types, or wait for domain events to occur", &[
        OptDef::string("domain", "filter by domain name, id or uuid"),
        OptDef::string("event", "which event type to wait for"),
        OptDef::boolean("all", "wait for all events instead of just one type"),
        OptDef::boolean("loop", "loop until timeout or interrupt, rather than one-shot"),
        OptDef { name: "timeout", ty: OptType::Int, req: false, req_opt: false, help: "timeout seconds", hidden: false },
        OptDef::boolean("list", "list valid event types"),
        OptDef::boolean("timestamp", "show timestamp for each printed event"),
    ]),
    cmd!("domstate", G_MON, d::cmd_domstate,
        "domain state",
        "Returns state about a domain.", &[
        DOMAIN,
        OptDef::boolean("reason", "also print reason for the state"),
    ]),
    cmd!("domjobinfo", G_DOM, jobs::cmd_domjobinfo,
        "domain job information",
        "Returns information about jobs running on a domain.", &[
        DOMAIN,
        OptDef::boolean("completed", "return statistics of a recently completed job"),
        OptDef::boolean("keep-completed", "don't destroy statistics of a recently completed job when reading"),
        OptDef::boolean("anystats", "print statistics for any kind of job (even failed ones)"),
        OptDef::boolean("rawstats", "print the raw data returned by libvirt"),
    ]),
    cmd!("domjobabort", G_DOM, jobs::cmd_domjobabort,
        "abort active domain job",
        "Aborts the currently running domain job", &[
        DOMAIN,
        OptDef::boolean("postcopy", "interrupt post-copy migration"),
    ]),
    cmd!("list", G_MON, d::cmd_list,
        "list domains",
        "Returns list of domains.", &[
        OptDef::boolean("inactive", "list inactive domains"),
        OptDef::boolean("all", "list inactive & active domains"),
        OptDef::boolean("transient", "list transient domains"),
        OptDef::boolean("persistent", "list persistent domains"),
        OptDef::boolean("with-snapshot", "list domains with existing snapshot"),
        OptDef::boolean("without-snapshot", "list domains without a snapshot"),
        OptDef::boolean("with-checkpoint", "list domains with existing checkpoint"),
        OptDef::boolean("without-checkpoint", "list domains without a checkpoint"),
        OptDef::boolean("state-running", "list domains in running state"),
        OptDef::boolean("state-paused", "list domains in paused state"),
        OptDef::boolean("state-shutoff", "list domains in shutoff state"),
        OptDef::boolean("state-other", "list domains in other states"),
        OptDef::boolean("autostart", "list domains with autostart enabled"),
        OptDef::boolean("no-autostart", "list domains with autostart disabled"),
        OptDef::boolean("with-managed-save", "list domains with managed save state"),
        OptDef::boolean("without-managed-save", "list domains without managed save"),
        OptDef::boolean("uuid", "list uuid's only"),
        OptDef::boolean("name", "list domain names only"),
        OptDef::boolean("id", "list domain IDs only"),
        OptDef::boolean("table", "list table (default)"),
        OptDef::boolean("managed-save", "mark inactive domains with managed save state"),
        OptDef::boolean("title", "show domain title"),
    ]),
    // Host and Hypervisor
    cmd!("uri", G_HOST, sh::cmd_uri,
        "print the hypervisor canonical URI",
        "", &[]),
    // Checkpoint (only what a snapshot user meets)
    cmd!("checkpoint-create-as", G_CHK, s::cmd_checkpoint_create_as,
        "Create a checkpoint from a set of args",
        "Create a checkpoint from arguments for use in future incremental backups", &[
        DOMAIN,
        OptDef::string("name", "name of checkpoint"),
        OptDef::string("description", "description of checkpoint"),
        OptDef::boolean("print-xml", "print XML document rather than create"),
        OptDef::boolean("quiesce", "quiesce guest's file systems"),
        OptDef::argv("diskspec", "disk attributes: disk[,checkpoint=type][,bitmap=name]"),
    ]),
    // Snapshot
    cmd!("snapshot-create", G_SNAP, s::cmd_create,
        "Create a snapshot from XML",
        "Create a snapshot (disk and RAM) from XML", create_opts!([
        DOMAIN,
        OptDef::string("xmlfile", "domain snapshot XML"),
        OptDef::boolean("redefine", "redefine metadata for existing snapshot"),
        OptDef::boolean("current", "with redefine, set current snapshot"),
    ], [])),
    cmd!("snapshot-create-as", G_SNAP, s::cmd_create_as,
        "Create a snapshot from a set of args",
        "Create a snapshot (disk and RAM) from arguments", create_opts!([
        DOMAIN,
        OptDef::string("name", "name of snapshot"),
        OptDef::string("description", "description of snapshot"),
        OptDef::boolean("print-xml", "print XML document rather than create"),
        OptDef::extension("verbose", "display the progress of the snapshot with the time remaining (on a terminal)"),
    ], [
        OptDef::named("memspec", "memory attributes: [file=]name[,snapshot=type]"),
        OptDef::argv("diskspec", "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]"),
    ])),
    cmd!("snapshot-current", G_SNAP, s::cmd_current,
        "Get or set the current snapshot",
        "Get or set the current snapshot", &[
        DOMAIN,
        OptDef::boolean("name", "list the name, rather than the full xml"),
        OptDef::boolean("security-info", "include security sensitive information in XML dump"),
        OptDef::string("snapshotname", "name of existing snapshot to make current"),
    ]),
    cmd!("snapshot-delete", G_SNAP, s::cmd_delete,
        "Delete a domain snapshot",
        "Snapshot Delete", &[
        DOMAIN,
        OptDef::string("snapshotname", "snapshot name"),
        OptDef::boolean("current", "delete current snapshot"),
        OptDef::boolean("children", "delete snapshot and all children"),
        OptDef::boolean("children-only", "delete children but not snapshot"),
        OptDef::boolean("metadata", "delete only libvirt metadata, leaving snapshot contents behind"),
        OptDef::boolean("merge", "merge the snapshot into its children (libvirt's default delete)"),
        OptDef::boolean("mergeforce", "merge the snapshot into its children, even when it has some"),
        OptDef::boolean("delete", "delete a snapshot that has no children"),
        OptDef::boolean("deleteforce", "delete the snapshot and all its children"),
    ]),
    cmd!("snapshot-delete-all", G_SNAP, s::cmd_delete_all,
        "Delete every snapshot of a domain",
        "Delete all snapshots of a domain", &[DOMAIN]),
    cmd!("snapshot-dumpxml", G_SNAP, s::cmd_dumpxml,
        "Dump XML for a domain snapshot",
        "Snapshot Dump XML", &[
        DOMAIN,
        OptDef::data("snapshotname", "snapshot name"),
        OptDef::boolean("security-info", "include security sensitive information in XML dump"),
        OptDef::named("xpath", "xpath expression to filter the XML document"),
        OptDef::boolean("wrap", "wrap xpath results in an common root element"),
    ]),
    cmd!("snapshot-edit", G_SNAP, s::cmd_edit,
        "edit XML for a snapshot",
        "Edit the domain snapshot XML for a named snapshot", &[
        DOMAIN,
        OptDef::string("snapshotname", "snapshot name"),
        OptDef::boolean("current", "also set edited snapshot as current"),
        OptDef::boolean("rename", "allow renaming an existing snapshot"),
        OptDef::boolean("clone", "allow cloning to new name"),
    ]),
    cmd!("snapshot-info", G_SNAP, s::cmd_info,
        "snapshot information",
        "Returns basic information about a snapshot.", &[
        DOMAIN,
        OptDef::string("snapshotname", "snapshot name"),
        OptDef::boolean("current", "info on current snapshot"),
        OptDef::boolean("json", "print the information as a JSON object (docs/snapshot.schema.json)"),
    ]),
    cmd!("snapshot-list", G_SNAP, s::cmd_list,
        "List snapshots for a domain",
        "Snapshot List", &[
        DOMAIN,
        OptDef::boolean("parent", "add a column showing parent snapshot"),
        OptDef::boolean("roots", "list only snapshots without parents"),
        OptDef::boolean("leaves", "list only snapshots without children"),
        OptDef::boolean("no-leaves", "list only snapshots that are not leaves (with children)"),
        OptDef::boolean("metadata", "list only snapshots that have metadata that would prevent undefine"),
        OptDef::boolean("no-metadata", "list only snapshots that have no metadata managed by libvirt"),
        OptDef::boolean("inactive", "filter by snapshots taken while inactive"),
        OptDef::boolean("active", "filter by snapshots taken while active (full system snapshots)"),
        OptDef::boolean("disk-only", "filter by disk-only snapshots"),
        OptDef::boolean("internal", "filter by internal snapshots"),
        OptDef::boolean("external", "filter by external snapshots"),
        OptDef::boolean("tree", "list snapshots in a tree"),
        OptDef::string("from", "limit list to children of given snapshot"),
        OptDef::boolean("current", "limit list to children of current snapshot"),
        OptDef::boolean("descendants", "with --from, list all descendants"),
        OptDef::boolean("name", "list snapshot names only"),
        OptDef::boolean("topological", "sort list topologically rather than by name"),
        OptDef::boolean("json", "print the list as JSON (docs/snapshot.schema.json); with --tree, children nested"),
    ]),
    cmd!("snapshot-parent", G_SNAP, s::cmd_parent,
        "Get the name of the parent of a snapshot",
        "Extract the snapshot's parent, if any", &[
        DOMAIN,
        OptDef::string("snapshotname", "find parent of snapshot name"),
        OptDef::boolean("current", "find parent of current snapshot"),
    ]),
    cmd!("snapshot-prune", G_SNAP, crate::health::cmd_prune,
        "Delete old snapshots by a retention rule",
        "Delete the snapshots not kept by --keep / --older-than (never the current one; each as snapshot-delete does)", &[
        DOMAIN,
        OptDef::named("keep", "keep the N newest snapshots"),
        OptDef::named("older-than", "delete only snapshots older than this (30m, 12h, 7d)"),
        OptDef::boolean("dry-run", "print what would be deleted, delete nothing"),
    ]),
    cmd!("snapshot-rename", G_SNAP, s::cmd_rename,
        "Rename a domain snapshot",
        "Give a snapshot a new name", &[
        DOMAIN,
        OptDef::data("snapshotname", "current name of the snapshot"),
        OptDef::data("newname", "new name of the snapshot"),
    ]),
    cmd!("snapshot-revert", G_SNAP, s::cmd_revert,
        "Revert a domain to a snapshot",
        "Revert domain to snapshot", &[
        DOMAIN,
        OptDef::string("snapshotname", "snapshot name"),
        OptDef::boolean("current", "revert to current snapshot"),
        OptDef::boolean("running", "after reverting, change state to running"),
        OptDef::boolean("paused", "after reverting, change state to paused"),
        OptDef::boolean("force", "try harder on risky reverts"),
        OptDef::boolean("reset-nvram", "re-initialize NVRAM from its pristine template"),
        OptDef::extension("verbose", "display the progress of the revert with the time remaining (on a terminal)"),
    ]),
    cmd!("snapshot-verify", G_SNAP, crate::health::cmd_verify,
        "Check snapshot metadata against the hypervisor",
        "Report each difference between the snapshot metadata and the hypervisor's state; exit 1 if any", &[
        DOMAIN,
        OptDef::boolean("repair", "apply the fixes that lose nothing"),
    ]),
    cmd!("snapshot-usage", G_SNAP, crate::usage::cmd_usage,
        "Disk usage of domain snapshots",
        "What each snapshot costs on disk and what deleting it would free", &[
        DOMAIN,
        OptDef::string("snapshotname", "snapshot name (default: every snapshot)"),
        OptDef::boolean("json", "print a JSON array of objects, exact bytes, null where unknown"),
    ]),
    cmd!("start-with-snapshot", G_SNAP, s::cmd_start_with_snapshot,
        "Start a domain from a snapshot",
        "Revert a domain to a snapshot, then make sure it runs", &[
        DOMAIN,
        OptDef::data("snapshotname", "snapshot name"),
        OptDef::boolean("paused", "leave the guest paused"),
        OptDef::boolean("force", "try harder on risky reverts"),
    ]),
    // Virsh itself
    cmd!(noconn "cd", G_VIRSH, sh::cmd_cd,
        "change the current directory",
        "Change the current directory.", &[OptDef::string("dir", "directory to switch to (default: home or else root)")]),
    cmd!(noconn "echo", G_VIRSH, sh::cmd_echo,
        "echo arguments. Used for internal testing.",
        "Echo back arguments, possibly with quoting. Used for internal testing.", &[
        OptDef::boolean("shell", "escape for shell use"),
        OptDef::boolean("xml", "escape for XML use"),
        OptDef::boolean("split", "split each argument on ','; ',,' is an escape sequence"),
        OptDef::boolean("err", "output to stderr"),
        OptDef::argv("string", "arguments to echo"),
    ]),
    cmd!(noconn "exit", G_VIRSH, sh::cmd_quit,
        "quit this interactive terminal",
        "", &[]),
    cmd!(noconn "help", G_VIRSH, sh::cmd_help,
        "print help",
        "Prints global help, command specific help, or help for a\n    group of related commands", &[OptDef::string("command", "Prints global help, command specific help, or help for a group of related commands")]),
    cmd!(noconn "pwd", G_VIRSH, sh::cmd_pwd,
        "print the current directory",
        "Print the current directory.", &[]),
    cmd!(noconn "quit", G_VIRSH, sh::cmd_quit,
        "quit this interactive terminal",
        "", &[]),
    cmd!(noconn "complete", G_HIDDEN, crate::complete::cmd_complete,
        "internal command for autocompletion",
        "internal use only", &[OptDef::argv("string", "partial string to autocomplete")]),
    cmd!(noconn "connect", G_VIRSH, sh::cmd_connect,
        "(re)connect to hypervisor",
        "Connect to local hypervisor. This is built-in command after shell start up.", &[
        OptDef::string("name", "hypervisor connection URI"),
        OptDef::boolean("readonly", "read-only connection"),
    ]),
];

/// Finds a command by name.
pub fn lookup_command(name: &str) -> Option<&'static CmdDef> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `help` without argument: every group.
pub fn help_all() -> String {
    let mut s = String::from("Grouped commands:\n\n");
    for g in 0..GROUPS.len() {
        s.push_str(&help_group(g));
        s.push('\n');
    }
    s
}

/// `help KEYWORD`.
pub fn help_group(g: usize) -> String {
    let (title, kw) = GROUPS[g];
    let mut s = format!(" {title} (help keyword '{kw}'):\n");
    for c in COMMANDS.iter().filter(|c| c.group == g) {
        s.push_str(&format!("    {:<30} {}\n", c.name, c.info));
    }
    s
}

/// `help COMMAND` in virsh's layout (`vshCmddefHelp`).
pub fn help_command(def: &CmdDef) -> String {
    let mut s = format!("  NAME\n    {} - {}\n", def.name, def.info);
    s.push_str("\n  SYNOPSIS\n");
    s.push_str(&format!("    {}", def.name));
    let mut shortopt = false;
    for o in def.opts.iter().filter(|o| !o.hidden) {
        let piece = match o.ty {
            OptType::Bool => format!("[--{}]", o.name),
            OptType::Int => {
                if !o.req_opt {
                    shortopt = true;
                }
                if o.req {
                    format!("<{}>", o.name)
                } else {
                    format!("[--{} <number>]", o.name)
                }
            }
            OptType::Str => {
                if !o.req_opt {
                    shortopt = true;
                }
                format!("[--{} <string>]", o.name)
            }
            OptType::Data => {
                if !o.req_opt {
                    shortopt = true;
                }
                if o.req {
                    format!("<{}>", o.name)
                } else {
                    format!("[<{}>]", o.name)
                }
            }
            OptType::Argv => {
                if shortopt {
                    if o.req {
                        format!("{{[--{}] <string>}}...", o.name)
                    } else {
                        format!("[[--{}] <string>]...", o.name)
                    }
                } else if o.req {
                    format!("<{}>...", o.name)
                } else {
                    format!("[<{}>]...", o.name)
                }
            }
        };
        s.push(' ');
        s.push_str(&piece);
    }
    s.push('\n');
    if !def.desc.is_empty() {
        s.push_str(&format!("\n  DESCRIPTION\n    {}\n", def.desc));
    }
    if !def.opts.is_empty() {
        s.push_str("\n  OPTIONS\n");
        for o in def.opts.iter().filter(|o| !o.hidden) {
            let buf = match o.ty {
                OptType::Bool => format!("--{}", o.name),
                OptType::Int => {
                    if o.req {
                        format!("[--{}] <number>", o.name)
                    } else {
                        format!("--{} <number>", o.name)
                    }
                }
                OptType::Str => format!("--{} <string>", o.name),
                OptType::Data => format!("[--{}] <string>", o.name),
                OptType::Argv => {
                    if shortopt {
                        format!("[--{}] <string>", o.name)
                    } else {
                        format!("<{}>", o.name)
                    }
                }
            };
            s.push_str(&format!("    {buf:<15}  {}\n", o.help));
        }
    }
    s.push('\n');
    s
}
