//! Finds libcff_c, in this order:
//! 1. `CFF_LIB_DIR`: the folder holding libcff_c.so (e.g. a build tree's `build/capi`, or an
//!    install prefix's `lib`);
//! 2. `pkg-config --libs cff` (set `PKG_CONFIG_PATH` for a non-system prefix);
//! 3. otherwise `-lcff_c` from the linker's default paths.
//!
//! The folder is also published to dependent build scripts as `DEP_CFF_C_LIB_DIR`, so that the
//! `cff` crate can bake an rpath into its tests and examples.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CFF_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rustc-link-lib=dylib=cff_c");

    if let Ok(dir) = env::var("CFF_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:lib_dir={dir}");
            return;
        }
    }
    let pkg = Command::new("pkg-config").args(["--libs", "cff"]).output();
    if let Ok(out) = pkg {
        if out.status.success() {
            let flags = String::from_utf8_lossy(&out.stdout);
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    // cff.pc names its prefix relative to itself (…/lib/pkgconfig/../..)
                    let dir = std::fs::canonicalize(dir).map_or(dir.to_string(), |p| p.display().to_string());
                    println!("cargo:rustc-link-search=native={dir}");
                    println!("cargo:lib_dir={dir}");
                }
            }
            return;
        }
    }
    println!("cargo:warning=libcff_c: neither CFF_LIB_DIR nor `pkg-config --libs cff` found it; trying the default linker paths");
}
