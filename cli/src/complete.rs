//! Completion of command lines: command names, options, domain and
//! snapshot names. One engine serves the interactive shell's Tab (through
//! rustyline) and `virsnap complete -- WORDS…`, which bash calls through
//! `cli/completion/virsnap.bash` (as virsh's `complete` command and its
//! bash completion script).

use std::collections::HashMap;

use virsnap_core::Connection;

use crate::Ctl;
use crate::defs::{COMMANDS, CmdDef, GROUPS, OptDef, OptType, lookup_command};
use crate::parse::Cmd;

/// Options whose values are snapshot names of the command's domain.
const SNAPSHOT_OPTS: &[&str] = &["snapshotname", "from"];

/// Where names come from: the shell's connection, opened on first need
/// without reporting a failure (completion stays quiet).
pub trait Names {
    fn connection(&mut self) -> Option<Connection>;
}

impl Names for Ctl {
    fn connection(&mut self) -> Option<Connection> {
        if self.conn.is_none() {
            let uri = self.uri.clone().unwrap_or_else(crate::default_uri);
            let c = if self.readonly {
                Connection::open_read_only(Some(&uri))
            } else {
                Connection::open(Some(&uri))
            };
            self.conn = c.ok();
        }
        self.conn.clone()
    }
}

/// The candidates for the last of `words` (the word being completed; the
/// others come before it on the line), each a whole word that starts with
/// it, in a stable order.
pub fn candidates(names: &mut dyn Names, words: &[String]) -> Vec<String> {
    // only the last command of a `;`-separated line counts
    let words = match words.iter().rposition(|w| w == ";") {
        Some(p) => &words[p + 1..],
        None => words,
    };
    let (partial, before) = match words.split_last() {
        Some((p, b)) => (p.as_str(), b),
        None => ("", &[][..]),
    };
    let mut out: Vec<String> = match before.split_first() {
        None => visible_commands().map(|c| c.name.to_owned()).collect(),
        Some((name, args)) => match lookup_command(name) {
            Some(def) => for_command(names, def, args, partial),
            None => Vec::new(),
        },
    };
    out.retain(|c| c.starts_with(partial));
    out
}

fn visible_commands() -> impl Iterator<Item = &'static CmdDef> {
    COMMANDS.iter().filter(|c| c.group < GROUPS.len())
}

/// Takes a value in a positional slot (virsh: not boolean, not named-only).
fn positional(o: &OptDef) -> bool {
    o.ty != OptType::Bool && !o.req_opt
}

fn for_command(names: &mut dyn Names, def: &'static CmdDef, args: &[String], partial: &str) -> Vec<String> {
    let mut values: HashMap<&'static str, String> = HashMap::new();
    let mut pending: Option<&'static OptDef> = None;
    let mut data_only = false;
    for w in args {
        if let Some(o) = pending.take() {
            values.insert(o.name, w.clone());
            continue;
        }
        if !data_only && w == "--" {
            data_only = true;
            continue;
        }
        if !data_only && let Some(opt) = w.strip_prefix("--") {
            let (n, inline) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (opt, None),
            };
            if let Some(o) = def.opts.iter().find(|o| o.name == n) {
                match (o.ty, inline) {
                    (OptType::Bool, _) => {
                        values.insert(o.name, String::new());
                    }
                    (_, Some(v)) => {
                        values.insert(o.name, v.to_owned());
                    }
                    (_, None) => pending = Some(o),
                }
            }
            continue;
        }
        if let Some(o) = next_slot(def, &values) {
            values.insert(o.name, w.clone());
        }
    }
    if let Some(o) = pending {
        return values_of(names, def, o, &values);
    }
    let mut out = Vec::new();
    if (data_only || !partial.starts_with('-'))
        && let Some(o) = next_slot(def, &values)
    {
        out.extend(values_of(names, def, o, &values));
    }
    if !data_only && (partial.is_empty() || partial.starts_with('-')) {
        out.extend(
            def.opts
                .iter()
                .filter(|o| o.ty == OptType::Argv || !values.contains_key(o.name))
                .map(|o| format!("--{}", o.name)),
        );
    }
    out
}

