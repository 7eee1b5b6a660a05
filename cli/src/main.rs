//! `virsnap`: a virsh-compatible command-line client for virsnap's domain
//! snapshot API (plus the seed's own commands).
//!
//! Output is byte-compatible with virsh 9.0: every command's text, the extra
//! newline virsh prints after each command (suppressed by `-q`), `error: …`
//! lines on stderr and the exit status of the last command.
#![forbid(unsafe_code)]

mod complete;
mod defs;
mod domain;
mod editor;
mod event;
mod health;
mod json;
mod jobs;
mod parse;
mod rawbytes;
mod shell;
mod snapshot;
mod usage;
mod util;
mod xpath;

use std::io::{BufRead, IsTerminal, Write};

use virsnap_core::{Connection, Error};

/// The shell's state (`vshControl` + `virshControl`).
pub struct Ctl {
    /// URI given with `-c` / `connect`, or from the environment.
    pub uri: Option<String>,
    pub conn: Option<Connection>,
    pub readonly: bool,
    pub quiet: bool,
    /// The libvirt error of the failing call, reported after the command.
    pub last_error: Option<Error>,
    out: std::io::Stdout,
    /// Set by `quit`/`exit`.
    pub quit: bool,
    /// `-t`: print each command's run time.
    pub timing: bool,
    /// Reading commands interactively (`cd` works only there).
    pub interactive: bool,
}

impl Ctl {
    /// `vshPrint`: text to stdout as is.
    pub fn print(&mut self, s: &str) {
        let mut o = self.out.lock();
        let r = o.write_all(&rawbytes::encode(s));
        if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            // virsh dies of SIGPIPE here; do not run further commands for a
            // reader that went away.
            std::process::exit(141);
        }
    }

    /// Streams large output (`snapshot-list --tree`) to stdout through a
    /// buffer: `write` gets the writer; a reader that went away ends the
    /// process as in `print`.
    pub fn print_stream(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, self.out.lock());
        let r = write(&mut w).and_then(|()| w.flush());
        if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            std::process::exit(141);
        }
    }

    /// Flushes stdout (before prompting).
    pub fn flush(&mut self) {
        let _ = self.out.lock().flush();
    }

    /// `vshPrintExtra`: like print, unless `-q`.
    pub fn print_extra(&mut self, s: &str) {
        if !self.quiet {
            self.print(s);
        }
    }

    /// `vshError`: `error: MSG` on stderr (stdout flushed first).
    pub fn error(&mut self, msg: &str) {
        let _ = self.out.lock().flush();
        let mut e = std::io::stderr().lock();
        // one write, as virsh's one fprintf
        let mut line = b"error: ".to_vec();
        line.extend_from_slice(&rawbytes::encode(msg));
        line.push(b'\n');
        let _ = e.write_all(&line);
        let _ = e.flush();
    }

    /// Records a libvirt error for `report_error`.
    pub fn save(&mut self, e: Error) {
        self.last_error = Some(e);
    }

    /// `vshReportError`: prints the saved libvirt error, if any, and clears it.
    pub fn report_error(&mut self) {
        if let Some(e) = self.last_error.take() {
            self.error(&e.message);
        }
    }

    /// The connection, opened on first use (`virshConnectionHandler`).
    pub fn conn(&mut self) -> Option<Connection> {
        if self.conn.is_none() && !self.connect() {
            return None;
        }
        self.conn.clone()
    }

    /// Opens `self.uri`; on failure reports virsh's two error lines.
    pub fn connect(&mut self) -> bool {
        let uri = self.uri.clone().unwrap_or_else(default_uri);
        let r = if self.readonly {
            Connection::open_read_only(Some(&uri))
        } else {
            Connection::open(Some(&uri))
        };
        match r {
            Ok(c) => {
                if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() {
                    c.set_progress(Some(std::sync::Arc::new(util::progress)));
                }
                self.conn = Some(c);
                true
            }
            Err(e) => {
                self.error("failed to connect to the hypervisor");
                self.error(&e.message);
                false
            }
        }
    }
}

/// `VIRSH_DEFAULT_CONNECT_URI`, then `LIBVIRT_DEFAULT_URI`, else `test:///default`.
fn default_uri() -> String {
    for v in ["VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI"] {
        if let Ok(u) = std::env::var(v)
            && !u.is_empty()
        {
            return u;
        }
    }
    "test:///default".to_owned()
}

