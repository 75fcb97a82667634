// CIFAR-10 / CIFAR-100 binary folders: fixed-size records, checked against the file size.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cff/data.hpp"
#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "../io/files.hpp"
#include "labels.hpp"

namespace cff {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

// Class names, one a line; an absent file gives none. Names are saved in the model as JSON
// text, so bytes that are not UTF-8 are refused here, at load time, naming the file.
std::vector<std::string> read_names(const fs::path& file) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::exists(file, ec)) return names;
  const auto bytes = detail::read_input_file(file.string(), "class-name");
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  try {
    (void)nlohmann::json(names).dump();
  } catch (const nlohmann::json::exception&) {
    detail::throw_error(ErrorCode::kFormat, file.string(), ": class names are not valid UTF-8");
  }
  return names;
}

// The records of `file` (label bytes then 3072 pixel bytes): pixels into `images` (preallocated
// by the caller for the whole part) from record `first` on, labels appended to `labels`.
void read_records(const fs::path& file, int64_t label_bytes, int64_t label_index, int64_t classes, uint8_t* images,
                  std::vector<int64_t>& labels) {
  const auto bytes = detail::read_input_file(file.string(), "CIFAR batch");
  const int64_t record = label_bytes + kPixels;
  CFF_CHECK_CODE(!bytes.empty() && int64_t(bytes.size()) % record == 0, ErrorCode::kFormat, file.string(), ": ",
                 bytes.size(), " bytes is not a whole number of ", record, "-byte CIFAR records",
                 bytes.empty() ? " (empty)" : " (truncated?)");
  const int64_t n = int64_t(bytes.size()) / record;
  uint8_t* dst = images + int64_t(labels.size()) * kPixels;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    const int64_t label = r[label_index];
    CFF_CHECK_CODE(label < classes, ErrorCode::kFormat, file.string(), ": record ", i, " has label ", label,
                   ", CIFAR-", classes == 10 ? "10" : (classes == 20 ? "100 coarse" : "100"), " labels are < ",
                   classes);
    labels.push_back(label);
    std::memcpy(dst + i * kPixels, r + label_bytes, size_t(kPixels));
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
  Dataset d;
  std::vector<fs::path> files;
  int64_t label_bytes = 1, label_index = 0;
  fs::path names;
  if (fs::exists(folder / "data_batch_1.bin") || fs::exists(folder / "test_batch.bin")) {
    d.num_classes = 10;
    if (part == "train") {
      for (int b = 1; b <= 5; ++b) {
        const auto f = folder / ("data_batch_" + std::to_string(b) + ".bin");
        CFF_CHECK_CODE(b > 1 || fs::exists(f), ErrorCode::kIo, f.string(), ": no such file");
        if (fs::exists(f)) files.push_back(f);
      }
    } else {
      files.push_back(folder / "test_batch.bin");
    }
    names = folder / "batches.meta.txt";
  } else {
    d.num_classes = coarse ? 20 : 100;
    label_bytes = 2;
    label_index = coarse ? 0 : 1;
    files.push_back(folder / (part == "train" ? "train.bin" : "test.bin"));
    names = folder / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
  }
  // Sizes first: the part is allocated once, after its total is checked against the limit.
  uint64_t total = 0;
  for (const auto& f : files) total += detail::check_input_file(f.string(), "CIFAR batch");
  const int64_t records = int64_t(total / uint64_t(label_bytes + kPixels));
  const uint64_t limit = uint64_t(input_limits().max_data_bytes);
  CFF_CHECK_CODE(uint64_t(records) * kPixels <= limit, ErrorCode::kFormat, folder.string(), ": CIFAR ", part,
                 " part holds ", detail::human_bytes(uint64_t(records) * kPixels), " of images, above the limit of ",
                 detail::human_bytes(limit), " (--max-data-size)");
  auto images = torch::empty({records, 3, 32, 32}, torch::kUInt8);
  std::vector<int64_t> labels;
  labels.reserve(size_t(records));
  for (const auto& f : files)
    read_records(f, label_bytes, label_index, d.num_classes, images.data_ptr<uint8_t>(), labels);
  d.class_names = read_names(names);
  if (int64_t(d.class_names.size()) != d.num_classes) d.class_names.clear();
  const int64_t n = int64_t(labels.size());
  d.images = n == records ? images : images.narrow(0, 0, n).clone();
  d.labels = torch::tensor(labels, torch::kLong);
  detail::check_two_classes(d.labels, folder.string(), part);
  return d;
}

}  // namespace cff
