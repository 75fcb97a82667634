// libcff's C API (cff.h) over the C++ API. The only extern "C" definitions of the project.
//
// Every function body sits inside CFF_C_TRY / CFF_C_CATCH, which turns any exception (cff::Error,
// c10::Error, std::bad_alloc, std::exception, anything else) into a cff_status: nothing crosses
// the boundary. Handles are registered in a table of live handles so that a NULL or already freed
// handle is reported as CFF_CODE_INVALID_ARGUMENT without being dereferenced.
//
// Plugins (cff_plugin_*) register into the same registries the cff_provider_list_* listings read.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cff.h"
#include "cff/cff.hpp"

static_assert(CFF_CODE_INVALID_ARGUMENT == int(cff::ErrorCode::kInvalidArgument) &&
                  CFF_CODE_IO == int(cff::ErrorCode::kIo) && CFF_CODE_FORMAT == int(cff::ErrorCode::kFormat) &&
                  CFF_CODE_STATE == int(cff::ErrorCode::kState) && CFF_CODE_PLUGIN == int(cff::ErrorCode::kPlugin) &&
                  CFF_CODE_UNSUPPORTED == int(cff::ErrorCode::kUnsupported) &&
                  CFF_CODE_NUMERICS == int(cff::ErrorCode::kNumerics),
              "cff_code values 1..7 must equal cff::ErrorCode");

// ---- Handle types ---------------------------------------------------------------------------------

struct cff_status {
  cff_code code;
  std::string message;
};

struct cff_options {
  cff::Config config;
};

struct cff_model {
  explicit cff_model(cff::Trainer t) : trainer(std::move(t)) {}
  cff::Trainer trainer;
  // The thread running this model's progress callback, if any: a call from it would deadlock on
  // the trainer's mutex, so it is refused instead.
  std::atomic<std::thread::id> callback_thread{};
};

struct cff_layer_batch {
  const cff_model* owner = nullptr;
  std::mutex mutex;
  cff::LayerBatch batch;
  int64_t next_layer = 0;
};

struct cff_dataset {
  cff::Dataset data;
  std::vector<std::string> names;  // one per class, never empty
};

struct cff_provider_list {
  struct Item {
    std::string name, description, params, origin;
  };
  std::vector<Item> items;
};

namespace {

using cff::ErrorCode;

// Returned when not even a status can be allocated; never freed, always live.
cff_status g_out_of_memory{CFF_CODE_OUT_OF_MEMORY, "out of memory"};
cff_status* make_status(cff_code code, const std::string& message) noexcept;  // below, with the handles

std::string first_line(const char* text) {
  std::string s(text ? text : "");
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

// Turns the exception being handled into a status. Called only inside a catch block.
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

#define CFF_C_TRY \
  try {           \
    CallScope cff_call_scope_;
#define CFF_C_CATCH                 \
  }                                 \
  catch (...) {                     \
    return status_from_exception(); \
  }                                 \
  return nullptr;

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  cff::detail::throw_error(ErrorCode::kInvalidArgument, args...);
}

// ---- Live handles -----------------------------------------------------------------------------------

enum class Kind { kStatus, kOptions, kModel, kLayerBatch, kDataset, kProviderList };

// Every handle the library has handed out and not yet freed. A call holds each handle it was given
// until it returns (CallScope), and a handle freed while calls hold it is destroyed by the last of
// them: cff_*_free on one thread while another thread is inside a call on the same handle neither
// crashes that call nor makes the free wait (nor deadlock when it comes from a progress callback).
class HandleTable {
 public:
  using Destroy = void (*)(const void*);
  void add(const void* p, Kind k, Destroy destroy) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[p] = Entry{k, destroy, 0, false};
  }
  // Takes a hold on `p` for the current call; false when it is not a live handle of kind `k`.
  bool hold(const void* p, Kind k) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(p);
    if (it == entries_.end() || it->second.kind != k || it->second.freed) return false;
    ++it->second.holds;
    return true;
  }
  // Drops a hold; destroys a freed handle whose last hold this was.
  void unhold(const void* p) {
    Destroy destroy = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(p);
      if (it == entries_.end()) return;
      if (--it->second.holds == 0 && it->second.freed) {
        destroy = it->second.destroy;
        entries_.erase(it);
      }
    }
    if (destroy) destroy(p);
  }
  // Frees a live handle: destroyed now, or by the last call holding it. Anything else is ignored.
  void free(const void* p, Kind k) {
    Destroy destroy = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(p);
      if (it == entries_.end() || it->second.kind != k || it->second.freed) return;
      if (it->second.holds > 0) {
        it->second.freed = true;
        return;
      }
      destroy = it->second.destroy;
      entries_.erase(it);
    }
    destroy(p);
  }
  bool live(const void* p, Kind k) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(p);
    return it != entries_.end() && it->second.kind == k && !it->second.freed;
  }

 private:
  struct Entry {
    Kind kind;
    Destroy destroy;
    int64_t holds;
    bool freed;
  };
  mutable std::mutex mutex_;
  std::unordered_map<const void*, Entry> entries_;
};

