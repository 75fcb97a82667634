//! Bakes the folder cff-sys found libcff_c in into this crate's tests and examples as an rpath, so
//! that `cargo test` runs without LD_LIBRARY_PATH, and publishes it as `DEP_CFF_LIB_DIR` to the
//! build script of a crate that depends on this one. Cargo passes no linker flags from a dependency
//! to a program's link, so a program of yours bakes it in with a build.rs of its own (the README
//! shows the three lines), or runs with LD_LIBRARY_PATH, or needs neither when libcff is installed
//! in a default loader path.
fn main() {
    if let Ok(dir) = std::env::var("DEP_CFF_C_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:lib_dir={dir}");
    }
}
