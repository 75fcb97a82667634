#!/usr/bin/env bash
# Installs the built libcff into a scratch prefix, then builds the C samples as a user would:
# with one compiler line through pkg-config, and as a CMake project with find_package(cff) and
# cff::cff_c. Runs each build on tiny data.  Usage: check-capi-package.sh BUILD_DIR SCRATCH SAMPLES
set -euo pipefail
build=$1 scratch=$2 samples=$3
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > /dev/null
pc_dir=$(dirname "$(find "$scratch/prefix" -name cff.pc | head -n1)")
export PKG_CONFIG_PATH="$pc_dir"
cc -std=c99 -Wall -Wextra -pedantic -Werror "$samples/train_layers.c" $(pkg-config --cflags --libs cff) \
   -o "$scratch/train_layers"
"$scratch/train_layers" --tiny
cmake -S "$samples" -B "$scratch/samples" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$scratch/samples" > /dev/null
"$scratch/samples/cff_sample_fashion_mnist" --tiny