HandleTable& handles() {
  static auto* table = new HandleTable;  // never destroyed: handles may be freed during exit
  return *table;
}

// The handles held by the calls running on this thread (calls nest: a progress callback may call
// into the library for another model). CFF_C_TRY opens one scope per call.
thread_local std::vector<const void*> t_holds;

class CallScope {
 public:
  CallScope() : mark_(t_holds.size()) {}
  ~CallScope() {
    while (t_holds.size() > mark_) {
      const void* p = t_holds.back();
      t_holds.pop_back();
      handles().unhold(p);
    }
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  size_t mark_;
};

template <typename T>
T* check_handle(T* p, Kind k, const char* what) {
  if (!p) fail(what, " is NULL");
  t_holds.reserve(t_holds.size() + 1);  // may throw before the hold is taken, never after
  if (!handles().hold(p, k)) fail(what, " is not a live handle (already freed, or not made by libcff)");
  t_holds.push_back(p);
  return p;
}

template <typename T>
T* publish(T* p, Kind k) {
  try {
    handles().add(p, k, [](const void* q) { delete static_cast<const T*>(q); });
  } catch (...) {
    delete p;
    throw;
  }
  return p;
}

template <typename T>
void release(T* p, Kind k) {
  if (p) handles().free(p, k);
}

// Statuses are tracked like every other handle, so a status freed twice (or never made by libcff)
// is ignored by cff_status_free and reported by cff_status_code instead of crashing.
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

template <typename T>
T* check_out(T* p, const char* what) {
  if (!p) fail(what, " is NULL");
  return p;
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

// ---- Batches ----------------------------------------------------------------------------------------

// An enum received from C may hold any int; loading it as the C++ enum type would be undefined
// behaviour (UBSan's -fsanitize=enum), so its bytes are read as an int first. (cff_batch holds
// int32_t fields for the same values.)
template <typename E>
int enum_value(const E& value) {
  if constexpr (std::is_integral_v<E>) {
    return static_cast<int>(value);
  } else {
    static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
    int v;
    std::memcpy(&v, &value, sizeof v);
    return v;
  }
}

// The first ABI-2 layout of cff_batch: the smallest struct_size accepted. A later header may append
// fields; the library then accepts any struct_size from this one up to its own sizeof.
constexpr uint32_t kBatchSizeAbi2 = offsetof(cff_batch, width) + sizeof(int64_t);
static_assert(sizeof(cff_batch) == kBatchSizeAbi2, "cff_batch grew: give the new fields defaults for older hosts");

template <typename E>
int check_enum(const E& value, int last, const char* what) {
  const int v = enum_value(value);
  if (v < 0 || v > last) fail(what, " ", v, " is unknown");
  return v;
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

// A library-owned NCHW copy of the batch's images (the caller's buffer is never aliased).
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

// Checks a batch against the model's input shape and converts it.
torch::Tensor model_images(const cff_model* m, const cff_batch* b) {
  check_batch_header(b);
  const auto mo = m->trainer.config().model;
  if (b->channels != mo.channels || b->height != mo.height || b->width != mo.width)
    fail("batch images are ", b->channels, "x", b->height, "x", b->width, ", the model expects ", mo.channels, "x",
         mo.height, "x", mo.width);
  return batch_images(b);
}

int64_t num_classes(const cff_model* m) { return m->trainer.config().model.num_classes; }

int64_t losses_per_step(const cff_model* m) {
  return m->trainer.config().train.algorithm == cff::Algorithm::kBackprop ? 1 : m->trainer.num_layers();
}

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

// ---- Options ------------------------------------------------------------------------------------------

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

void check_range(const cff_dataset* d, int64_t start, int64_t count) {
  const int64_t n = d->data.size();
  if (start < 0 || count < 1 || start > n || count > n - start)
    fail("rows ", start, " .. ", start, "+", count, " are outside the dataset's ", n, " images");
}

}  // namespace

// ==== Versions and status ==============================================================================

extern "C" {

const char* cff_version(void) { return CFF_VERSION_STRING; }
uint32_t cff_abi_version(void) { return CFF_ABI_VERSION; }

cff_status* cff_abi_check(uint32_t host_abi_version) {
  CFF_C_TRY
  if (host_abi_version != CFF_ABI_VERSION)
    cff::detail::throw_error(ErrorCode::kUnsupported, "libcff_c has ABI version ", CFF_ABI_VERSION,
                             " but the host was built for ABI version ", host_abi_version,
                             "; rebuild it against this library's cff.h, or use a library of its ABI");
  CFF_C_CATCH
}
const char* cff_torch_version(void) { return cff::torch_version(); }

cff_code cff_status_code(const cff_status* status) {
  if (!status) return CFF_CODE_OK;
  return live_status(status) ? status->code : CFF_CODE_INVALID_ARGUMENT;
}
const char* cff_status_message(const cff_status* status) {
  if (!status) return "";
  return live_status(status) ? status->message.c_str() : "status is not a live handle (already freed, or not made by libcff)";
}
void cff_status_free(cff_status* status) {
  if (status != &g_out_of_memory) release(status, Kind::kStatus);
}

const char* cff_code_name(cff_code code) {
  switch (enum_value(code)) {
    case CFF_CODE_OK: return "CFF_CODE_OK";
    case CFF_CODE_INVALID_ARGUMENT: return "CFF_CODE_INVALID_ARGUMENT";
    case CFF_CODE_IO: return "CFF_CODE_IO";
    case CFF_CODE_FORMAT: return "CFF_CODE_FORMAT";
    case CFF_CODE_STATE: return "CFF_CODE_STATE";
    case CFF_CODE_PLUGIN: return "CFF_CODE_PLUGIN";
    case CFF_CODE_UNSUPPORTED: return "CFF_CODE_UNSUPPORTED";
    case CFF_CODE_NUMERICS: return "CFF_CODE_NUMERICS";
    case CFF_CODE_OUT_OF_MEMORY: return "CFF_CODE_OUT_OF_MEMORY";
    case CFF_CODE_INTERNAL: return "CFF_CODE_INTERNAL";
  }
  return "CFF_CODE_UNKNOWN";
}

void cff_string_free(char* string) { std::free(string); }

// ==== Runtime ===========================================================================================

cff_status* cff_threads_set(int64_t threads) {
  CFF_C_TRY
  cff::set_threads(threads);
  CFF_C_CATCH
}

cff_status* cff_device_check(const char* device) {
  CFF_C_TRY
  cff::resolve_device(check_string(device, "device"));
  CFF_C_CATCH
}

// ==== Options ===========================================================================================

cff_status* cff_options_create(cff_options** out_options) {
  CFF_C_TRY
  check_out(out_options, "out_options");
  *out_options = publish(new cff_options{}, Kind::kOptions);
  CFF_C_CATCH
}

void cff_options_free(cff_options* options) { release(options, Kind::kOptions); }

cff_status* cff_options_set_json(cff_options* options, const char* json) {
  CFF_C_TRY
  check_options(options);
  check_string(json, "json");
  nlohmann::json patch;
  try {
    patch = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {  // parse_error, out_of_range (8e888)
    fail("config: not valid JSON (", e.what(), ")");
  }
  auto merged = nlohmann::json::parse(options->config.to_json());
  merged.merge_patch(patch);
  options->config = cff::Config::from_json(merged.dump());
  CFF_C_CATCH
}

cff_status* cff_options_get_json(const cff_options* options, char** out_json) {
  CFF_C_TRY
  check_options(options);
  check_out(out_json, "out_json");
  *out_json = copy_string(options->config.to_json());
  CFF_C_CATCH
}

cff_status* cff_options_validate(const cff_options* options) {
  CFF_C_TRY
  check_options(options)->config.validate();
  CFF_C_CATCH
}

// One typed setter: `...` is its body, with `m` (model options) and `t` (train options) in scope.
#define CFF_OPTIONS_SETTER(name, params, ...)           \
  cff_status* cff_options_set_##name params {           \
    CFF_C_TRY                                           \
    auto& m = check_options(options)->config.model;     \
    auto& t = options->config.train;                    \
    (void)m;                                            \
    (void)t;                                            \
    __VA_ARGS__;                                        \
    CFF_C_CATCH                                         \
  }

CFF_OPTIONS_SETTER(arch, (cff_options * options, cff_arch arch),
                   m.arch = cff::Architecture((check_enum(arch, CFF_ARCH_VIT, "arch"))))
CFF_OPTIONS_SETTER(algorithm, (cff_options * options, cff_algorithm algorithm),
                   t.algorithm = cff::Algorithm((check_enum(algorithm, CFF_ALGORITHM_BACKPROP, "algorithm"))))
CFF_OPTIONS_SETTER(embed_dim, (cff_options * options, int64_t embed_dim),
                   check_at_least(embed_dim, 1, "embed_dim");
                   m.embed_dim = embed_dim)
CFF_OPTIONS_SETTER(num_layers, (cff_options * options, int64_t num_layers),
                   check_at_least(num_layers, 1, "num_layers");
                   m.num_layers = num_layers)
CFF_OPTIONS_SETTER(num_heads, (cff_options * options, int64_t num_heads),
                   check_at_least(num_heads, 1, "num_heads");
                   m.num_heads = num_heads)
CFF_OPTIONS_SETTER(patch_size, (cff_options * options, int64_t patch_size),
                   check_at_least(patch_size, 1, "patch_size");
                   m.patch_size = patch_size)
CFF_OPTIONS_SETTER(pooling, (cff_options * options, cff_pooling pooling),
                   m.pooling = cff::Pooling((check_enum(pooling, CFF_POOLING_CLASS_TOKEN, "pooling"))))
CFF_OPTIONS_SETTER(input_shape, (cff_options * options, int64_t channels, int64_t height, int64_t width),
                   check_at_least(channels, 1, "channels");
                   check_at_least(height, 1, "height"); check_at_least(width, 1, "width");
                   if (!t.mean.empty() && int64_t(t.mean.size()) != channels) { t.mean.clear(); t.std.clear(); }
                   m.channels = channels; m.height = height; m.width = width)
CFF_OPTIONS_SETTER(num_classes, (cff_options * options, int64_t num_classes),
                   check_at_least(num_classes, 2, "num_classes");
                   m.num_classes = num_classes)
CFF_OPTIONS_SETTER(loss, (cff_options * options, const char* spec), t.loss = check_string(spec, "spec"))
CFF_OPTIONS_SETTER(augment, (cff_options * options, const char* spec), t.augment = check_string(spec, "spec"))
CFF_OPTIONS_SETTER(views, (cff_options * options, int64_t views),
                   if (views != 1 && views != 2) fail("options: views must be 1 or 2, got ", views);
                   t.views = views)
CFF_OPTIONS_SETTER(lr, (cff_options * options, double lr, double weight_decay),
                   check_positive(lr, "lr");
                   check_non_negative(weight_decay, "weight_decay"); t.lr = lr; t.weight_decay = weight_decay)
CFF_OPTIONS_SETTER(head_lr, (cff_options * options, double lr, double weight_decay),
                   check_positive(lr, "head lr");
                   check_non_negative(weight_decay, "head weight_decay"); t.head_lr = lr;
                   t.head_weight_decay = weight_decay)
CFF_OPTIONS_SETTER(batch_size, (cff_options * options, int64_t batch_size),
                   check_at_least(batch_size, 2, "batch_size");
                   t.batch_size = batch_size)
CFF_OPTIONS_SETTER(epochs, (cff_options * options, int64_t epochs, int64_t head_epochs),
                   check_at_least(epochs, 0, "epochs");
                   check_at_least(head_epochs, 0, "head_epochs"); t.epochs = epochs; t.head_epochs = head_epochs)
CFF_OPTIONS_SETTER(val_fraction, (cff_options * options, double val_fraction),
                   if (!(val_fraction >= 0 && val_fraction < 1))
                       fail("options: val_fraction must be in [0, 1), got ", val_fraction);
                   t.val_fraction = val_fraction)
CFF_OPTIONS_SETTER(seed, (cff_options * options, uint64_t seed), t.seed = seed)
CFF_OPTIONS_SETTER(device, (cff_options * options, const char* device), t.device = check_string(device, "device"))
CFF_OPTIONS_SETTER(precision, (cff_options * options, cff_precision precision),
                   t.precision = cff::Precision((check_enum(precision, CFF_PRECISION_AUTO, "precision"))))
CFF_OPTIONS_SETTER(threads, (cff_options * options, int64_t threads),
                   check_at_least(threads, 0, "threads");
                   t.threads = threads)
CFF_OPTIONS_SETTER(ff_prediction, (cff_options * options, cff_ff_prediction mode),
                   t.ff_prediction = cff::FFPrediction((check_enum(mode, CFF_FF_PREDICTION_HEAD, "ff_prediction"))))

cff_status* cff_options_set_normalization(cff_options* options, const double* mean, const double* std,
                                          int64_t channels) {
  CFF_C_TRY
  auto& t = check_options(options)->config.train;
  if (channels == 0) {
    t.mean.clear();
    t.std.clear();
    return nullptr;
  }
  if (channels != options->config.model.channels)
    fail("options: normalization needs one value per channel (", options->config.model.channels, "), got ", channels);
  check_out(mean, "mean");
  check_out(std, "std");
  for (int64_t c = 0; c < channels; ++c) {
    if (!std::isfinite(mean[c])) fail("options: mean[", c, "] is not finite");
    check_positive(std[c], "std");
    if (std[c] < cff::kMinStd) fail("options: std[", c, "] must be >= ", cff::kMinStd, ", got ", std[c]);
  }
  t.mean.assign(mean, mean + channels);
  t.std.assign(std, std + channels);
  CFF_C_CATCH
}

// ==== Models ============================================================================================

cff_status* cff_model_create(const cff_options* options, cff_model** out_model) {
  CFF_C_TRY
  check_out(out_model, "out_model");
  const cff::Config config = options ? check_options(options)->config : cff::Config{};
  *out_model = publish(new cff_model(cff::Trainer(config)), Kind::kModel);
  CFF_C_CATCH
}

cff_status* cff_model_create_json(const char* json, cff_model** out_model) {
  CFF_C_TRY
  check_string(json, "json");
  check_out(out_model, "out_model");
  *out_model = publish(new cff_model(cff::Trainer(cff::Config::from_json(json))), Kind::kModel);
  CFF_C_CATCH
}

void cff_model_free(cff_model* model) { release(model, Kind::kModel); }

cff_status* cff_model_load(const char* path, const char* device, cff_model** out_model) {
  CFF_C_TRY
  check_string(path, "path");
  check_out(out_model, "out_model");
  const std::string dev = device ? device : "";
  if (!dev.empty()) cff::resolve_device(dev);  // a bad device is the caller's error, not the file's
  *out_model = publish(new cff_model(cff::Trainer::load(path, dev)), Kind::kModel);
  CFF_C_CATCH
}

cff_status* cff_model_save(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  model->trainer.save(check_string(path, "path"));
  CFF_C_CATCH
}

cff_status* cff_model_export_torchscript(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  check_string(path, "path");
  cff::export_torchscript(model->trainer, path);
  CFF_C_CATCH
}

cff_status* cff_model_load_state(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  model->trainer.load_state(check_string(path, "path"));
  CFF_C_CATCH
}

cff_status* cff_model_num_layers(cff_model* model, int64_t* out_num_layers) {
  CFF_C_TRY
  check_model(model);
  *check_out(out_num_layers, "out_num_layers") = model->trainer.num_layers();
  CFF_C_CATCH
}

cff_status* cff_model_num_classes(cff_model* model, int64_t* out_num_classes) {
  CFF_C_TRY
  check_model(model);
  *check_out(out_num_classes, "out_num_classes") = num_classes(model);
  CFF_C_CATCH
}

cff_status* cff_model_embed_dim(cff_model* model, int64_t* out_embed_dim) {
  CFF_C_TRY
  check_model(model);
  *check_out(out_embed_dim, "out_embed_dim") = model->trainer.config().model.embed_dim;
  CFF_C_CATCH
}

cff_status* cff_model_num_parameters(cff_model* model, int64_t* out_num_parameters) {
  CFF_C_TRY
  check_model(model);
  *check_out(out_num_parameters, "out_num_parameters") = model->trainer.config().parameter_count();
  CFF_C_CATCH
}

cff_status* cff_model_input_shape(cff_model* model, int64_t* out_channels, int64_t* out_height, int64_t* out_width) {
  CFF_C_TRY
  check_model(model);
  check_out(out_channels, "out_channels");
  check_out(out_height, "out_height");
  check_out(out_width, "out_width");
  const auto m = model->trainer.config().model;
  *out_channels = m.channels;
  *out_height = m.height;
  *out_width = m.width;
  CFF_C_CATCH
}

cff_status* cff_model_progress(cff_model* model, int64_t* out_stage, int64_t* out_epoch) {
  CFF_C_TRY
  check_model(model);
  check_out(out_stage, "out_stage");
  check_out(out_epoch, "out_epoch");
  *out_stage = model->trainer.stage();
  *out_epoch = model->trainer.epoch();
  CFF_C_CATCH
}

cff_status* cff_model_device(cff_model* model, char** out_device) {
  CFF_C_TRY
  check_model(model);
  check_out(out_device, "out_device");  // before the copy: the right side of `=` runs first
  *out_device = copy_string(model->trainer.device().str());
  CFF_C_CATCH
}

cff_status* cff_model_config_json(cff_model* model, char** out_json) {
  CFF_C_TRY
  check_model(model);
  check_out(out_json, "out_json");
  *out_json = copy_string(model->trainer.config().to_json());
  CFF_C_CATCH
}

cff_status* cff_model_set_ff_prediction(cff_model* model, cff_ff_prediction mode) {
  CFF_C_TRY
  check_model(model);
  model->trainer.set_ff_prediction(cff::FFPrediction((check_enum(mode, CFF_FF_PREDICTION_HEAD, "ff_prediction"))));
  CFF_C_CATCH
}

// ==== Stage 1 ===========================================================================================

cff_status* cff_layer_batch_create(cff_model* model, const cff_batch* batch, int32_t augment,
                                   cff_layer_batch** out_layer_batch) {
  CFF_C_TRY
  check_model(model);
  check_out(out_layer_batch, "out_layer_batch");
  CFF_CHECK_CODE(model->trainer.config().train.algorithm != cff::Algorithm::kBackprop, ErrorCode::kState,
                 "a backprop model trains end to end and has no layer batches; use cff_model_step");
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  auto lb = std::make_unique<cff_layer_batch>();
  lb->owner = model;
  lb->batch = model->trainer.prepare(images, labels, augment != 0);
  *out_layer_batch = publish(lb.release(), Kind::kLayerBatch);
  CFF_C_CATCH
}

void cff_layer_batch_free(cff_layer_batch* layer_batch) { release(layer_batch, Kind::kLayerBatch); }

cff_status* cff_layer_batch_next_layer(const cff_layer_batch* layer_batch, int64_t* out_layer) {
  CFF_C_TRY
  auto* lb = const_cast<cff_layer_batch*>(check_handle(layer_batch, Kind::kLayerBatch, "layer_batch"));
  check_out(out_layer, "out_layer");
  std::lock_guard<std::mutex> lock(lb->mutex);
  *out_layer = lb->next_layer;
  CFF_C_CATCH
}

cff_status* cff_model_train_layer(cff_model* model, cff_layer_batch* layer_batch, int64_t layer, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  check_handle(layer_batch, Kind::kLayerBatch, "layer_batch");
  if (layer_batch->owner != model) fail("layer_batch was made by another model");
  const int64_t L = model->trainer.num_layers();
  if (layer < 0 || layer >= L) fail("layer ", layer, " out of 0..", L - 1);
  std::lock_guard<std::mutex> lock(layer_batch->mutex);
  CFF_CHECK_CODE(layer == layer_batch->next_layer, ErrorCode::kState, "layer batch enters layer ",
                 layer_batch->next_layer, " next, not layer ", layer, " (layers of a batch train in order)");
  const double loss = model->trainer.train_layer(layer, layer_batch->batch);
  ++layer_batch->next_layer;
  if (out_loss) *out_loss = loss;
  CFF_C_CATCH
}

cff_status* cff_model_step(cff_model* model, const cff_batch* batch, double* out_losses, int64_t losses_capacity,
                     int64_t* out_count) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  check_capacity(out_losses, losses_capacity, losses_per_step(model), "out_losses");
  copy_losses(model->trainer.step(images, labels), out_losses, out_count);
  CFF_C_CATCH
}

cff_status* cff_model_layer_losses(cff_model* model, const cff_batch* batch, int32_t augment, double* out_losses,
                             int64_t losses_capacity, int64_t* out_count) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  check_capacity(out_losses, losses_capacity, losses_per_step(model), "out_losses");
  copy_losses(model->trainer.layer_losses(images, labels, augment != 0), out_losses, out_count);
  CFF_C_CATCH
}

// ==== Stage 2 ===========================================================================================

cff_status* cff_model_head_step(cff_model* model, const cff_batch* batch, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  const double loss = model->trainer.head_step(images, labels);
  if (out_loss) *out_loss = loss;
  CFF_C_CATCH
}

cff_status* cff_model_head_loss(cff_model* model, const cff_batch* batch, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  check_out(out_loss, "out_loss");
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  CFF_CHECK_CODE(model->trainer.config().train.algorithm != cff::Algorithm::kBackprop, ErrorCode::kState,
                 "BP has no separate head stage; its head trains in cff_model_step");
  *out_loss = model->trainer.head_loss(images, labels);
  CFF_C_CATCH
}

// ==== Whole runs ========================================================================================

cff_status* cff_model_fit(cff_model* model, const cff_dataset* train, cff_progress_fn progress, void* user_data,
                          const char* checkpoint_path, int32_t* out_stopped) {
  CFF_C_TRY
  check_model(model);
  check_dataset(train);
  std::atomic<bool> stop{false};
  cff::FitHooks hooks;
  hooks.stop = &stop;
  if (checkpoint_path) hooks.checkpoint_path = checkpoint_path;
  auto report = [&](cff_progress& p, const std::string& message) {
    p.struct_size = sizeof(cff_progress);
    p.message = message.c_str();
    if (progress(&p, user_data) != 0) stop = true;
  };
  auto losses_text = [](const char* label, const std::vector<double>& v) {
    std::string s = label;
    char buf[32];
    for (double x : v) {
      std::snprintf(buf, sizeof buf, " %.4f", x);
      s += buf;
    }
    return s;
  };
  // Read before fit(): the hooks run inside it, with the trainer locked.
  const auto train_options = model->trainer.config().train;
  if (progress) {
    hooks.on_progress = [&](const cff::Progress& p) {
      cff_progress c{};
      c.stage = p.stage;
      c.epoch = p.epoch;
      c.epochs = p.epochs;
      c.batch = p.batch;
      c.batches = p.batches;
      c.losses = p.losses.data();
      c.num_losses = int64_t(p.losses.size());
      c.seconds = p.seconds;
      report(c, "stage " + std::to_string(p.stage) + " epoch " + std::to_string(p.epoch) + "/" +
                    std::to_string(p.epochs) + " batch " + std::to_string(p.batch) + "/" + std::to_string(p.batches) +
                    losses_text(" loss", p.losses));
    };
    hooks.on_epoch = [&](const cff::EpochRecord& r) {
      cff_progress c{};
      c.end_of_epoch = 1;
      c.stage = r.stage;
      c.epoch = r.epoch;
      c.epochs = r.stage == 1 ? train_options.epochs : train_options.head_epochs;
      c.losses = r.train_loss.data();
      c.num_losses = int64_t(r.train_loss.size());
      c.val_losses = r.val_loss.empty() ? nullptr : r.val_loss.data();
      c.num_val_losses = int64_t(r.val_loss.size());
      c.seconds = r.seconds;
      report(c, "stage " + std::to_string(r.stage) + " epoch " + std::to_string(r.epoch) + " done" +
                    losses_text(" train", r.train_loss) + losses_text(" val", r.val_loss) + (r.best ? " (best)" : ""));
    };
  }
  struct CallbackScope {  // marks this thread as inside the model's callbacks for the run's length
    cff_model* m;
    explicit CallbackScope(cff_model* model) : m(model) { m->callback_thread = std::this_thread::get_id(); }
    ~CallbackScope() { m->callback_thread = std::thread::id(); }
  } scope(model);
  const auto result = model->trainer.fit(train->data, hooks);
  if (out_stopped) *out_stopped = result.stopped ? 1 : 0;
  CFF_C_CATCH
}

// ==== Inference =========================================================================================

cff_status* cff_model_predict(cff_model* model, const cff_batch* batch, int64_t k, int64_t* out_labels,
                        int64_t labels_length, float* out_scores, int64_t scores_length, int64_t* out_topk,
                        int64_t topk_length) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const int64_t n = batch->count, classes = num_classes(model);
  if (k < 1 || k > classes) fail("top-k: k must be in 1..", classes, ", got ", k);
  check_length(out_labels, labels_length, n, "out_labels");
  check_length(out_scores, scores_length, checked_product({n, classes}, "out_scores"), "out_scores");
  check_length(out_topk, topk_length, checked_product({n, k}, "out_topk"), "out_topk");
  const auto p = model->trainer.predict(images, k);
  if (out_labels) std::memcpy(out_labels, p.labels.contiguous().data_ptr<int64_t>(), sizeof(int64_t) * size_t(n));
  if (out_scores)
    std::memcpy(out_scores, p.scores.contiguous().data_ptr<float>(), sizeof(float) * size_t(n * classes));
  if (out_topk) std::memcpy(out_topk, p.topk.contiguous().data_ptr<int64_t>(), sizeof(int64_t) * size_t(n * k));
  CFF_C_CATCH
}

