#!/usr/bin/env bash
# Installs the built libcff into a scratch prefix, checks that the installed cff tool runs without
# LD_LIBRARY_PATH, then configures, builds and runs a C++ consumer project against it with
# find_package(cff), and a C-only one with find_package(cff COMPONENTS C) while LibTorch's CMake
# files are out of reach (CMAKE_DISABLE_FIND_PACKAGE_Torch).  Usage: check-package.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
build=$1 scratch=$2
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > /dev/null
# The installed tool runs from the prefix by its relative runpath, without LD_LIBRARY_PATH.
if [ -x "$scratch/prefix/bin/cff" ]; then
  env -u LD_LIBRARY_PATH "$scratch/prefix/bin/cff" --version
fi
cmake -S "$(dirname "$0")/consumer" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$scratch/consumer" > /dev/null
LD_LIBRARY_PATH="$scratch/prefix/lib:$scratch/prefix/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}" "$scratch/consumer/consumer"
cmake -S "$(dirname "$0")/consumer_c" -B "$scratch/consumer_c" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$scratch/consumer_c" > /dev/null
env -u LD_LIBRARY_PATH "$scratch/consumer_c/consumer_c"
