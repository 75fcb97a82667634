// CIFAR-10 / CIFAR-100 binary folders: fixed-size records, checked against the file size.
#include <filesystem>
#include <fstream>

#include "cff/data.hpp"
#include "cff/error.hpp"

namespace cff {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::vector<std::string> read_names(const fs::path& file) {
  std::vector<std::string> names;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// Appends the records of `file` (label bytes then 3072 pixel bytes) to images/labels.
void read_records(const fs::path& file, int64_t label_bytes, int64_t label_index, int64_t classes,
                  std::vector<uint8_t>& images, std::vector<int64_t>& labels) {
  std::ifstream in(file, std::ios::binary);
  CFF_CHECK_CODE(in.good(), ErrorCode::kIo, file.string(), ": cannot open");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int64_t record = label_bytes + kPixels;
  CFF_CHECK_CODE(!bytes.empty() && int64_t(bytes.size()) % record == 0, ErrorCode::kFormat, file.string(), ": ",
                 bytes.size(), " bytes is not a whole number of ", record, "-byte CIFAR records",
                 bytes.empty() ? " (empty)" : " (truncated?)");
  const int64_t n = int64_t(bytes.size()) / record;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    const int64_t label = r[label_index];
    CFF_CHECK_CODE(label < classes, ErrorCode::kFormat, file.string(), ": record ", i, " has label ", label,
                   ", CIFAR-", classes == 10 ? "10" : (classes == 20 ? "100 coarse" : "100"), " labels are < ",
                   classes);
    labels.push_back(label);
    images.insert(images.end(), r + label_bytes, r + record);
  }
}

fs::path enter(const fs::path& folder) {
  for (const char* sub : {"cifar-10-batches-bin", "cifar-100-binary"})
    if (fs::is_directory(folder / sub)) return folder / sub;
  return folder;
}

}  // namespace

Dataset load_cifar_folder(const std::string& folder_in, const std::string& part, bool coarse) {
  CFF_CHECK(part == "train" || part == "test", "CIFAR part must be 'train' or 'test', got '", part, "'");
  CFF_CHECK_CODE(fs::is_directory(folder_in), ErrorCode::kIo, folder_in, ": not a folder");
  const fs::path folder = enter(folder_in);
  std::vector<uint8_t> images;
  std::vector<int64_t> labels;
  Dataset d;
  if (fs::exists(folder / "data_batch_1.bin") || fs::exists(folder / "test_batch.bin")) {
    d.num_classes = 10;
    std::vector<fs::path> files;
    if (part == "train") {
      for (int b = 1; b <= 5; ++b) {
        const auto f = folder / ("data_batch_" + std::to_string(b) + ".bin");
        CFF_CHECK_CODE(b > 1 || fs::exists(f), ErrorCode::kIo, f.string(), ": no such file");
        if (fs::exists(f)) files.push_back(f);
      }
    } else {
      files.push_back(folder / "test_batch.bin");
    }
    for (const auto& f : files) read_records(f, 1, 0, 10, images, labels);
    d.class_names = read_names(folder / "batches.meta.txt");
  } else {
    d.num_classes = coarse ? 20 : 100;
    read_records(folder / (part == "train" ? "train.bin" : "test.bin"), 2, coarse ? 0 : 1, d.num_classes, images,
                 labels);
    d.class_names = read_names(folder / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt"));
  }
  if (int64_t(d.class_names.size()) != d.num_classes) d.class_names.clear();
  const int64_t n = int64_t(labels.size());
  d.images = torch::from_blob(images.data(), {n, 3, 32, 32}, torch::kUInt8).clone();
  d.labels = torch::tensor(labels, torch::kLong);
  return d;
}

}  // namespace cff
