#pragma once
// Shared pieces of the libFuzzer targets: a per-process scratch folder on tmpfs and a file writer.
// Every target calls libcff the way a user would and accepts cff::Error (the documented failure);
// anything else (a crash, a sanitizer report, another exception type, a hang) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cff/cff.hpp"

namespace cff::fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const char* shm = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    auto p = std::filesystem::path(shm) / ("cff_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    // Small limits: the fuzzer's memory limit (-rss_limit_mb) must never be what stops an input.
    InputLimits l;
    l.max_image_pixels = 1 << 20;
    l.max_file_bytes = 1 << 24;
    l.max_data_bytes = 1 << 26;
    l.max_parameters = 1 << 22;
    set_input_limits(l);
    torch::set_num_threads(1);
    return p;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = (scratch() / name).string();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace cff::fuzz

/// Runs `body`; cff::Error is the expected refusal, anything else escapes to libFuzzer.
#define CFF_FUZZ_EXPECTING_ERRORS(...) \
  try {                                \
    __VA_ARGS__;                       \
  } catch (const cff::Error&) {        \
  }
