//! `qemu-img` runner: internal snapshots of shut-off disks, overlays, info.

use std::path::Path;
use std::process::Command;

use super::json::{self, Json};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const DOM: ErrorDomain = ErrorDomain::Qemu;

/// The qemu-img binary (`VIRSNAP_QEMU_IMG` overrides).
pub fn binary() -> String {
    std::env::var("VIRSNAP_QEMU_IMG").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "qemu-img".into())
}

/// The qemu-img binary as libvirt names it in errors: the `PATH` entry
/// it runs (`/usr/bin/qemu-img`), or the name as given.
fn display_binary(bin: &str) -> String {
    if bin.contains('/') {
        return bin.to_owned();
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join(bin)).find(|c| c.is_file()))
        .map_or_else(|| bin.to_owned(), |c| c.display().to_string())
}

/// `setpriv` of util-linux, used to start qemu-img with a parent-death
/// signal: a process killed in the middle of an operation (`kill -9`)
/// takes its qemu-img with it instead of leaving an orphan that holds the
/// image lock and finishes a step nobody records.
fn setpriv() -> Option<&'static str> {
    static SETPRIV: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *SETPRIV.get_or_init(|| {
        ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| {
            Command::new(p)
                .args(["--pdeathsig", "KILL", "true"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// Runs qemu-img with `args` ([`run_once`]), retrying a lock conflict.
fn run(args: &[&str]) -> Result<String> {
    // A qemu-img of a process killed a moment ago holds the image lock
    // until the parent-death signal has ended it: a lock conflict is
    // retried for a few seconds before it is reported.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match run_once(args) {
            Err(e) if e.message.contains("\"write\" lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

/// Runs qemu-img with `args` once and waits for it (on every path:
/// `output()` reaps the child; with `setpriv` it also dies with this thread).
/// Failure is worded as libvirt's `virCommandRun`: `VIR_ERR_INTERNAL_ERROR`
/// "Child process (CMD) unexpected exit status N: STDERR".
fn run_once(args: &[&str]) -> Result<String> {
    let bin = binary();
    let mut cmd = match setpriv() {
        Some(sp) => {
            let mut c = Command::new(sp);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let out = cmd
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::new(ErrorCode::InternalError, ErrorDomain::None, format!("cannot run {}: {e}", display_binary(&bin))))?;
    if !out.status.success() {
        use std::os::unix::process::ExitStatusExt as _;
        let status = match (out.status.code(), out.status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("fatal signal {s}"),
            (None, None) => "exit status -1".to_owned(),
        };
        let err = String::from_utf8_lossy(&out.stderr);
        let sep = if err.is_empty() { "" } else { ": " };
        let cmdline = std::iter::once(display_binary(&bin)).chain(args.iter().map(|a| (*a).to_owned())).collect::<Vec<_>>().join(" ");
        return Err(Error::new(ErrorCode::InternalError, ErrorDomain::None, format!("Child process ({cmdline}) unexpected {status}{sep}{err}")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn p(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::invalid_arg(DOM, "image path is not UTF-8"))
}

/// One internal snapshot inside a qcow2 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImgSnapshot {
    /// The tag (name).
    pub tag: String,
    /// Size of the saved VM state (0 = disk-only).
    pub vm_state_size: u64,
    /// Creation time, Unix seconds.
    pub date_sec: i64,
}

/// Waits (a few seconds at most) until no process holds `path`'s write
/// lock: `qemu-img info` without `-U` is refused while one does.
pub fn wait_unlocked(path: &Path) {
    if let Ok(p) = p(path) {
        // A lock still held after the wait is someone else's use of the
        // image; the caller's own qemu-img steps report it.
        drop(run(&["info", "--output=json", p]));
    }
}

/// `qemu-img snapshot -c TAG PATH`.
pub fn snapshot_create(path: &Path, tag: &str) -> Result<()> {
    run(&["snapshot", "-c", tag, p(path)?]).map(drop)
}

/// `qemu-img snapshot -a TAG PATH`.
pub fn snapshot_apply(path: &Path, tag: &str) -> Result<()> {
    run(&["snapshot", "-a", tag, p(path)?]).map(drop)
}

/// `qemu-img snapshot -d TAG PATH`.
pub fn snapshot_delete(path: &Path, tag: &str) -> Result<()> {
    run(&["snapshot", "-d", tag, p(path)?]).map(drop)
}

/// The qcow2 header fields that change whenever the internal snapshot list
/// does: (number of snapshots, snapshot table offset). `None` when `path`
/// is not a readable qcow2 file.
pub fn qcow2_snapshot_header(path: &Path) -> Option<(u32, u64)> {
    use std::io::Read;
    let mut h = [0u8; 72];
    std::fs::File::open(path).ok()?.read_exact(&mut h).ok()?;
    if &h[0..4] != b"QFI\xfb" {
        return None;
    }
    let nb = u32::from_be_bytes(h[60..64].try_into().ok()?);
    let off = u64::from_be_bytes(h[64..72].try_into().ok()?);
    Some((nb, off))
}

/// A digest of the internal snapshot table (tags and creation times, FNV-1a):
/// with [`qcow2_snapshot_header`] it tells apart two tables of the same
/// length at the same offset (a tag deleted and another created behind
/// virsnap's back, as `qemu-img` reuses the freed clusters). `None` when
/// the table is not readable natively. Since 0.2.
pub fn qcow2_snapshot_digest(path: &Path) -> Option<u64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in qcow2_snapshots(path)? {
        for b in s.tag.bytes().chain([0]).chain(s.date_sec.to_be_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    Some(h)
}

/// Reads the internal snapshot table of a qcow2 file directly (no process
/// spawned; a `qemu-img info` costs milliseconds). `None` on anything
/// unexpected, so the caller falls back to `qemu-img`.
fn qcow2_snapshots(path: &Path) -> Option<Vec<ImgSnapshot>> {
    use std::io::{Read, Seek, SeekFrom};
    let (nb, off) = qcow2_snapshot_header(path)?;
    if nb > 65536 {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let mut out = Vec::with_capacity(nb as usize);
    if nb == 0 {
        return Some(out);
    }
    f.seek(SeekFrom::Start(off)).ok()?;
    // Each entry: 40 fixed bytes, extra data, id, name, padding to 8.
    let mut r = std::io::BufReader::new(f);
    for i in 0..nb {
        let mut fixed = [0u8; 40];
        r.read_exact(&mut fixed).ok()?;
        let id_len = u16::from_be_bytes(fixed[12..14].try_into().ok()?) as usize;
        let name_len = u16::from_be_bytes(fixed[14..16].try_into().ok()?) as usize;
        let date_sec = u32::from_be_bytes(fixed[16..20].try_into().ok()?);
        let vm_state_32 = u32::from_be_bytes(fixed[32..36].try_into().ok()?);
        let extra_len = u32::from_be_bytes(fixed[36..40].try_into().ok()?) as usize;
        if extra_len > 1024 {
            return None;
        }
        let mut extra = vec![0u8; extra_len];
        r.read_exact(&mut extra).ok()?;
        let vm_state = if extra_len >= 8 { u64::from_be_bytes(extra[0..8].try_into().ok()?) } else { u64::from(vm_state_32) };
        let mut id_name = vec![0u8; id_len + name_len];
        r.read_exact(&mut id_name).ok()?;
        let tag = String::from_utf8(id_name[id_len..].to_vec()).ok()?;
        let used = 40 + extra_len + id_len + name_len;
        let pad = (8 - used % 8) % 8;
        // The last entry's padding may lie past the end of the file (the
        // table is often the file's last cluster, written unpadded).
        if i + 1 < nb {
            let mut skip = [0u8; 8];
            r.read_exact(&mut skip[..pad]).ok()?;
        }
        out.push(ImgSnapshot { tag, vm_state_size: vm_state, date_sec: i64::from(date_sec) });
    }
    Some(out)
}

/// Internal snapshots of a qcow2 image: read from the file's snapshot
/// table, else `qemu-img info -U --output=json` (usable while QEMU holds
/// the image).
pub fn snapshots(path: &Path) -> Result<Vec<ImgSnapshot>> {
    if let Some(v) = qcow2_snapshots(path) {
        return Ok(v);
    }
    snapshots_qemu_img(path)
}

/// [`snapshots`] through `qemu-img` only.
pub fn snapshots_qemu_img(path: &Path) -> Result<Vec<ImgSnapshot>> {
    let out = run(&["info", "-U", "--output=json", p(path)?])?;
    let v = json::parse(&out).map_err(|e| Error::internal(DOM, format!("cannot parse qemu-img info output: {e}")))?;
    let mut list = Vec::new();
    for s in v.get("snapshots").and_then(Json::as_array).into_iter().flatten() {
        let Some(tag) = s.get("name").and_then(Json::as_str) else { continue };
        list.push(ImgSnapshot {
            tag: tag.to_owned(),
            vm_state_size: s.get("vm-state-size").and_then(Json::as_u64).unwrap_or(0),
            date_sec: s.get("date-sec").and_then(Json::as_i64).unwrap_or(0),
        });
    }
    Ok(list)
}

/// `qemu-img info -U --output=json` → format name.
pub fn format_of(path: &Path) -> Result<String> {
    let out = run(&["info", "-U", "--output=json", p(path)?])?;
    let v = json::parse(&out).map_err(|e| Error::internal(DOM, format!("cannot parse qemu-img info output: {e}")))?;
    Ok(v.get("format").and_then(Json::as_str).unwrap_or("raw").to_owned())
}

/// `qemu-img create -f qcow2 -F FMT -b BACKING NEW` (an external overlay).
pub fn create_overlay(new: &Path, backing: &Path, backing_fmt: &str) -> Result<()> {
    run(&["create", "-q", "-f", "qcow2", "-F", backing_fmt, "-b", p(backing)?, p(new)?]).map(drop)
}

/// `qemu-img create -f FMT PATH SIZE`.
pub fn create(path: &Path, fmt: &str, size: &str) -> Result<()> {
    run(&["create", "-q", "-f", fmt, p(path)?, size]).map(drop)
}

/// One layer of a backing chain (`qemu-img info --backing-chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The image file.
    pub path: std::path::PathBuf,
    /// Its format.
    pub format: String,
    /// Tags of the internal snapshots it holds.
    pub tags: Vec<String>,
}

/// The backing chain of `path`, top first (`qemu-img info -U --backing-chain`,
/// usable while QEMU holds the images). A missing file gives an empty chain.
pub fn chain(path: &Path) -> Result<Vec<Layer>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let out = run(&["info", "-U", "--backing-chain", "--output=json", p(path)?])?;
    let v = json::parse(&out).map_err(|e| Error::internal(DOM, format!("cannot parse qemu-img info output: {e}")))?;
    let mut layers = Vec::new();
    for l in v.as_array().into_iter().flatten() {
        let Some(f) = l.get("filename").and_then(Json::as_str) else { continue };
        let tags = l
            .get("snapshots")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Json::as_str).map(str::to_owned))
            .collect();
        layers.push(Layer {
            path: std::path::PathBuf::from(f),
            format: l.get("format").and_then(Json::as_str).unwrap_or("raw").to_owned(),
            tags,
        });
    }
    Ok(layers)
}

/// `qemu-img commit -q -b BASE TOP`: writes every layer above `base` into
/// it (the layers are left as they were or emptied; the caller drops them).
pub fn commit(top: &Path, base: &Path) -> Result<()> {
    run(&["commit", "-q", "-b", p(base)?, p(top)?]).map(drop)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn native_snapshot_table_matches_qemu_img() {
        if Command::new(binary()).arg("--version").output().is_err() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("virsnap-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.qcow2");
        create(&p, "qcow2", "1M").unwrap();
        assert_eq!(qcow2_snapshots(&p).unwrap(), []);
        for t in ["a", "bb", "a-much-longer-tag-name-😀"] {
            snapshot_create(&p, t).unwrap();
        }
        snapshot_delete(&p, "bb").unwrap();
        assert_eq!(qcow2_snapshots(&p).unwrap(), snapshots_qemu_img(&p).unwrap());
        assert_eq!(qcow2_snapshots(&p).unwrap().len(), 2);
        let raw = dir.join("r.img");
        create(&raw, "raw", "1M").unwrap();
        assert!(qcow2_snapshots(&raw).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