cff_status* cff_model_embed(cff_model* model, const cff_batch* batch, int64_t layer, float* out_embeddings,
                      int64_t embeddings_length) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const int64_t L = model->trainer.num_layers();
  if (layer < 0 || layer >= L) fail("layer ", layer, " out of 0..", L - 1);
  const int64_t needed = checked_product({batch->count, model->trainer.config().model.embed_dim}, "out_embeddings");
  if (!out_embeddings) fail("out_embeddings is NULL");
  if (embeddings_length != needed) fail("out_embeddings has length ", embeddings_length, ", expected ", needed);
  const auto z = model->trainer.embed(images, layer).contiguous();
  std::memcpy(out_embeddings, z.data_ptr<float>(), sizeof(float) * size_t(needed));
  CFF_C_CATCH
}

cff_status* cff_model_evaluate(cff_model* model, const cff_batch* batch, const int64_t* ks, int64_t num_ks,
                         double* out_accuracies) {
  CFF_C_TRY
  check_model(model);
  model_images(model, batch);  // shape checks before any copy of the labels
  const auto k = check_ks(model, ks, num_ks, out_accuracies);
  const auto e = model->trainer.evaluate(dataset_from_batch(batch, num_classes(model)), k);
  write_accuracies(e, k, out_accuracies);
  CFF_C_CATCH
}

