//! virsh's command-line grammar (`vshCommandParse` in libvirt's
//! `tools/vsh.c`), re-implemented: tokenizing of a command string (quotes,
//! backslash escapes, `;` and newline separators, `#` comments), options as
//! `--name value`, `--name=value` or positional (every non-boolean option
//! that is not "named only" fills the next positional slot, in declaration
//! order), `--` ending option parsing, and the same error messages.

use crate::defs::{CmdDef, OptDef, OptType, lookup_command};

/// One parsed command: its definition and the options given, in order.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub def: &'static CmdDef,
    pub opts: Vec<(&'static OptDef, Option<String>)>,
}

impl Cmd {
    /// Was boolean (or any) option `name` given?
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(d, _)| d.name == name)
    }

    /// The raw value of option `name` (first occurrence).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(d, _)| d.name == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of an ARGV option.
    pub fn argv(&self, name: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(d, _)| d.name == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }
}

/// A token source: the string tokenizer or the argv list.
pub enum Source<'a> {
    Str { s: &'a [u8], pos: usize },
    Argv { args: &'a [String], pos: usize },
}

enum Tok {
    Arg(String),
    SubEnd,
    End,
}

impl Source<'_> {
    fn next(&mut self) -> Result<Tok, String> {
        match self {
            Source::Argv { args, pos } => {
                if *pos >= args.len() {
                    Ok(Tok::End)
                } else {
                    *pos += 1;
                    Ok(Tok::Arg(args[*pos - 1].clone()))
                }
            }
            Source::Str { s, pos } => {
                let s: &[u8] = s;
                let mut p = *pos;
                while p < s.len()
                    && (s[p] == b' '
                        || s[p] == b'\t'
                        || (s[p] == b'\\' && s.get(p + 1) == Some(&b'\n')))
                {
                    p += if s[p] == b'\\' { 2 } else { 1 };
                }
                if p >= s.len() {
                    *pos = p;
                    return Ok(Tok::End);
                }
                if s[p] == b';' || s[p] == b'\n' {
                    *pos = p + 1;
                    return Ok(Tok::SubEnd);
                }
                if s[p] == b'#' {
                    while p < s.len() && s[p] != b'\n' {
                        p += 1;
                    }
                    *pos = if p < s.len() { p + 1 } else { p };
                    return Ok(Tok::SubEnd);
                }
                let mut out: Vec<u8> = Vec::new();
                let (mut sq, mut dq) = (false, false);
                while p < s.len() {
                    let c = s[p];
                    if !dq && !sq && (c == b' ' || c == b'\t' || c == b';' || c == b'\n') {
                        break;
                    }
                    if !dq && c == b'\'' {
                        sq = !sq;
                        p += 1;
                        continue;
                    } else if !sq && c == b'\\' {
                        p += 1;
                        if p >= s.len() {
                            return Err("dangling \\".to_owned());
                        } else if s[p] == b'\n' {
                            p += 1;
                            continue;
                        }
                    } else if !sq && c == b'"' {
                        dq = !dq;
                        p += 1;
                        continue;
                    }
                    out.push(s[p]);
                    p += 1;
                }
                if dq {
                    return Err("missing \"".to_owned());
                }
                *pos = p;
                Ok(Tok::Arg(String::from_utf8_lossy(&out).into_owned()))
            }
        }
    }
}

/// Bits of the options that can be given positionally, and of the required ones.
fn opt_masks(def: &CmdDef) -> (u64, u64) {
    let mut need = 0u64;
    let mut required = 0u64;
    for (i, o) in def.opts.iter().enumerate() {
        if o.ty == OptType::Bool {
            continue;
        }
        if o.req_opt {
            if o.req {
                required |= 1 << i;
            }
            continue;
        }
        need |= 1 << i;
        if o.req {
            required |= 1 << i;
        }
    }
    (need, required)
}

/// The `help` option every command accepts (`--help` turns it into `help CMD`).
static HELP_OPT: OptDef = OptDef::boolean("help", "");

