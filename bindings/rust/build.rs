//! Link libseqcls.so: from $SEQCLS_LIB_DIR, else the build tree (../../lib,
//! after `make`), else pkg-config's libdir (after `make install`).  The
//! directory is also put in the rpath of this package's binaries (tests,
//! examples), so they run without LD_LIBRARY_PATH.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_libdir() -> Option<PathBuf> {
    let out = Command::new("pkg-config").args(["--variable=libdir", "seqcls"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if dir.is_empty() { None } else { Some(PathBuf::from(dir)) }
}

fn main() {
    println!("cargo:rerun-if-env-changed=SEQCLS_LIB_DIR");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let tree = manifest.join("../../lib");
    let dir = if let Ok(d) = env::var("SEQCLS_LIB_DIR") {
        PathBuf::from(d)
    } else if tree.join("libseqcls.so.1").exists() {
        tree.canonicalize().unwrap()
    } else if let Some(d) = pkg_config_libdir() {
        d
    } else {
        panic!("seqcls: libseqcls.so not found: run `make` in the repository root, \
                `make install`, or set SEQCLS_LIB_DIR");
    };
    let so = dir.join("libseqcls.so.1");
    println!("cargo:rerun-if-changed={}", so.display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=seqcls");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}

