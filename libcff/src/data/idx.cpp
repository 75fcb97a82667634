// IDX (MNIST layout) reader: gzip'd or plain files, checked byte for byte.
#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "cff/data.hpp"
#include "cff/error.hpp"

namespace cff {
namespace {

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  CFF_CHECK_CODE(std::filesystem::is_regular_file(path), ErrorCode::kIo, path, ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  CFF_CHECK_CODE(f != nullptr, ErrorCode::kIo, path, ": cannot open");
  std::vector<uint8_t> data;
  uint8_t chunk[1 << 16];
  while (true) {
    const int got = gzread(f, chunk, sizeof chunk);
    if (got < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      detail::throw_error(ErrorCode::kFormat, path, ": corrupt gzip data (", msg, ")");
    }
    if (got == 0) break;
    data.insert(data.end(), chunk, chunk + got);
  }
  // A truncated gzip stream reads as a short file without an error from gzread; gzclose reports it.
  const int rc = gzclose(f);
  CFF_CHECK_CODE(rc == Z_OK, ErrorCode::kFormat, path, ": truncated or corrupt gzip stream");
  return data;
}

uint32_t big_endian(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Checks magic (uint8 data, `dims` dimensions) and size; returns the dimensions.
std::vector<int64_t> parse_header(const std::vector<uint8_t>& data, const std::string& path, int dims,
                                  const char* what) {
  CFF_CHECK_CODE(data.size() >= 4, ErrorCode::kFormat, path, ": too short to be an IDX file (", data.size(),
                 " bytes)");
  const uint32_t magic = big_endian(data.data());
  const uint32_t expected = 0x00000800u | uint32_t(dims);
  CFF_CHECK_CODE(magic == expected, ErrorCode::kFormat, path, ": bad IDX magic 0x", std::hex, magic, " for ", what,
                 " (expected 0x", expected, ": unsigned bytes, ", std::dec, dims, " dimensions)");
  const size_t header = 4 + 4 * size_t(dims);
  CFF_CHECK_CODE(data.size() >= header, ErrorCode::kFormat, path, ": truncated IDX header");
  std::vector<int64_t> shape;
  uint64_t count = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian(data.data() + 4 + 4 * d));
    count *= uint64_t(shape.back());
  }
  CFF_CHECK_CODE(data.size() - header == count, ErrorCode::kFormat, path, ": header says ", count,
                 " data bytes, file has ", data.size() - header, data.size() - header < count ? " (truncated)" : "");
  return shape;
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  const auto data = read_maybe_gzip(path);
  const auto shape = parse_header(data, path, 3, "images");
  CFF_CHECK_CODE(shape[1] > 0 && shape[2] > 0, ErrorCode::kFormat, path, ": empty image size ", shape[1], "x",
                 shape[2]);
  auto out = torch::empty({shape[0], 1, shape[1], shape[2]}, torch::kUInt8);
  std::memcpy(out.data_ptr<uint8_t>(), data.data() + 16, size_t(out.numel()));
  return out;
}

torch::Tensor read_idx_labels(const std::string& path) {
  const auto data = read_maybe_gzip(path);
  const auto shape = parse_header(data, path, 1, "labels");
  auto out = torch::empty({shape[0]}, torch::kUInt8);
  std::memcpy(out.data_ptr<uint8_t>(), data.data() + 8, size_t(shape[0]));
  return out.to(torch::kLong);
}

Dataset load_idx_folder(const std::string& folder, const std::string& part) {
  namespace fs = std::filesystem;
  CFF_CHECK(part == "train" || part == "test", "IDX part must be 'train' or 'test', got '", part, "'");
  CFF_CHECK_CODE(fs::is_directory(folder), ErrorCode::kIo, folder, ": not a folder");
  const std::string prefix = part == "train" ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    for (const char* ext : {".gz", ""}) {
      const auto p = fs::path(folder) / (prefix + stem + ext);
      if (fs::exists(p)) return p.string();
    }
    detail::throw_error(ErrorCode::kIo, folder, ": no ", prefix, stem, "[.gz] (MNIST layout expected)");
  };
  Dataset d;
  d.images = read_idx_images(find("-images-idx3-ubyte"));
  d.labels = read_idx_labels(find("-labels-idx1-ubyte"));
  CFF_CHECK_CODE(d.images.size(0) == d.labels.size(0), ErrorCode::kFormat, folder, ": ", d.images.size(0),
                 " images but ", d.labels.size(0), " labels");
  CFF_CHECK_CODE(d.labels.numel() > 0, ErrorCode::kFormat, folder, ": no images");
  d.num_classes = d.labels.max().item<int64_t>() + 1;
  if (d.num_classes <= 10) d.num_classes = 10;  // MNIST-layout sets have 10 classes
  if (fs::path(folder).lexically_normal().string().find("fashion") != std::string::npos)
    d.class_names = fashion_mnist_classes();
  return d;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace cff