/// Runs parsed commands (`vshCommandRun`); the result of the last one.
fn run(ctl: &mut Ctl, cmds: &[parse::Cmd]) -> bool {
    let mut ret = true;
    for c in cmds {
        let t0 = std::time::Instant::now();
        if !c.def.no_connect && ctl.conn.is_none() && !ctl.connect() {
            ret = false;
        } else {
            ctl.last_error = None;
            ret = (c.def.handler)(ctl, c);
            if !ret {
                ctl.report_error();
            }
        }
        if ctl.quit {
            return ret;
        }
        if ctl.timing {
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            ctl.print(&format!("\n(Time: {ms:.3} ms)\n\n"));
        } else {
            ctl.print_extra("\n");
        }
    }
    ret
}

fn usage(prog: &str) -> String {
    format!(
        "\n{prog} [options]... [<command_string>]\n\
         {prog} [options]... <command> [args...]\n\n\
         \x20 options:\n\
         \x20   -c | --connect=URI      hypervisor connection URI\n\
         \x20   -d | --debug=NUM        debug level [0-4]\n\
         \x20   -e | --escape <char>    set escape sequence for console\n\
         \x20   -h | --help             this help\n\
         \x20   -k | --keepalive-interval=NUM\n\
         \x20                           keepalive interval in seconds, 0 for disable\n\
         \x20   -K | --keepalive-count=NUM\n\
         \x20                           number of possible missed keepalive messages\n\
         \x20   -l | --log=FILE         output logging to file\n\
         \x20   -q | --quiet            quiet mode\n\
         \x20   -r | --readonly         connect readonly\n\
         \x20   -t | --timing           print timing information\n\
         \x20   -v                      short version\n\
         \x20   -V                      long version\n\
         \x20        --version[=TYPE]   version, TYPE is short or long (default short)\n\
         \x20 commands (non interactive mode):\n\n{}\n\
         \x20 (specify help <group> for details about the commands in the group)\n\n\
         \x20 (specify help <command> for details about the command)\n\n",
        defs::help_all().trim_start_matches("Grouped commands:\n\n")
    )
}

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    // virsh takes any bytes; invalid UTF-8 is carried (see rawbytes)
    let args: Vec<String> = std::env::args_os().map(rawbytes::decode_os).collect();
    let prog = "virsnap";
    let mut ctl = Ctl {
        uri: None,
        conn: None,
        readonly: false,
        quiet: false,
        last_error: None,
        out: std::io::stdout(),
        quit: false,
        timing: false,
        interactive: false,
    };
    let mut explicit_uri = false;
    // getopt_long("+:c:d:e:hk:K:l:qrtvV")
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let with_arg = |short: char,
                        long: &str,
                        inline: Option<String>,
                        i: &mut usize|
         -> Result<String, String> {
            if let Some(v) = inline {
                return Ok(v);
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("option '-{short}'/'--{long}' requires an argument"))
        };
        let res: Result<(), String> = (|| {
            if let Some(long) = a.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (long, None),
                };
                let longs = [
                    ("connect", 'c', true),
                    ("debug", 'd', true),
                    ("escape", 'e', true),
                    ("help", 'h', false),
                    ("keepalive-interval", 'k', true),
                    ("keepalive-count", 'K', true),
                    ("log", 'l', true),
                    ("quiet", 'q', false),
                    ("readonly", 'r', false),
                    ("timing", 't', false),
                    ("version", 'v', false),
                ];
                let matches: Vec<_> = longs
                    .iter()
                    .filter(|(n, _, _)| n.starts_with(name))
                    .collect();
                let hit = longs
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .or(if matches.len() == 1 {
                        Some(matches[0])
                    } else {
                        None
                    });
                let Some(&(lname, short, takes)) = hit else {
                    return Err(format!("unsupported option '{a}'. See --help."));
                };
                let val = if takes {
                    Some(with_arg(short, lname, inline, &mut i)?)
                } else if lname == "version" {
                    inline.or(Some("short".to_owned()))
                } else {
                    if inline.is_some() {
                        return Err(format!("unsupported option '{a}'. See --help."));
                    }
                    None
                };
                apply(&mut ctl, short, val, &mut explicit_uri, prog)
            } else {
                let chars: Vec<char> = a[1..].chars().collect();
                let mut k = 0;
                while k < chars.len() {
                    let c = chars[k];
                    match c {
                        'c' | 'd' | 'e' | 'k' | 'K' | 'l' => {
                            let rest: String = chars[k + 1..].iter().collect();
                            let long = match c {
                                'c' => "connect",
                                'd' => "debug",
                                'e' => "escape",
                                'k' => "keepalive-interval",
                                'K' => "keepalive-count",
                                _ => "log",
                            };
                            let v = with_arg(
                                c,
                                long,
                                if rest.is_empty() { None } else { Some(rest) },
                                &mut i,
                            )?;
                            apply(&mut ctl, c, Some(v), &mut explicit_uri, prog)?;
                            return Ok(());
                        }
                        'h' | 'q' | 'r' | 't' | 'v' | 'V' => {
                            apply(&mut ctl, c, None, &mut explicit_uri, prog)?
                        }
                        _ => return Err(format!("unsupported option '-{c}'. See --help.")),
                    }
                    k += 1;
                }
                Ok(())
            }
        })();
        match res {
            Ok(()) => {}
            Err(e) if e == "\0exit" => return 0,
            Err(e) => {
                ctl.error(&e);
                return 1;
            }
        }
        i += 1;
    }
    if !explicit_uri {
        let env = default_uri();
        ctl.uri = Some(env);
    }
    let rest = &args[i.min(args.len())..];
    if !rest.is_empty() {
        let parsed = if rest.len() == 1 {
            parse::parse_str(&rest[0])
        } else {
            parse::parse_argv(rest)
        };
        let cmds = match parsed {
            Ok(c) => c,
            Err(e) => {
                ctl.error(&e);
                return 1;
            }
        };
        if explicit_uri && !ctl.connect() {
            return 1;
        }
        let ok = run(&mut ctl, &cmds);
        let _ = ctl.out.lock().flush();
        return if ok { 0 } else { 1 };
    }
    if explicit_uri && !ctl.connect() {
        return 1;
    }
    interactive(&mut ctl)
}

