#!/usr/bin/env bash
# Runs one binding's test suite, or the cross-binding check, against a built libcff_c.
#
#   run-binding.sh rust|go|python|cross|examples SOURCE_DIR LIB_DIR WORK_DIR [C_CROSS_CHECKER]
#
# Exits 77 (ctest SKIP_RETURN_CODE) with "skipped: toolchain missing" only when the language's
# toolchain is absent (cargo; go; python3 with numpy). Everything else is a real pass or failure.
set -euo pipefail
what=$1 src=$2 lib=$3 work=$4 c_checker=${5:-}
mkdir -p "$work"
export OMP_NUM_THREADS=1

find_cargo() {
  command -v cargo 2>/dev/null || { [ -x "$HOME/.cargo/bin/cargo" ] && echo "$HOME/.cargo/bin/cargo"; } || true
}
find_go() { command -v go 2>/dev/null || { [ -x /usr/bin/go ] && echo /usr/bin/go; } || true; }
find_python() { # Debian's python3 first (it has python3-numpy); then whatever python3 is on PATH
  local p
  for p in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
    [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import numpy' 2>/dev/null && { echo "$p"; return; }
  done
}

run_rust() { # $1: extra cargo test arguments
  local cargo; cargo=$(find_cargo)
  (cd "$src/bindings/rust" && CFF_LIB_DIR="$lib" CARGO_TARGET_DIR="$work/rust-target" \
     "$cargo" test --offline --quiet "$@")
}
run_go() {
  local go; go=$(find_go)
  (cd "$src/bindings/go" && CGO_ENABLED=1 CGO_CFLAGS="-I$src/capi/include" \
     CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib" GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off \
     GOCACHE="$work/go-cache" GOPATH="$work/go-path" "$go" test -count=1 "$@" .)
}
run_python() {
  local py; py=$(find_python)
  CFF_LIBRARY="$lib/libcff_c.so" PYTHONPATH="$src/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
    "$py" -m unittest discover -s "$src/bindings/python/tests" "$@"
}
available() {
  case $1 in
    rust) [ -n "$(find_cargo)" ] ;;
    go) [ -n "$(find_go)" ] ;;
    python) [ -n "$(find_python)" ] ;;
  esac
}
skip() { echo "skipped: toolchain missing ($1)"; exit 77; }

# A cff.pc for this build tree, to test the pkg-config discovery of Rust's build.rs and Go's
# cff_pkgconfig tag (the installed cff.pc points at the install prefix instead).
with_pkg_config() {
  command -v pkg-config >/dev/null || { echo "(pkg-config absent: its discovery path is not tested)"; return 1; }
  mkdir -p "$work/pkgconfig"
  printf 'Name: cff\nDescription: libcff C API (build tree)\nVersion: 0\nLibs: -L%s -Wl,-rpath,%s -lcff_c\nCflags: -I%s\n' \
    "$lib" "$lib" "$src/capi/include" > "$work/pkgconfig/cff.pc"
  export PKG_CONFIG_PATH="$work/pkgconfig"
}

case $what in
  rust)
    available rust || skip "cargo"
    run_rust
    if with_pkg_config; then
      echo "== found through pkg-config instead of CFF_LIB_DIR"
      (cd "$src/bindings/rust" && env -u CFF_LIB_DIR CARGO_TARGET_DIR="$work/rust-target-pc" \
         "$(find_cargo)" test --offline --quiet --test api abi_version)
    fi
    ;;
  go)
    available go || skip "go (Debian: golang-go)"
    run_go -v
    if with_pkg_config; then
      echo "== built with -tags cff_pkgconfig"
      (cd "$src/bindings/go" && CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$work/go-cache" \
         GOPATH="$work/go-path" "$(find_go)" test -count=1 -tags cff_pkgconfig -run TestABI .)
    fi
    ;;
  python) available python || skip "python3 with numpy (Debian: python3-numpy)"; run_python -v ;;
  cross)
    # Each binding saves a model and its predictions on fixed probe images; then every binding, and
    # a C program, loads every saved model and must predict exactly the same.
    dir="$work/cross"; rm -rf "$dir"; mkdir -p "$dir"
    langs=()
    for l in python rust go; do available $l && langs+=("$l"); done
    ((${#langs[@]} >= 2)) || skip "fewer than two binding toolchains (have: ${langs[*]:-none})"
    models=$(IFS=,; echo "${langs[*]}")
    export CFF_CROSS_DIR="$dir" CFF_CROSS_MODELS="$models"
    for l in "${langs[@]}"; do
      echo "== $l saves a model"
      case $l in
        rust) CFF_CROSS_MODE=write run_rust --test api cross_binding ;;
        go) CFF_CROSS_MODE=write run_go -run TestCrossBinding ;;
        python) CFF_CROSS_MODE=write run_python -k cross_binding ;;
      esac
      [ -f "$dir/$l.cff" ] || { echo "$l wrote no model"; exit 1; }
    done
    for l in "${langs[@]}"; do
      echo "== $l loads the models of: $models"
      case $l in
        rust) CFF_CROSS_MODE=check run_rust --test api cross_binding -- --nocapture ;;
        go) CFF_CROSS_MODE=check run_go -v -run TestCrossBinding ;;
        python) CFF_CROSS_MODE=check run_python -v -k cross_binding ;;
      esac
    done
    echo "== C loads the models of: $models"
    args=()
    for l in "${langs[@]}"; do args+=("$dir/$l"); done
    "$c_checker" "${args[@]}"
    ;;
  examples)
    # Each binding's Fashion-MNIST example, on a small slice (train, save, reload, predict).
    data=/usr/share/datasets/fashion-mnist
    [ -d "$data" ] || { echo "skipped: $data missing (Debian: dataset-fashion-mnist)"; exit 77; }
    ran=0
    if available python; then
      echo "== python"; ran=1
      CFF_LIBRARY="$lib/libcff_c.so" PYTHONPATH="$src/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
        "$(find_python)" "$src/bindings/python/examples/fashion_mnist.py" "$data" --limit 512 --epochs 1
    fi
    if available rust; then
      echo "== rust"; ran=1
      (cd "$src/bindings/rust" && CFF_LIB_DIR="$lib" CARGO_TARGET_DIR="$work/rust-target" \
         "$(find_cargo)" run --offline --quiet --example fashion_mnist -- "$data" --limit 512 --epochs 1)
    fi
    if available go; then
      echo "== go"; ran=1
      (cd "$src/bindings/go" && CGO_ENABLED=1 CGO_CFLAGS="-I$src/capi/include" \
         CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib" GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off \
         GOCACHE="$work/go-cache" GOPATH="$work/go-path" "$(find_go)" run ./examples/fashionmnist \
         -data "$data" -limit 512 -epochs 1)
    fi
    ((ran)) || skip "no binding toolchain"
    ;;
  *) echo "usage: $0 rust|go|python|cross|examples SOURCE_DIR LIB_DIR WORK_DIR [C_CROSS_CHECKER]" >&2; exit 2 ;;
esac