cff_status* cff_model_evaluate_dataset(cff_model* model, const cff_dataset* data, const int64_t* ks, int64_t num_ks,
                                 double* out_accuracies) {
  CFF_C_TRY
  check_model(model);
  check_dataset(data);
  const auto k = check_ks(model, ks, num_ks, out_accuracies);
  write_accuracies(model->trainer.evaluate(data->data, k), k, out_accuracies);
  CFF_C_CATCH
}

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
  check_enum(dtype, CFF_DTYPE_FLOAT32, "dtype");
  check_range(dataset, start, count);
  const auto& images = dataset->data.images;
  const int64_t needed = count * images.size(1) * images.size(2) * images.size(3);
  if (!out_images) fail("out_images is NULL");
  if (images_length != needed) fail("out_images has length ", images_length, ", expected ", needed);
  auto rows = images.narrow(0, start, count);
  if (dtype == CFF_DTYPE_FLOAT32) {
    if (rows.scalar_type() == torch::kUInt8) rows = rows.to(torch::kFloat).div_(255.0);
    std::memcpy(out_images, rows.contiguous().data_ptr<float>(), sizeof(float) * size_t(needed));
  } else {
    if (rows.scalar_type() != torch::kUInt8) rows = rows.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8);
    std::memcpy(out_images, rows.contiguous().data_ptr<uint8_t>(), size_t(needed));
  }
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