fn apply(
    ctl: &mut Ctl,
    c: char,
    val: Option<String>,
    explicit: &mut bool,
    prog: &str,
) -> Result<(), String> {
    match c {
        'c' => {
            ctl.uri = val;
            *explicit = true;
        }
        'h' => {
            ctl.print(&usage(prog));
            return Err("\0exit".to_owned());
        }
        'q' => ctl.quiet = true,
        'r' => ctl.readonly = true,
        't' => ctl.timing = true,
        'v' => {
            let long = val.as_deref() == Some("long");
            if long {
                ctl.print(&format!("{prog} {}\n", env!("CARGO_PKG_VERSION")));
            } else {
                ctl.print(&format!("{}\n", env!("CARGO_PKG_VERSION")));
            }
            return Err("\0exit".to_owned());
        }
        'V' => {
            ctl.print(&format!("{prog} {}\n", env!("CARGO_PKG_VERSION")));
            return Err("\0exit".to_owned());
        }
        _ => {}
    }
    Ok(())
}

/// Interactive mode: commands read line by line from stdin.
fn interactive(ctl: &mut Ctl) -> i32 {
    ctl.interactive = true;
    let tty = std::io::stdin().is_terminal();
    if !ctl.quiet {
        ctl.print(
            "Welcome to virsnap, the virtualization interactive terminal.\n\n\
             Type:  'help' for help with commands\n       'quit' to quit\n\n",
        );
    }
    let prompt = if ctl.readonly {
        "virsnap > "
    } else {
        "virsnap # "
    };
    if tty
        && std::io::stdout().is_terminal()
        && editor::run(ctl, prompt).is_some()
    {
        ctl.print("\n");
        ctl.flush();
        return 0;
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    loop {
        ctl.print(prompt);
        let _ = ctl.out.lock().flush();
        let mut raw = Vec::new();
        match lines.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if raw.ends_with(b"\n") {
            raw.pop();
        }
        let line = rawbytes::decode(&raw);
        if !tty {
            ctl.print(&line);
            ctl.print("\n");
        }
        match parse::parse_str(&line) {
            Ok(cmds) => {
                run(ctl, &cmds);
            }
            Err(e) => ctl.error(&e),
        }
        if ctl.quit {
            break;
        }
    }
    ctl.print("\n");
    let _ = ctl.out.lock().flush();
    0
}
