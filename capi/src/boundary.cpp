// The C API's boundary (boundary.hpp): live handles, statuses and argument checks.
#include "boundary.hpp"

static_assert(CFF_CODE_INVALID_ARGUMENT == int(cff::ErrorCode::kInvalidArgument) &&
                  CFF_CODE_IO == int(cff::ErrorCode::kIo) && CFF_CODE_FORMAT == int(cff::ErrorCode::kFormat) &&
                  CFF_CODE_STATE == int(cff::ErrorCode::kState) && CFF_CODE_PLUGIN == int(cff::ErrorCode::kPlugin) &&
                  CFF_CODE_UNSUPPORTED == int(cff::ErrorCode::kUnsupported) &&
                  CFF_CODE_NUMERICS == int(cff::ErrorCode::kNumerics),
              "cff_code values 1..7 must equal cff::ErrorCode");

namespace cff_c {

cff_status g_out_of_memory{CFF_CODE_OUT_OF_MEMORY, "out of memory"};

std::string first_line(const char* text) {
  std::string s(text ? text : "");
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

cff_status* status_from_exception() noexcept {
  try {
    throw;
  } catch (const cff::Error& e) {
    return make_status(static_cast<cff_code>(e.code()), e.what());
  } catch (const c10::OutOfMemoryError& e) {
    return make_status(CFF_CODE_OUT_OF_MEMORY, "LibTorch: " + first_line(e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    // LibTorch 1.13's CPU allocator reports a failed allocation as a plain c10::Error.
    const std::string msg = first_line(e.what_without_backtrace());
    const bool oom = msg.find("can't allocate memory") != std::string::npos ||
                     msg.find("not enough memory") != std::string::npos;
    return make_status(oom ? CFF_CODE_OUT_OF_MEMORY : CFF_CODE_INTERNAL, "LibTorch: " + msg);
  } catch (const std::bad_alloc&) {
    return &g_out_of_memory;
  } catch (const std::exception& e) {
    return make_status(CFF_CODE_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return make_status(CFF_CODE_INTERNAL, "internal error: unknown exception");
  }
}

HandleTable& handles() {
  static auto* table = new HandleTable;  // never destroyed: handles may be freed during exit
  return *table;
}

thread_local std::vector<const void*> t_holds;

cff_status* make_status(cff_code code, const std::string& message) noexcept {
  try {
    return publish(new cff_status{code, message}, Kind::kStatus);
  } catch (...) {
    return &g_out_of_memory;
  }
}

bool live_status(const cff_status* status) {
  return status == &g_out_of_memory || handles().live(status, Kind::kStatus);
}

const char* check_string(const char* s, const char* what) {
  if (!s) fail(what, " is NULL");
  return s;
}

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

cff_model* check_model(cff_model* m) {
  check_handle(m, Kind::kModel, "model");
  CFF_CHECK_CODE(m->callback_thread.load() != std::this_thread::get_id(), ErrorCode::kState,
                 "a model's functions cannot be called from inside its own progress callback");
  return m;
}

int64_t checked_product(std::initializer_list<int64_t> dims, const char* what) {
  int64_t total = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && total > std::numeric_limits<int64_t>::max() / d)) fail(what, ": size overflows");
    total *= d;
  }
  return total;
}

void check_batch_header(const cff_batch* b) {
  if (!b) fail("batch is NULL");
  if (b->struct_size < kBatchSizeAbi2 || b->struct_size > sizeof(cff_batch))
    fail("batch.struct_size is ", b->struct_size, ", expected ", sizeof(cff_batch),
         " (initialise the batch with CFF_BATCH_INIT)");
  check_enum(b->dtype, CFF_DTYPE_FLOAT32, "batch.dtype");
  check_enum(b->layout, CFF_LAYOUT_NHWC, "batch.layout");
  if (b->reserved != 0) fail("batch.reserved must be 0, got ", b->reserved);
  if (!b->images) fail("batch.images is NULL");
  if (b->count < 1) fail("batch.count must be >= 1, got ", b->count);
  if (b->channels < 1 || b->height < 1 || b->width < 1)
    fail("batch shape must be positive, got ", b->channels, "x", b->height, "x", b->width);
  const int64_t elements = checked_product({b->count, b->channels, b->height, b->width}, "batch");
  if (b->images_length != elements)
    fail("batch.images_length is ", b->images_length, " but the shape ", b->count, "x", b->channels, "x", b->height,
         "x", b->width, " needs ", elements, " elements");
  if (b->labels && b->labels_length != b->count)
    fail("batch.labels_length is ", b->labels_length, " for a batch of ", b->count, " images");
  if (!b->labels && b->labels_length != 0) fail("batch.labels is NULL but batch.labels_length is ", b->labels_length);
}

torch::Tensor batch_images(const cff_batch* b) {
  const auto dtype = b->dtype == CFF_DTYPE_UINT8 ? torch::kUInt8 : torch::kFloat;
  void* data = const_cast<void*>(b->images);  // only read: copied before any use
  if (b->layout == CFF_LAYOUT_NCHW) return torch::from_blob(data, {b->count, b->channels, b->height, b->width}, dtype).clone();
  return torch::from_blob(data, {b->count, b->height, b->width, b->channels}, dtype).permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor batch_labels(const cff_batch* b, int64_t num_classes) {
  if (!b->labels) fail("batch.labels is NULL (this call needs labels)");
  for (int64_t i = 0; i < b->count; ++i)
    if (b->labels[i] < 0 || b->labels[i] >= num_classes)
      fail("batch.labels[", i, "] is ", b->labels[i], ", must lie in 0..", num_classes - 1);
  return torch::from_blob(const_cast<int64_t*>(b->labels), {b->count}, torch::kLong).clone();
}

torch::Tensor model_images(const cff_model* m, const cff_batch* b) {
  check_batch_header(b);
  const auto mo = m->trainer.config().model;
  if (b->channels != mo.channels || b->height != mo.height || b->width != mo.width)
    fail("batch images are ", b->channels, "x", b->height, "x", b->width, ", the model expects ", mo.channels, "x",
         mo.height, "x", mo.width);
  return batch_images(b);
}

int64_t num_classes(const cff_model* m) { return m->trainer.config().model.num_classes; }

void check_capacity(const void* out, int64_t capacity, int64_t needed, const char* what) {
  if (capacity < needed) fail(what, " has room for ", capacity, " values, ", needed, " are needed");
  if (!out) fail(what, " is NULL");
}

void check_length(const void* out, int64_t length, int64_t needed, const char* what) {
  if (!out && length == 0) return;
  if (!out) fail(what, " is NULL but its length is ", length);
  if (length != needed) fail(what, " has length ", length, ", expected ", needed);
}

void copy_losses(const std::vector<double>& losses, double* out, int64_t* out_count) {
  std::copy(losses.begin(), losses.end(), out);
  if (out_count) *out_count = int64_t(losses.size());
}

std::vector<int64_t> check_ks(const cff_model* m, const int64_t* ks, int64_t num_ks, const double* out) {
  if (num_ks < 1) fail("num_ks must be >= 1, got ", num_ks);
  check_out(ks, "ks");
  check_out(out, "out_accuracies");
  std::vector<int64_t> v(ks, ks + num_ks);
  for (int64_t k : v)
    if (k < 1 || k > num_classes(m)) fail("top-k: k must be in 1..", num_classes(m), ", got ", k);
  return v;
}

void write_accuracies(const cff::Evaluation& e, const std::vector<int64_t>& ks, double* out) {
  for (size_t i = 0; i < ks.size(); ++i) out[i] = e.topk.at(ks[i]);
}

cff_options* check_options(cff_options* o) { return check_handle(o, Kind::kOptions, "options"); }

const cff_options* check_options(const cff_options* o) { return check_handle(o, Kind::kOptions, "options"); }

void check_at_least(int64_t v, int64_t min, const char* what) {
  if (v < min) fail("options: ", what, " must be >= ", min, ", got ", v);
}

void check_positive(double v, const char* what) {
  if (!(std::isfinite(v) && v > 0)) fail("options: ", what, " must be > 0, got ", v);
}

void check_non_negative(double v, const char* what) {
  if (!(std::isfinite(v) && v >= 0)) fail("options: ", what, " must be >= 0, got ", v);
}

std::string join_params(const std::vector<cff::ParamSpec>& params) {
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : ",") + p.name + "=" + p.default_value;
  return out;
}

cff::Dataset dataset_from_batch(const cff_batch* b, int64_t classes) {
  cff::Dataset d;
  d.images = batch_images(b);
  d.labels = batch_labels(b, classes);
  d.num_classes = classes;
  return d;
}

const cff_dataset* check_dataset(const cff_dataset* d) { return check_handle(d, Kind::kDataset, "dataset"); }

cff_dataset* publish_dataset(cff::Dataset d) {
  auto out = std::make_unique<cff_dataset>();
  out->data = std::move(d);
  out->data.validate();
  for (int64_t c = 0; c < out->data.num_classes; ++c)
    out->names.push_back(out->data.class_names.empty() ? std::to_string(c) : out->data.class_names[size_t(c)]);
  return publish(out.release(), Kind::kDataset);
}

void copy_images(torch::Tensor rows, int dtype, void* out) {
  const auto n = size_t(rows.numel());
  if (dtype == CFF_DTYPE_FLOAT32) {
    if (rows.scalar_type() == torch::kUInt8) rows = rows.to(torch::kFloat).div_(255.0);
    std::memcpy(out, rows.contiguous().data_ptr<float>(), sizeof(float) * n);
  } else {
    if (rows.scalar_type() != torch::kUInt8) rows = rows.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8);
    std::memcpy(out, rows.contiguous().data_ptr<uint8_t>(), n);
  }
}

void check_range(const cff_dataset* d, int64_t start, int64_t count) {
  const int64_t n = d->data.size();
  if (start < 0 || count < 1 || start > n || count > n - start)
    fail("rows ", start, " .. ", start, "+", count, " are outside the dataset's ", n, " images");
}

}  // namespace cff_c
