//! The interactive shell on a terminal, as virsh's readline shell: line
//! editing, history kept across sessions, Tab completion of commands,
//! options, domain and snapshot names ([`crate::complete`]).
//!
//! History: `$XDG_CACHE_HOME/virsnap/history` (else
//! `~/.cache/virsnap/history`), at most `VIRSNAP_HISTSIZE` lines (500 by
//! default, 100 000 at most), as virsh's `VIRSH_HISTSIZE`.

use std::cell::RefCell;
use std::path::PathBuf;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::{DefaultHistory, History};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};
use virsnap_core::Connection;

use crate::Ctl;
use crate::complete::{self, Names};

const HISTSIZE_DEFAULT: usize = 500;
const HISTSIZE_MAX: usize = 100_000;

/// Completion with its own view of the connection (the shell's, refreshed
/// after every command; opened quietly on the first Tab that needs names).
struct Shell {
    conn: RefCell<Option<Connection>>,
    uri: String,
    readonly: bool,
}

impl Helper for Shell {}
impl Highlighter for Shell {}
impl Validator for Shell {}
impl Hinter for Shell {
    type Hint = String;
}

struct Borrowed<'a>(&'a Shell);

impl Names for Borrowed<'_> {
    fn connection(&mut self) -> Option<Connection> {
        let mut c = self.0.conn.borrow_mut();
        if c.is_none() {
            *c = if self.0.readonly {
                Connection::open_read_only(Some(&self.0.uri)).ok()
            } else {
                Connection::open(Some(&self.0.uri)).ok()
            };
        }
        c.clone()
    }
}

impl Completer for Shell {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = line.get(..pos).unwrap_or(line);
        let words = complete::split_line(head);
        let partial = words.last().map_or("", String::as_str);
        let start = if head.ends_with(partial) { pos - partial.len() } else { pos };
        let found = complete::candidates(&mut Borrowed(self), &words);
        let unique = found.len() == 1;
        let pairs = found
            .into_iter()
            .map(|c| Pair { display: c.clone(), replacement: if unique { format!("{c} ") } else { c } })
            .collect();
        Ok((start, pairs))
    }
}

fn history_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("virsnap").join("history"))
}

fn history_size() -> usize {
    std::env::var("VIRSNAP_HISTSIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(HISTSIZE_DEFAULT, |n| n.min(HISTSIZE_MAX))
}

/// Reads and runs commands with line editing until `quit` or end of input.
/// `None` when the terminal cannot be driven (the caller reads plain lines).
pub fn run(ctl: &mut Ctl, prompt: &str) -> Option<()> {
    let config = Config::builder()
        .max_history_size(history_size())
        .ok()?
        .history_ignore_space(false)
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut ed: Editor<Shell, DefaultHistory> = Editor::with_config(config).ok()?;
    ed.set_helper(Some(Shell {
        conn: RefCell::new(ctl.conn.clone()),
        uri: ctl.uri.clone().unwrap_or_else(crate::default_uri),
        readonly: ctl.readonly,
    }));
    let file = history_file();
    if let Some(f) = &file {
        // a missing or unreadable history is an empty one
        let _ = ed.load_history(f);
    }
    loop {
        ctl.flush();
        let line = match ed.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        };
        if !line.trim().is_empty() {
            let _ = ed.history_mut().add(&line);
        }
        match crate::parse::parse_str(&line) {
            Ok(cmds) => {
                crate::run(ctl, &cmds);
            }
            Err(e) => ctl.error(&e),
        }
        if let Some(h) = ed.helper_mut() {
            // `connect` may have changed the connection
            if ctl.conn.is_some() || h.uri != ctl.uri.clone().unwrap_or_else(crate::default_uri) {
                *h.conn.get_mut() = ctl.conn.clone();
            }
            h.uri = ctl.uri.clone().unwrap_or_else(crate::default_uri);
            h.readonly = ctl.readonly;
        }
        if ctl.quit {
            break;
        }
    }
    if let Some(f) = &file {
        if let Some(dir) = f.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // history is a convenience: a failure to keep it is not the command's
        if let Err(e) = ed.save_history(f) {
            ctl.error(&format!("Failed to save history to {}: {e}", f.display()));
        }
    }
    Some(())
}
