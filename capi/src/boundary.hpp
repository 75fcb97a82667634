#pragma once
// The C API's boundary, shared by its source files (one per object of cff.h): the structs behind
// cff.h's opaque handles, the table of live handles, statuses, CFF_C_TRY / CFF_C_CATCH, and the
// checks and conversions of arguments. Nothing here is exported (hidden visibility; cff_c.map):
// cff.h is the API.
//
// Every function body of the C API sits inside CFF_C_TRY / CFF_C_CATCH, which turns any
// exception (cff::Error, c10::Error, std::bad_alloc, std::exception, anything else) into a
// cff_status: nothing crosses the boundary. Handles are registered in a table of live handles so
// that a NULL or already freed handle is reported as CFF_CODE_INVALID_ARGUMENT without being
// dereferenced.
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
#include <numeric>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cff.h"
#include "cff/cff.hpp"

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
  // cff_model_set_parallel()'s settings for the next cff_model_fit().
  std::mutex parallel_mutex;
  cff::ParallelOptions parallel;
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

struct cff_batch_iterator {
  cff::Dataset data;  // shares the dataset's tensors: the dataset handle may be freed first
  int64_t batch_size = 0;
  uint64_t seed = 0;
  bool shuffle = false;
  int64_t epoch = 0, position = 0;
  std::vector<int64_t> order;  // this epoch's; empty until its first batch
};

struct cff_provider_list {
  struct Item {
    std::string name, description, params, origin;
  };
  std::vector<Item> items;
};

namespace cff_c {

using cff::ErrorCode;

// Returned when not even a status can be allocated; never freed, always live.
extern cff_status g_out_of_memory;

std::string first_line(const char* text);

// Turns the exception being handled into a status. Called only inside a catch block.
cff_status* status_from_exception() noexcept;

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

enum class Kind { kStatus, kOptions, kModel, kLayerBatch, kDataset, kProviderList, kBatchIterator };

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

HandleTable& handles();

// The handles held by the calls running on this thread (calls nest: a progress callback may call
// into the library for another model). CFF_C_TRY opens one scope per call.
extern thread_local std::vector<const void*> t_holds;

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
cff_status* make_status(cff_code code, const std::string& message) noexcept;

bool live_status(const cff_status* status);

template <typename T>
T* check_out(T* p, const char* what) {
  if (!p) fail(what, " is NULL");
  return p;
}

const char* check_string(const char* s, const char* what);

char* copy_string(const std::string& s);

cff_model* check_model(cff_model* m);

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

int64_t checked_product(std::initializer_list<int64_t> dims, const char* what);

void check_batch_header(const cff_batch* b);

// A library-owned NCHW copy of the batch's images (the caller's buffer is never aliased).
torch::Tensor batch_images(const cff_batch* b);

torch::Tensor batch_labels(const cff_batch* b, int64_t num_classes);

// Checks a batch against the model's input shape and converts it.
torch::Tensor model_images(const cff_model* m, const cff_batch* b);

int64_t num_classes(const cff_model* m);

void check_capacity(const void* out, int64_t capacity, int64_t needed, const char* what);

void check_length(const void* out, int64_t length, int64_t needed, const char* what);

void copy_losses(const std::vector<double>& losses, double* out, int64_t* out_count);

std::vector<int64_t> check_ks(const cff_model* m, const int64_t* ks, int64_t num_ks, const double* out);

void write_accuracies(const cff::Evaluation& e, const std::vector<int64_t>& ks, double* out);

// ---- Options ------------------------------------------------------------------------------------------

cff_options* check_options(cff_options* o);

const cff_options* check_options(const cff_options* o);

void check_at_least(int64_t v, int64_t min, const char* what);

void check_positive(double v, const char* what);

void check_non_negative(double v, const char* what);

std::string join_params(const std::vector<cff::ParamSpec>& params);

cff::Dataset dataset_from_batch(const cff_batch* b, int64_t classes);

const cff_dataset* check_dataset(const cff_dataset* d);

cff_dataset* publish_dataset(cff::Dataset d);

// Writes images (N x C x H x W, uint8 or float) into a caller buffer of their element count as
// `dtype` (CFF_DTYPE_UINT8 0..255, CFF_DTYPE_FLOAT32 0..1).
void copy_images(torch::Tensor rows, int dtype, void* out);

void check_range(const cff_dataset* d, int64_t start, int64_t count);

}  // namespace cff_c
