// A user's build script, as the README shows it: Cargo passes no linker flags from a dependency to
// the final link, so the program bakes in the folder the `cff` crate found libcff_c in (from
// pkg-config, or CFF_LIB_DIR) as its rpath and then runs without LD_LIBRARY_PATH.
fn main() {
    if let Ok(dir) = std::env::var("DEP_CFF_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
