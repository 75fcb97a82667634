// cff.h: cff_dataset and cff_batch_iterator.
#include "boundary.hpp"

using namespace cff_c;

extern "C" {

// ==== Datasets ==========================================================================================

cff_status* cff_dataset_load_idx(const char* folder, const char* part, cff_dataset** out_dataset) {
  CFF_C_TRY
  check_string(folder, "folder");
  check_string(part, "part");
  check_out(out_dataset, "out_dataset");
  if (std::strcmp(part, "train") != 0 && std::strcmp(part, "test") != 0)
    fail("part must be \"train\" or \"test\", got \"", part, "\"");
  *out_dataset = publish_dataset(cff::load_idx_folder(folder, part));
  CFF_C_CATCH
}

cff_status* cff_dataset_create(const cff_batch* batch, int64_t num_classes, cff_dataset** out_dataset) {
  CFF_C_TRY
  check_out(out_dataset, "out_dataset");
  check_batch_header(batch);
  if (num_classes < 2) fail("num_classes must be >= 2, got ", num_classes);
  auto d = dataset_from_batch(batch, num_classes);
  if (d.images.is_floating_point())
    CFF_CHECK_CODE(torch::isfinite(d.images).all().item<bool>(), ErrorCode::kNumerics, "images contain NaN or Inf");
  *out_dataset = publish_dataset(std::move(d));
  CFF_C_CATCH
}

void cff_dataset_free(cff_dataset* dataset) { release(dataset, Kind::kDataset); }

cff_status* cff_dataset_slice(const cff_dataset* dataset, int64_t start, int64_t count, cff_dataset** out_dataset) {
  CFF_C_TRY
  check_dataset(dataset);
  check_out(out_dataset, "out_dataset");
  check_range(dataset, start, count);
  cff::Dataset d = dataset->data;
  d.images = d.images.narrow(0, start, count).clone();
  d.labels = d.labels.narrow(0, start, count).clone();
  *out_dataset = publish_dataset(std::move(d));
  CFF_C_CATCH
}

cff_status* cff_dataset_info(const cff_dataset* dataset, int64_t* out_count, int64_t* out_channels,
                             int64_t* out_height, int64_t* out_width, cff_dtype* out_dtype, int64_t* out_num_classes) {
  CFF_C_TRY
  check_dataset(dataset);
  const auto& d = dataset->data;
  if (out_count) *out_count = d.size();
  if (out_channels) *out_channels = d.images.size(1);
  if (out_height) *out_height = d.images.size(2);
  if (out_width) *out_width = d.images.size(3);
  if (out_dtype) *out_dtype = d.images.scalar_type() == torch::kUInt8 ? CFF_DTYPE_UINT8 : CFF_DTYPE_FLOAT32;
  if (out_num_classes) *out_num_classes = d.num_classes;
  CFF_C_CATCH
}

cff_status* cff_dataset_images(const cff_dataset* dataset, int64_t start, int64_t count, cff_dtype dtype,
                               void* out_images, int64_t images_length) {
  CFF_C_TRY
  check_dataset(dataset);
  const int d = check_enum(dtype, CFF_DTYPE_FLOAT32, "dtype");
  check_range(dataset, start, count);
  const auto& images = dataset->data.images;
  const int64_t needed = count * images.size(1) * images.size(2) * images.size(3);
  if (!out_images) fail("out_images is NULL");
  if (images_length != needed) fail("out_images has length ", images_length, ", expected ", needed);
  copy_images(images.narrow(0, start, count), d, out_images);
  CFF_C_CATCH
}

cff_status* cff_dataset_labels(const cff_dataset* dataset, int64_t start, int64_t count, int64_t* out_labels,
                               int64_t labels_length) {
  CFF_C_TRY
  check_dataset(dataset);
  check_range(dataset, start, count);
  if (!out_labels) fail("out_labels is NULL");
  if (labels_length != count) fail("out_labels has length ", labels_length, ", expected ", count);
  const auto rows = dataset->data.labels.narrow(0, start, count).contiguous();
  std::memcpy(out_labels, rows.data_ptr<int64_t>(), sizeof(int64_t) * size_t(count));
  CFF_C_CATCH
}

cff_status* cff_dataset_normalization(const cff_dataset* dataset, double* out_mean, double* out_std,
                                      int64_t channels) {
  CFF_C_TRY
  check_dataset(dataset);
  check_out(out_mean, "out_mean");
  check_out(out_std, "out_std");
  const int64_t c = dataset->data.images.size(1);
  if (channels != c) fail("channels is ", channels, ", the dataset has ", c);
  const auto stats = cff::channel_stats(dataset->data.images);
  std::copy(stats.mean.begin(), stats.mean.end(), out_mean);
  std::copy(stats.std.begin(), stats.std.end(), out_std);
  CFF_C_CATCH
}

cff_status* cff_batch_iterator_create(const cff_dataset* dataset, int64_t batch_size, uint64_t seed, int32_t shuffle,
                                      cff_batch_iterator** out_iterator) {
  CFF_C_TRY
  check_dataset(dataset);
  check_out(out_iterator, "out_iterator");
  if (batch_size < 1) fail("batch_size must be >= 1, got ", batch_size);
  auto it = std::make_unique<cff_batch_iterator>();
  it->data = dataset->data;
  it->batch_size = batch_size;
  it->seed = seed;
  it->shuffle = shuffle != 0;
  *out_iterator = publish(it.release(), Kind::kBatchIterator);
  CFF_C_CATCH
}

void cff_batch_iterator_free(cff_batch_iterator* iterator) { release(iterator, Kind::kBatchIterator); }

cff_status* cff_batch_iterator_next(cff_batch_iterator* iterator, int32_t dtype, void* out_images,
                                    int64_t images_length, int64_t* out_labels, int64_t labels_length,
                                    int64_t* out_count, int64_t* out_epoch) {
  CFF_C_TRY
  auto* it = check_handle(iterator, Kind::kBatchIterator, "iterator");
  const int d = check_enum(dtype, CFF_DTYPE_FLOAT32, "dtype");
  check_out(out_images, "out_images");
  check_out(out_labels, "out_labels");
  check_out(out_count, "out_count");
  const auto& images = it->data.images;
  const int64_t per_image = images.size(1) * images.size(2) * images.size(3);
  if (images_length < it->batch_size * per_image)
    fail("out_images has length ", images_length, ", a batch needs ", it->batch_size * per_image);
  if (labels_length < it->batch_size) fail("out_labels has length ", labels_length, ", a batch needs ", it->batch_size);
  const int64_t n = it->data.size();
  if (it->position >= n) {  // the epoch is over: say so once, then start the next one
    if (out_epoch) *out_epoch = it->epoch;
    *out_count = 0;
    ++it->epoch;
    it->position = 0;
    it->order.clear();
    return nullptr;
  }
  if (it->order.empty()) {  // this epoch's order: seeded shuffle, or 0 .. n-1
    if (it->shuffle) {
      it->order = cff::shuffled_order(n, it->seed, it->epoch);
    } else {
      it->order.resize(size_t(n));
      std::iota(it->order.begin(), it->order.end(), 0);
    }
  }
  const int64_t count = std::min(it->batch_size, n - it->position);
  const auto index = torch::from_blob(it->order.data() + it->position, {count}, torch::kLong);
  copy_images(images.index_select(0, index), d, out_images);
  const auto labels = it->data.labels.index_select(0, index).contiguous();
  std::memcpy(out_labels, labels.data_ptr<int64_t>(), sizeof(int64_t) * size_t(count));
  if (out_epoch) *out_epoch = it->epoch;
  *out_count = count;
  it->position += count;
  CFF_C_CATCH
}

cff_status* cff_dataset_class_name(const cff_dataset* dataset, int64_t index, const char** out_name) {
  CFF_C_TRY
  check_dataset(dataset);
  check_out(out_name, "out_name");
  if (index < 0 || index >= int64_t(dataset->names.size()))
    fail("class ", index, " out of 0..", int64_t(dataset->names.size()) - 1);
  *out_name = dataset->names[size_t(index)].c_str();
  CFF_C_CATCH
}

}  // extern "C"
