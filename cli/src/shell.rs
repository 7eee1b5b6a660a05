//! The shell's own commands: echo, help, quit/exit, connect, uri.

use crate::Ctl;
use crate::defs::{self, GROUPS};
use crate::parse::Cmd;
use crate::util;

/// `VSH_EXCLUSIVE_OPTIONS_VAR`.
pub fn exclusive(ctl: &mut Ctl, cmd: &Cmd, a: &str, b: &str) -> bool {
    if cmd.has(a) && cmd.has(b) {
        ctl.error(&format!("Options --{a} and --{b} are mutually exclusive"));
        return false;
    }
    true
}

/// `virBufferEscapeShell`: quotes `s` for sh only if it is empty or holds
/// a shell metacharacter (other bytes, non-ASCII too, are left as they are).
pub fn shell_escape(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c)) {
        return s.to_owned();
    }
    let mut o = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            o.push_str("'\\''");
        } else {
            o.push(c);
        }
    }
    o.push('\'');
    o
}

pub fn cmd_echo(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let shell = cmd.has("shell");
    let xml = cmd.has("xml");
    let split = cmd.has("split");
    if !exclusive(ctl, cmd, "shell", "xml")
        || !exclusive(ctl, cmd, "shell", "split")
        || !exclusive(ctl, cmd, "xml", "split")
    {
        return false;
    }
    let mut buf = String::new();
    for a in cmd.argv("string") {
        let s = if xml {
            util::xml_escape(a)
        } else {
            a.to_owned()
        };
        if shell {
            buf.push_str(&shell_escape(&s));
            buf.push(' ');
        } else if split {
            for p in util::string_to_array(&s) {
                buf.push_str(&p);
                buf.push('\n');
            }
            buf.push(' ');
        } else {
            buf.push_str(&s);
            buf.push(' ');
        }
    }
    while buf.ends_with(' ') {
        buf.pop();
    }
    if !buf.is_empty() {
        if cmd.has("err") {
            ctl.error(&buf);
        } else {
            ctl.print(&buf);
        }
    }
    true
}

pub fn cmd_help(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(name) = cmd.raw("command") else {
        let s = defs::help_all();
        ctl.print(&s);
        return true;
    };
    if let Some(g) = GROUPS.iter().position(|(_, kw)| *kw == name) {
        let s = defs::help_group(g);
        ctl.print(&s);
        return true;
    }
    if let Some(def) = defs::lookup_command(name) {
        let s = defs::help_command(def);
        ctl.print(&s);
        return true;
    }
    ctl.error(&format!("command or command group '{name}' doesn't exist"));
    false
}

pub fn cmd_quit(ctl: &mut Ctl, _cmd: &Cmd) -> bool {
    ctl.quit = true;
    true
}

pub fn cmd_connect(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    if let Some(n) = cmd.raw("name") {
        ctl.uri = Some(n.to_owned());
    }
    ctl.readonly = cmd.has("readonly");
    ctl.conn = None;
    ctl.connect()
}

pub fn cmd_uri(ctl: &mut Ctl, _cmd: &Cmd) -> bool {
    let Some(c) = ctl.conn() else { return false };
    ctl.print(&format!("{}\n", c.uri()));
    true
}

pub fn cmd_cd(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    if !ctl.interactive {
        ctl.error("cd: command valid only in interactive mode");
        return false;
    }
    let dir = match cmd.raw("dir") {
        Some(d) => d.to_owned(),
        None => std::env::var("HOME").unwrap_or_else(|_| "/".to_owned()),
    };
    if let Err(e) = std::env::set_current_dir(crate::rawbytes::path(&dir)) {
        ctl.error(&format!("cd: {}: {}", util::strerror(&e), dir));
        return false;
    }
    true
}

pub fn cmd_pwd(ctl: &mut Ctl, _cmd: &Cmd) -> bool {
    match std::env::current_dir() {
        Ok(d) => {
            ctl.print(&format!("{}\n", d.display()));
            true
        }
        Err(e) => {
            ctl.error(&format!(
                "failed to get current directory: {}",
                util::strerror(&e)
            ));
            false
        }
    }
}
