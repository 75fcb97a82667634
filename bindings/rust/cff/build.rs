//! Bakes the folder cff-sys found libcff_c in into this crate's tests and examples as an rpath, so
//! that `cargo test` runs without LD_LIBRARY_PATH. (A program of yours needs its own rpath, or
//! LD_LIBRARY_PATH, unless libcff is installed in a default loader path.)
fn main() {
    if let Ok(dir) = std::env::var("DEP_CFF_C_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
