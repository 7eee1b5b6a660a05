//! Gives the cdylib libvirt-style soname `libvirsnap.so.0`. Symbol versions
//! need a relink of the staticlib (rustc ignores a second version script):
//! see `capi/build-so.sh`.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvirsnap.so.0");
}
