#pragma once
// Helpers of the data suites: image files written with stb_image_write, byte-exact file writers.
#include <stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace cff::test {

// A C x H x W test pattern: pixel (c, y, x) = (seed * 37 + c * 71 + y * 13 + x * 7) % 256.
inline std::vector<uint8_t> pattern(int c, int h, int w, int seed) {
  std::vector<uint8_t> hwc(size_t(c * h * w));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) hwc[size_t((y * w + x) * c + k)] = uint8_t((seed * 37 + k * 71 + y * 13 + x * 7) % 256);
  return hwc;
}

// The same pattern as a C x H x W tensor.
inline torch::Tensor pattern_chw(int c, int h, int w, int seed) {
  auto hwc = pattern(c, h, w, seed);
  return torch::from_blob(hwc.data(), {h, w, c}, torch::kUInt8).permute({2, 0, 1}).contiguous().clone();
}

inline void write_png(const std::string& path, int c, int h, int w, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const auto px = pattern(c, h, w, seed);
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c)) << path;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ROOT/<class k>/img<i>.png, `per_class` gray h x w PNGs per class; seed of image = k*100+i.
inline void write_folder(const std::string& root, const std::vector<std::string>& classes, int per_class, int h = 8,
                         int w = 8, int c = 1) {
  for (size_t k = 0; k < classes.size(); ++k)
    for (int i = 0; i < per_class; ++i)
      write_png(root + "/" + classes[k] + "/img" + std::to_string(i) + ".png", c, h, w, int(k) * 100 + i);
}

}  // namespace cff::test
