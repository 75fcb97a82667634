#pragma once
/// @file limits.hpp
/// Limits on what input may make libcff allocate. Every reader checks the size an input declares
/// (an image's width x height, an IDX header's dimensions, a file's length, a config's layer
/// sizes) against these limits *before* it allocates, and refuses with a one-line cff::Error
/// naming the input and the limit. The limits are process-wide; the defaults suit a desktop or a
/// server and are stated below.

#include <cstdint>
#include <string>

namespace cff {

struct InputLimits {
  /// Width x height of one decoded image (image folders, `cff predict`). Default 64 Mpx
  /// (67,108,864 pixels, 256 MiB decoded as RGBA). CLI: --max-image-pixels.
  int64_t max_image_pixels = int64_t(64) << 20;
  /// Length of one file read whole: an image, a CIFAR batch, a gzip'd or plain IDX file, a
  /// checkpoint, a JSON config. Default 2 GiB. CLI: --max-file-size.
  int64_t max_file_bytes = int64_t(2) << 30;
  /// Decoded bytes of one data set held in memory: an IDX file after gunzip, a CIFAR part, an
  /// image folder decoded into memory. Default 4 GiB. CLI: --max-data-size.
  int64_t max_data_bytes = int64_t(4) << 30;
  /// Parameters (weights) a model config may describe: checked by Config::validate() before a
  /// model is built, so a config or checkpoint cannot make libcff allocate more. Default 2^30
  /// (4 GiB of float32 weights). CLI: --max-parameters.
  int64_t max_parameters = int64_t(1) << 30;
};

/// The current limits (a copy). Thread-safe.
InputLimits input_limits();
/// Replaces the limits; each must be >= 1 (kInvalidArgument otherwise). Thread-safe; readers
/// already running keep the limits they started with.
void set_input_limits(const InputLimits& limits);

/// Sets one limit by its name ("max_image_pixels", "max_file_bytes", "max_data_bytes",
/// "max_parameters"); kInvalidArgument for an unknown name or a value < 1.
void set_input_limit(const std::string& name, int64_t value);

}  // namespace cff
