// IDX (MNIST layout) reader: gzip'd or plain files, checked byte for byte.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "cff/data.hpp"
#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "../io/files.hpp"
#include "labels.hpp"

namespace cff {
namespace {

uint32_t big_endian(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads up to `n` bytes; returns how many came (fewer only at the end of the data).
size_t read_some(gzFile f, const std::string& path, uint8_t* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    const unsigned ask = unsigned(std::min<size_t>(n - got, size_t(1) << 30));
    const int r = gzread(f, out + got, ask);
    if (r < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      detail::throw_error(ErrorCode::kFormat, path, ": corrupt gzip data (", msg, ")");
    }
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}

// An IDX file of unsigned bytes with `dims` dimensions, gzip'd or plain: the header is read and
// checked first (magic, overflow-checked dimension product against InputLimits::max_data_bytes),
// then exactly the declared data is decompressed into a tensor of that size, and the file must end
// there. Memory is bounded by the declared size, whatever the file expands to.
torch::Tensor read_idx(const std::string& path, int dims, const char* what, std::vector<int64_t>& shape) {
  detail::check_input_file(path, "IDX");
  GzFile gz;
  gz.f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  CFF_CHECK_CODE(gz.f != nullptr, ErrorCode::kIo, path, ": cannot open");
  uint8_t header[4 + 4 * 3];
  const size_t header_size = 4 + 4 * size_t(dims);
  const size_t got = read_some(gz.f, path, header, header_size);
  CFF_CHECK_CODE(got >= 4, ErrorCode::kFormat, path, ": too short to be an IDX file (", got, " bytes)");
  const uint32_t magic = big_endian(header);
  const uint32_t expected = 0x00000800u | uint32_t(dims);
  CFF_CHECK_CODE(magic == expected, ErrorCode::kFormat, path, ": bad IDX magic 0x", std::hex, magic, " for ", what,
                 " (expected 0x", expected, ": unsigned bytes, ", std::dec, dims, " dimensions)");
  CFF_CHECK_CODE(got == header_size, ErrorCode::kFormat, path, ": truncated IDX header");
  const uint64_t limit = uint64_t(input_limits().max_data_bytes);
  uint64_t count = 1;
  bool overflow = false;
  std::string dims_text;
  shape.clear();
  for (int d = 0; d < dims; ++d) {
    const uint32_t v = big_endian(header + 4 + 4 * d);
    shape.push_back(int64_t(v));
    dims_text += (d ? " x " : "") + std::to_string(v);
    overflow = overflow || __builtin_mul_overflow(count, uint64_t(v), &count);
  }
  CFF_CHECK_CODE(!overflow && count <= limit, ErrorCode::kFormat, path, ": header declares ", dims_text, " = ",
                 overflow ? std::string("at least 2^64") : std::to_string(count),
                 " bytes of data, above the limit of ", detail::human_bytes(limit), " (--max-data-size)");
  auto out = torch::empty({int64_t(count)}, torch::kUInt8);
  const size_t data = read_some(gz.f, path, out.data_ptr<uint8_t>(), size_t(count));
  CFF_CHECK_CODE(data == count, ErrorCode::kFormat, path, ": header says ", count, " data bytes, file has ", data,
                 " (truncated)");
  uint8_t extra = 0;
  CFF_CHECK_CODE(read_some(gz.f, path, &extra, 1) == 0, ErrorCode::kFormat, path,
                 ": trailing data after the ", count, " data bytes the header declares");
  // A truncated gzip stream reads as a short file without an error from gzread; gzclose reports it.
  const int rc = gzclose(gz.f);
  gz.f = nullptr;
  CFF_CHECK_CODE(rc == Z_OK, ErrorCode::kFormat, path, ": truncated or corrupt gzip stream");
  return out;
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  std::vector<int64_t> shape;
  auto data = read_idx(path, 3, "images", shape);
  CFF_CHECK_CODE(shape[1] > 0 && shape[2] > 0, ErrorCode::kFormat, path, ": empty image size ", shape[1], "x",
                 shape[2]);
  return data.view({shape[0], 1, shape[1], shape[2]});
}

torch::Tensor read_idx_labels(const std::string& path) {
  std::vector<int64_t> shape;
  return read_idx(path, 1, "labels", shape).to(torch::kLong);
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
  // Classes: 0..9 (the MNIST layout), or 0..K-1 when labels above 9 occur and every class up to
  // the largest one has images (EMNIST-style sets). A stray large label (255) is an error, not
  // 256 classes.
  const int64_t top = d.labels.max().item<int64_t>();
  if (top >= 10) {
    const auto present = torch::bincount(d.labels) > 0;
    const auto absent = torch::nonzero(present.logical_not()).flatten();
    CFF_CHECK_CODE(absent.numel() == 0, ErrorCode::kFormat, find("-labels-idx1-ubyte"), ": label ", top,
                   " occurs but ", absent.numel(), " smaller labels never do (the first is ", 
                   absent.numel() ? absent[0].item<int64_t>() : 0,
                   "): classes are 0..9, or 0..K-1 with every class present");
  }
  d.num_classes = std::max<int64_t>(10, top + 1);
  detail::check_two_classes(d.labels, folder, part);
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
