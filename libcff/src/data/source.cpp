// Image sources (in-memory, subsets), materialisation, format detection, and the seeded
// label-noise / limited-data selections of the paper's Table 4.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "cff/data.hpp"
#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "../io/files.hpp"
#include "parallel.hpp"

namespace cff {
namespace fs = std::filesystem;

torch::Tensor ImageSource::gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept) const {
  const int64_t n = int64_t(indices.size()), item = channels * height * width;
  auto out = torch::empty({n, channels, height, width}, torch::kUInt8);
  uint8_t* dst = out.data_ptr<uint8_t>();
  int64_t rows = 0;
  if (kept) kept->clear();
  for (int64_t i = 0; i < n; ++i) {
    if (!read(indices[size_t(i)], dst + rows * item)) continue;
    if (kept) kept->push_back(i);
    ++rows;
  }
  return rows == n ? out : out.narrow(0, 0, rows).clone();
}

// ---- TensorSource -------------------------------------------------------------------------------------

TensorSource::TensorSource(Dataset data) : data_(std::move(data)) {
  data_.validate();
  channels = data_.images.size(1);
  height = data_.images.size(2);
  width = data_.images.size(3);
  num_classes = data_.num_classes;
  class_names = data_.class_names;
  const auto l = data_.labels.contiguous();
  labels_.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
}

int64_t TensorSource::label(int64_t index) const { return labels_.at(size_t(index)); }

bool TensorSource::read(int64_t index, uint8_t* out) const {
  CFF_CHECK(index >= 0 && index < size(), "image index ", index, " out of range 0..", size() - 1);
  auto img = data_.images[index];
  if (img.scalar_type() != torch::kUInt8) img = (img * 255).round().clamp(0, 255).to(torch::kUInt8);
  img = img.contiguous();
  std::memcpy(out, img.data_ptr<uint8_t>(), size_t(img.numel()));
  return true;
}

torch::Tensor TensorSource::gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept) const {
  if (kept) {
    kept->resize(indices.size());
    std::iota(kept->begin(), kept->end(), 0);
  }
  return data_.images.index_select(0, torch::tensor(indices, torch::kLong));
}

// ---- SubsetSource -------------------------------------------------------------------------------------

SubsetSource::SubsetSource(std::shared_ptr<const ImageSource> base, std::vector<int64_t> indices,
                           std::vector<int64_t> labels)
    : base_(std::move(base)), indices_(std::move(indices)), labels_(std::move(labels)) {
  CFF_CHECK(base_ != nullptr, "subset: no base source");
  CFF_CHECK(labels_.empty() || labels_.size() == indices_.size(), "subset: ", labels_.size(), " labels for ",
            indices_.size(), " images");
  for (int64_t i : indices_) CFF_CHECK(i >= 0 && i < base_->size(), "subset: index ", i, " out of range");
  channels = base_->channels;
  height = base_->height;
  width = base_->width;
  num_classes = base_->num_classes;
  class_names = base_->class_names;
  for (int64_t l : labels_) CFF_CHECK(l >= 0 && l < num_classes, "subset: label ", l, " out of range");
}

int64_t SubsetSource::label(int64_t index) const {
  return labels_.empty() ? base_->label(indices_.at(size_t(index))) : labels_.at(size_t(index));
}
bool SubsetSource::read(int64_t index, uint8_t* out) const { return base_->read(indices_.at(size_t(index)), out); }
std::string SubsetSource::describe(int64_t index) const { return base_->describe(indices_.at(size_t(index))); }

torch::Tensor SubsetSource::gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept) const {
  std::vector<int64_t> mapped(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) mapped[i] = indices_.at(size_t(indices[i]));
  return base_->gather(mapped, kept);
}

// ---- materialisation ------------------------------------------------------------------------------------

Dataset to_dataset(const ImageSource& source, int64_t workers) {
  const int64_t n = source.size(), item = source.channels * source.height * source.width;
  Dataset d;
  d.num_classes = source.num_classes;
  d.class_names = source.class_names;
  if (const auto* t = dynamic_cast<const TensorSource*>(&source)) return t->dataset();
  const uint64_t bytes = uint64_t(n) * uint64_t(item), limit = uint64_t(input_limits().max_data_bytes);
  CFF_CHECK_CODE(bytes <= limit, ErrorCode::kFormat, n > 0 ? source.describe(0) : std::string("data"), " and ",
                 n - 1, " more: ", n, " images of ", source.channels, "x", source.height, "x", source.width, " decode to ",
                 detail::human_bytes(bytes), ", above the limit of ", detail::human_bytes(limit),
                 " (--max-data-size; or stream them: cff train --stream)");
  auto images = torch::empty({n, source.channels, source.height, source.width}, torch::kUInt8);
  std::vector<char> ok(size_t(n), 0);
  uint8_t* dst = images.data_ptr<uint8_t>();
  detail::parallel_for(n, std::max<int64_t>(1, workers),
                       [&](int64_t i) { ok[size_t(i)] = source.read(i, dst + i * item) ? 1 : 0; });
  std::vector<int64_t> keep, labels;
  for (int64_t i = 0; i < n; ++i)
    if (ok[size_t(i)]) {
      keep.push_back(i);
      labels.push_back(source.label(i));
    }
  d.images = int64_t(keep.size()) == n ? images : images.index_select(0, torch::tensor(keep, torch::kLong));
  d.labels = torch::tensor(labels, torch::kLong);
  return d;
}

