#!/usr/bin/env bash
# Installs every Debian package libcff needs to build, test and run its main job.
# Idempotent: packages already present are skipped by apt. Run as root or with sudo available.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU) — the core
  libopenblas-dev         # fast BLAS; Debian's default reference BLAS is ~10x slower
  libboost-dev            # Boost.DLL (header-only) for plugins
  libstb-dev              # stb_image for image folders
  zlib1g-dev              # gzip'd IDX files
  googletest libgtest-dev libbenchmark-dev
  nlohmann-json3-dev      # config files and --json output
  libcli11-dev            # command-line parsing for the cff tool
  dataset-fashion-mnist   # real data for the main job and examples
  python3-numpy golang-go # bindings
  python3-setuptools python3-pip # pip install --no-build-isolation bindings/python
  python3-torch           # PyTorch 1.13: the side-by-side benchmark (tests/bench/compare_pytorch.py)
  python3-matplotlib      # the figures of experiments/
  libgloo-dev             # Gloo for c10d's ProcessGroupGloo (distributed training, libcff/src/parallel)
  clang libclang-rt-14-dev libfuzzer-14-dev # sanitizer build and fuzz targets (scripts/run-sanitizers.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Prefer OpenBLAS over the reference BLAS when both are installed.
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    cand=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas | head -n1 || true)
    if [ -n "$cand" ]; then
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO update-alternatives --set "$alt" "$cand" >/dev/null
    fi
  done
fi
echo "libcff dependencies: all installed"