cff_status* cff_dataset_class_name(const cff_dataset* dataset, int64_t index, const char** out_name) {
  CFF_C_TRY
  check_dataset(dataset);
  check_out(out_name, "out_name");
  if (index < 0 || index >= int64_t(dataset->names.size()))
    fail("class ", index, " out of 0..", int64_t(dataset->names.size()) - 1);
  *out_name = dataset->names[size_t(index)].c_str();
  CFF_C_CATCH
}

// ==== Providers ==========================================================================================

cff_status* cff_provider_list_create(cff_provider_kind kind, cff_provider_list** out_list) {
  CFF_C_TRY
  check_enum(kind, CFF_PROVIDER_KIND_AUGMENTATION, "provider kind");
  check_out(out_list, "out_list");
  const auto listing = cff::list_providers();  // discovers CFF_PLUGIN_PATH / installed plugins first
  const auto& infos = kind == CFF_PROVIDER_KIND_LOSS ? listing.losses : listing.augmentations;
  auto list = std::make_unique<cff_provider_list>();
  for (const auto& info : infos)
    list->items.push_back({info.name, info.description, join_params(info.params), info.origin});
  *out_list = publish(list.release(), Kind::kProviderList);
  CFF_C_CATCH
}

void cff_provider_list_free(cff_provider_list* list) { release(list, Kind::kProviderList); }