// ---- label noise and limited data ---------------------------------------------------------------------------

std::vector<int64_t> noisy_labels(const std::vector<int64_t>& labels, int64_t num_classes, double share,
                                  uint64_t seed) {
  CFF_CHECK(share >= 0 && share <= 1, "label noise share must be in [0, 1], got ", share);
  CFF_CHECK(num_classes >= 2, "label noise needs at least 2 classes");
  const int64_t n = int64_t(labels.size()), flips = std::llround(share * double(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_int_distribution<int64_t> other(1, num_classes - 1);
  auto out = labels;
  for (int64_t i = 0; i < flips; ++i) {
    auto& l = out[size_t(order[size_t(i)])];
    CFF_CHECK(l >= 0 && l < num_classes, "label ", l, " out of range 0..", num_classes - 1);
    l = (l + other(rng)) % num_classes;  // uniform over the num_classes-1 wrong classes
  }
  return out;
}

std::vector<int64_t> limited_indices(int64_t n, double drop_share, uint64_t seed) {
  CFF_CHECK(drop_share >= 0 && drop_share < 1, "limited-data drop share must be in [0, 1), got ", drop_share);
  const int64_t drop = std::llround(drop_share * double(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> keep(order.begin() + drop, order.end());
  std::sort(keep.begin(), keep.end());
  return keep;
}

// ---- formats ------------------------------------------------------------------------------------------------

std::string to_string(DataFormat f) {
  switch (f) {
    case DataFormat::kImageFolder: return "image folder";
    case DataFormat::kIdx: return "IDX";
    case DataFormat::kCifar10: return "CIFAR-10";
    case DataFormat::kCifar100: return "CIFAR-100";
  }
  return "?";
}

DataFormat detect_format(const std::string& path) {
  CFF_CHECK_CODE(fs::exists(path), ErrorCode::kIo, path, ": no such file or folder");
  CFF_CHECK_CODE(fs::is_directory(path), ErrorCode::kIo, path, ": not a folder (DATA is an image folder, an IDX folder "
                 "or a CIFAR binary folder)");
  const fs::path p(path);
  for (const char* f : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                        "t10k-images-idx3-ubyte.gz"})
    if (fs::exists(p / f)) return DataFormat::kIdx;
  for (const fs::path& dir : {p, p / "cifar-10-batches-bin", p / "cifar-100-binary"}) {
    if (fs::exists(dir / "data_batch_1.bin") || fs::exists(dir / "test_batch.bin")) return DataFormat::kCifar10;
    if (fs::exists(dir / "train.bin") || fs::exists(dir / "test.bin")) return DataFormat::kCifar100;
  }
  return DataFormat::kImageFolder;
}

namespace {
std::string image_folder_part(const std::string& path, const std::string& part) {
  const fs::path p(path);
  if (!fs::is_directory(p / "train")) return path;
  if (part == "train") return (p / "train").string();
  for (const char* sub : {"test", "val"})
    if (fs::is_directory(p / sub)) return (p / sub).string();
  detail::throw_error(ErrorCode::kIo, path, ": has train/ but no test/ or val/ folder");
}
}  // namespace

bool has_test_part(const std::string& path) {
  const fs::path p(path);
  switch (detect_format(path)) {
    case DataFormat::kIdx:
      return fs::exists(p / "t10k-images-idx3-ubyte.gz") || fs::exists(p / "t10k-images-idx3-ubyte");
    case DataFormat::kCifar10:
    case DataFormat::kCifar100:
      for (const fs::path& dir : {p, p / "cifar-10-batches-bin", p / "cifar-100-binary"})
        if (fs::exists(dir / "test_batch.bin") || fs::exists(dir / "test.bin")) return true;
      return false;
    case DataFormat::kImageFolder:
      return fs::is_directory(p / "train") && (fs::is_directory(p / "test") || fs::is_directory(p / "val"));
  }
  return false;
}

std::shared_ptr<ImageSource> open_data(const std::string& path, const std::string& part,
                                       const ImageFolderOptions& options) {
  CFF_CHECK(part == "train" || part == "test", "data part must be 'train' or 'test', got '", part, "'");
  switch (detect_format(path)) {
    case DataFormat::kIdx: return std::make_shared<TensorSource>(load_idx_folder(path, part));
    case DataFormat::kCifar10:
    case DataFormat::kCifar100: return std::make_shared<TensorSource>(load_cifar_folder(path, part));
    case DataFormat::kImageFolder: return std::make_shared<ImageFolder>(image_folder_part(path, part), options);
  }
  return nullptr;
}

}  // namespace cff
