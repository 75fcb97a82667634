#!/usr/bin/env bash
# The bindings' set-up paths as the README gives them, from an install prefix: installs the built
# libcff into a scratch prefix, then for each binding whose toolchain is present builds a user's
# program outside this tree against that prefix (pkg-config through PKG_CONFIG_PATH; no
# CFF_LIB_DIR, CFF_LIBRARY or PYTHONPATH) and runs it without LD_LIBRARY_PATH:
#   Rust:   a crate with a path dependency on bindings/rust/cff and the README's build.rs (rpath);
#   Go:     a module that `replace`s libcff.org/cff with bindings/go, built with -tags cff_pkgconfig;
#   Python: a venv (--system-site-packages, for Debian's numpy) with `pip install
#           --no-build-isolation bindings/python`; the package must find the prefix's libcff_c
#           by itself, and pip must leave no build/ or *.egg-info in the source tree.
# Usage: check-bindings.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR. Exits 77 when no toolchain is present.
set -euo pipefail
build=$1 src=$(cd "$2" && pwd) scratch=$3
here=$(cd "$(dirname "$0")/bindings" && pwd)
rm -rf "$scratch"; mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" > /dev/null
pc=$(dirname "$(find "$prefix" -name cff.pc | head -n1)")
export PKG_CONFIG_PATH=$pc
unset LD_LIBRARY_PATH CFF_LIB_DIR CFF_LIBRARY PYTHONPATH
export OMP_NUM_THREADS=1
ran=()

cargo=$(command -v cargo 2>/dev/null || { [ -x "$HOME/.cargo/bin/cargo" ] && echo "$HOME/.cargo/bin/cargo"; } || true)
if [ -n "$cargo" ]; then
  echo "== rust: a crate using bindings/rust/cff, found through pkg-config"
  mkdir -p "$scratch/rust-user"
  cp -r "$here/rust/." "$scratch/rust-user/"
  cat > "$scratch/rust-user/Cargo.toml" <<TOML
[package]
name = "cff-user"
version = "0.1.0"
edition = "2021"

[dependencies]
cff = { path = "$src/bindings/rust/cff" }

[workspace]
TOML
  (cd "$scratch/rust-user" && CARGO_TARGET_DIR="$scratch/rust-target" "$cargo" build --offline --quiet)
  "$scratch/rust-target/debug/cff-user"
  ran+=(rust)
fi

go=$(command -v go 2>/dev/null || true)
if [ -n "$go" ]; then
  echo "== go: a module replacing libcff.org/cff with bindings/go, -tags cff_pkgconfig"
  mkdir -p "$scratch/go-user"
  cp "$here/go/main.go" "$scratch/go-user/"
  printf 'module example.com/cffuser\n\ngo 1.19\n\nrequire libcff.org/cff v0.0.0\n\nreplace libcff.org/cff => %s/bindings/go\n' \
    "$src" > "$scratch/go-user/go.mod"
  (cd "$scratch/go-user" && CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GOCACHE="$scratch/go-cache" \
     GOPATH="$scratch/go-path" "$go" build -tags cff_pkgconfig -o user .)
  "$scratch/go-user/user"
  ran+=(go)
fi

if /usr/bin/python3 -c 'import numpy, venv, ensurepip' 2>/dev/null; then
  echo "== python: a venv with pip install --no-build-isolation bindings/python"
  before=$(cd "$src/bindings/python" && find . | sort)
  /usr/bin/python3 -m venv --system-site-packages "$scratch/venv"
  "$scratch/venv/bin/pip" install --quiet --no-build-isolation --no-index "$src/bindings/python"
  after=$(cd "$src/bindings/python" && find . | sort)
  if [ "$before" != "$after" ]; then
    echo "pip install wrote into the source tree:"; diff <(echo "$before") <(echo "$after") || true; exit 1
  fi
  out=$(cd "$scratch" && "$scratch/venv/bin/python" "$here/python/user.py")
  echo "$out"
  grep -qx "library: $(realpath "$pc/../..")/.*libcff_c.so" <<< "$out" \
    || { echo "the installed package did not load the prefix's libcff_c"; exit 1; }
  ran+=(python)
fi

((${#ran[@]})) || { echo "skipped: toolchain missing (cargo, go, python3 with venv and numpy)"; exit 77; }
echo "set-up paths checked from $prefix: ${ran[*]}"