cff_status* cff_provider_list_count(const cff_provider_list* list, int64_t* out_count) {
  CFF_C_TRY
  check_handle(list, Kind::kProviderList, "list");
  *check_out(out_count, "out_count") = int64_t(list->items.size());
  CFF_C_CATCH
}

cff_status* cff_provider_list_get(const cff_provider_list* list, int64_t index, const char** out_name,
                                  const char** out_description, const char** out_params, const char** out_origin) {
  CFF_C_TRY
  check_handle(list, Kind::kProviderList, "list");
  if (index < 0 || index >= int64_t(list->items.size()))
    fail("provider ", index, " out of 0..", int64_t(list->items.size()) - 1);
  const auto& item = list->items[size_t(index)];
  if (out_name) *out_name = item.name.c_str();
  if (out_description) *out_description = item.description.c_str();
  if (out_params) *out_params = item.params.c_str();
  if (out_origin) *out_origin = item.origin.c_str();
  CFF_C_CATCH
}

// ==== Input limits =======================================================================================

cff_status* cff_limit_set(const char* name, int64_t value) {
  CFF_C_TRY
  cff::set_input_limit(check_string(name, "name"), value);
  CFF_C_CATCH
}

// ==== Plugins ============================================================================================

uint32_t cff_plugin_abi_version(void) { return uint32_t(cff::plugin_abi_version()); }

cff_status* cff_plugin_load(const char* path, char** out_name) {
  CFF_C_TRY
  const auto info = cff::load_plugin(check_string(path, "path"));
  if (out_name) *out_name = copy_string(info.name);
  CFF_C_CATCH
}

cff_status* cff_plugin_unload(const char* path, int32_t* out_unloaded) {
  CFF_C_TRY
  const bool unloaded = cff::unload_plugin(check_string(path, "path"));
  if (out_unloaded) *out_unloaded = unloaded ? 1 : 0;
  CFF_C_CATCH
}

}  // extern "C"