/// Parses a whole command line into commands; on error returns virsh's message.
pub fn parse(mut src: Source<'_>) -> Result<Vec<Cmd>, String> {
    let mut cmds = Vec::new();
    loop {
        let mut cmd: Option<&'static CmdDef> = None;
        let mut opts: Vec<(&'static OptDef, Option<String>)> = Vec::new();
        let mut data_only = false;
        let (mut need, mut required, mut seen) = (0u64, 0u64, 0u64);
        let mut saw_help = false;
        let end;
        loop {
            let tk = src.next()?;
            let tok = match tk {
                Tok::Arg(t) => t,
                Tok::SubEnd => {
                    end = false;
                    break;
                }
                Tok::End => {
                    end = true;
                    break;
                }
            };
            let Some(def) = cmd else {
                if tok.starts_with('#') {
                    // comment: swallow the rest of this command
                    loop {
                        match src.next()? {
                            Tok::Arg(_) => {}
                            Tok::SubEnd => break,
                            Tok::End => return finish(cmds, None),
                        }
                    }
                    end = false;
                    break;
                }
                let Some(d) = lookup_command(&tok) else {
                    return Err(format!("unknown command: '{tok}'"));
                };
                let (n, r) = opt_masks(d);
                need = n;
                required = r;
                cmd = Some(d);
                continue;
            };
            let b = tok.as_bytes();
            let positional = if data_only {
                true
            } else if b.len() > 2 && b[0] == b'-' && b[1] == b'-' && b[2].is_ascii_alphanumeric() {
                let (name, inline) = match tok[2..].split_once('=') {
                    Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                    None => (tok[2..].to_owned(), None),
                };
                let opt: &'static OptDef = if name == "help" {
                    &HELP_OPT
                } else {
                    match def.opts.iter().enumerate().find(|(_, o)| o.name == name) {
                        Some((i, o)) => {
                            if seen & (1 << i) != 0 && o.ty != OptType::Argv {
                                return Err(format!("option --{name} already seen"));
                            }
                            seen |= 1 << i;
                            if o.ty != OptType::Bool && o.ty != OptType::Argv {
                                need &= !(1 << i);
                            }
                            o
                        }
                        None => {
                            if def.name == "help" {
                                continue;
                            }
                            return Err(format!(
                                "command '{}' doesn't support option --{name}",
                                def.name
                            ));
                        }
                    }
                };
                if opt.ty == OptType::Bool {
                    if inline.is_some() {
                        return Err(format!("invalid '=' after option --{}", opt.name));
                    }
                    if opt.name == "help" {
                        saw_help = true;
                    }
                    opts.push((opt, None));
                } else {
                    let val = match inline {
                        Some(v) => v,
                        None => match src.next()? {
                            Tok::Arg(v) => v,
                            _ => {
                                return Err(format!(
                                    "expected syntax: --{} <{}>",
                                    opt.name,
                                    if opt.ty == OptType::Int {
                                        "number"
                                    } else {
                                        "string"
                                    }
                                ));
                            }
                        },
                    };
                    opts.push((opt, Some(val)));
                }
                false
            } else if tok == "--" {
                data_only = true;
                continue;
            } else {
                true
            };
            if positional {
                if need == 0 {
                    if def.name == "help" {
                        continue;
                    }
                    return Err(format!("unexpected data '{tok}'"));
                }
                let i = need.trailing_zeros() as usize;
                let o = &def.opts[i];
                if o.ty != OptType::Argv {
                    need &= !(1 << i);
                }
                seen |= 1 << i;
                opts.push((o, Some(tok)));
            }
        }
        if let Some(def) = cmd {
            let c = if saw_help {
                let help = lookup_command("help").expect("help exists");
                Cmd {
                    def: help,
                    opts: vec![(&help.opts[0], Some(def.name.to_owned()))],
                }
            } else {
                let missing = required & !seen;
                if missing != 0 {
                    let o = &def.opts[missing.trailing_zeros() as usize];
                    return Err(if matches!(o.ty, OptType::Data | OptType::Argv) {
                        format!("command '{}' requires <{}> option", def.name, o.name)
                    } else {
                        format!("command '{}' requires --{} option", def.name, o.name)
                    });
                }
                Cmd { def, opts }
            };
            cmds.push(c);
        }
        if end {
            return Ok(cmds);
        }
    }
}

fn finish(cmds: Vec<Cmd>, _c: Option<Cmd>) -> Result<Vec<Cmd>, String> {
    Ok(cmds)
}

/// Parses one command string (batch argument or an interactive line).
pub fn parse_str(s: &str) -> Result<Vec<Cmd>, String> {
    parse(Source::Str {
        s: s.as_bytes(),
        pos: 0,
    })
}

/// Parses several arguments as the tokens of one command (virsh's argv mode).
pub fn parse_argv(args: &[String]) -> Result<Vec<Cmd>, String> {
    parse(Source::Argv { args, pos: 0 })
}
