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

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(binary())
        .args(args)
        .output()
        .map_err(|e| Error::new(ErrorCode::OperationFailed, DOM, format!("cannot run qemu-img: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::new(
            ErrorCode::OperationFailed,
            DOM,
            format!("qemu-img {} failed: {}", args.first().copied().unwrap_or(""), err.trim()),
        ));
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

/// Internal snapshots of a qcow2 image (`qemu-img info -U --output=json`,
/// usable while QEMU holds the image).
pub fn snapshots(path: &Path) -> Result<Vec<ImgSnapshot>> {
    let out = run(&["info", "-U", "--output=json", p(path)?])?;
    let v = json::parse(&out).map_err(|e| Error::internal(DOM, format!("cannot parse qemu-img info output: {e}")))?;
    let mut list = Vec::new();
    for s in v.get("snapshots").and_then(Json::as_array).unwrap_or(&[]) {
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
    for l in v.as_array().unwrap_or(&[]) {
        let Some(f) = l.get("filename").and_then(Json::as_str) else { continue };
        let tags = l
            .get("snapshots")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
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