/// The next positional option without a value (an ARGV option takes all).
fn next_slot(def: &'static CmdDef, values: &HashMap<&'static str, String>) -> Option<&'static OptDef> {
    def.opts
        .iter()
        .find(|o| positional(o) && (o.ty == OptType::Argv || !values.contains_key(o.name)))
}

/// Candidate values of option `o`.
fn values_of(
    names: &mut dyn Names,
    def: &CmdDef,
    o: &OptDef,
    values: &HashMap<&'static str, String>,
) -> Vec<String> {
    if def.name == "help" && o.name == "command" {
        let mut v: Vec<String> = visible_commands().map(|c| c.name.to_owned()).collect();
        v.extend(GROUPS.iter().map(|(_, kw)| (*kw).to_owned()));
        return v;
    }
    if o.name == "domain" {
        let Some(conn) = names.connection() else {
            return Vec::new();
        };
        let mut v: Vec<String> = conn
            .list_all_domains(0)
            .map(|ds| ds.iter().map(|d| d.name().to_owned()).collect())
            .unwrap_or_default();
        v.sort();
        return v;
    }
    if SNAPSHOT_OPTS.contains(&o.name) && def.opts.iter().any(|d| d.name == "domain") {
        let Some(dom) = values.get("domain") else {
            return Vec::new();
        };
        let Some(conn) = names.connection() else {
            return Vec::new();
        };
        let Ok(d) = conn.lookup_by_name(dom) else {
            return Vec::new();
        };
        let mut v = d.snapshot_list_names(0).unwrap_or_default();
        v.sort();
        return v;
    }
    Vec::new()
}

/// `complete [--] WORDS…`: one candidate a line. A single word holding
/// blanks is split as a command line is (`complete "snapshot-list --t"`).
pub fn cmd_complete(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let mut words: Vec<String> = cmd.argv("string").into_iter().map(str::to_owned).collect();
    if let [one] = words.as_slice()
        && one.contains([' ', '\t'])
    {
        words = split_line(one);
    }
    let mut out = String::new();
    for c in candidates(ctl, &words) {
        out.push_str(&c);
        out.push('\n');
    }
    ctl.print(&out);
    true
}

/// The words of `line` as the shell's tokenizer splits them, plus an
/// empty last word when the line ends in a blank (a new word starts).
pub fn split_line(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq, mut any) = (false, false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !dq => {
                sq = !sq;
                any = true;
            }
            '"' if !sq => {
                dq = !dq;
                any = true;
            }
            '\\' if !sq => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                any = true;
            }
            ' ' | '\t' if !sq && !dq => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            ';' if !sq && !dq => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
                words.push(";".to_owned());
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any || line.is_empty() || line.ends_with([' ', '\t', ';']) {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoConn;
    impl Names for NoConn {
        fn connection(&mut self) -> Option<Connection> {
            None
        }
    }

    fn w(s: &str) -> Vec<String> {
        split_line(s)
    }

    #[test]
    fn splits_like_the_shell() {
        assert_eq!(w("snapshot-list --t"), ["snapshot-list", "--t"]);
        assert_eq!(w("snapshot-list "), ["snapshot-list", ""]);
        assert_eq!(w("echo 'a b' c\\ d"), ["echo", "a b", "c d"]);
        assert_eq!(w("a; b"), ["a", ";", "b"]);
        assert_eq!(w(""), [""]);
    }

    #[test]
    fn commands_and_options() {
        let c = |s: &str| candidates(&mut NoConn, &w(s));
        assert_eq!(c("snapshot-l"), ["snapshot-list"]);
        assert_eq!(c("echo a; snapshot-cr"), ["snapshot-create", "snapshot-create-as"]);
        assert!(!c("").iter().any(|x| x == "complete"), "internal command hidden");
        assert_eq!(c("snapshot-list test --tr"), ["--tree"]);
        assert!(!c("snapshot-list test --tree --").contains(&"--tree".to_owned()));
        assert_eq!(c("help snapshot-cu"), ["snapshot-current"]);
        assert_eq!(c("help checkp"), ["checkpoint-create-as", "checkpoint"]);
        assert_eq!(c("nosuch --"), Vec::<String>::new());
    }
}
