//! Generates the C header of libvirsnap with cbindgen (pinned =0.29.4).
//!
//! The header is written to `$OUT_DIR/virsnap.h` and its path exported as
//! `VIRSNAP_GENERATED_HEADER` for `tests/header.rs`, which fails when the
//! committed `include/virsnap.h` is stale. `VIRSNAP_BLESS=1 cargo build`
//! (or a missing `include/virsnap.h`) copies it into `include/`.

use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let capi = root.join("capi");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("virsnap.h");
    println!("cargo:rerun-if-changed=capi/cbindgen.toml");
    println!("cargo:rerun-if-changed=capi/src");
    println!("cargo:rerun-if-env-changed=VIRSNAP_BLESS");

    let config =
        cbindgen::Config::from_file(capi.join("cbindgen.toml")).expect("capi/cbindgen.toml");
    let mut builder = cbindgen::Builder::new().with_config(config);
    let mut files: Vec<PathBuf> = std::fs::read_dir(capi.join("src"))
        .expect("capi/src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    // cbindgen follows `mod` declarations from the crate root; giving it every
    // file as well would declare each function twice.
    builder = builder.with_src(capi.join("src").join("lib.rs"));
    let bindings = builder.generate().expect("cbindgen failed on capi/src");
    bindings.write_to_file(&out);
    println!("cargo:rustc-env=VIRSNAP_GENERATED_HEADER={}", out.display());

    let committed = root.join("include").join("virsnap.h");
    if std::env::var_os("VIRSNAP_BLESS").is_some_and(|v| v == "1") || !committed.exists() {
        copy(&out, &committed);
    }
}

fn copy(from: &Path, to: &Path) {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).expect("create include/");
    }
    std::fs::copy(from, to).expect("copy header into include/");
}
