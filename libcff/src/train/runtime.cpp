// Device resolution, thread settings and autocast across LibTorch 1.13 and 2.x.
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>
#include <torch/version.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "cff/error.hpp"
#include "cff/runtime.hpp"
#include "cff/version.hpp"

// LibTorch 2.4 replaced the per-device autocast setters with device-typed ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CFF_AUTOCAST_DEVICE_TYPED 1
#endif

namespace cff {

const char* version() { return CFF_VERSION_STRING; }
const char* torch_version() { return TORCH_VERSION; }

torch::Device resolve_device(const std::string& name) {
  if (name == "auto" || name.empty()) return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  if (name == "cpu") return torch::kCPU;
  CFF_CHECK(name.rfind("cuda", 0) == 0, "unknown device '", name, "' (auto, cpu, cuda, cuda:N)");
  torch::Device dev(torch::kCUDA);
  try {
    dev = torch::Device(name);
  } catch (const std::exception&) {
    detail::throw_error(ErrorCode::kInvalidArgument, "unknown device '", name, "' (auto, cpu, cuda, cuda:N)");
  }
  CFF_CHECK_CODE(torch::cuda::is_available(), ErrorCode::kUnsupported, "device '", name,
                 "' requested but CUDA is not available (this LibTorch build or machine has no GPU)");
  CFF_CHECK_CODE(!dev.has_index() || dev.index() < int64_t(torch::cuda::device_count()), ErrorCode::kUnsupported,
                 "device '", name, "' requested but only ", torch::cuda::device_count(), " CUDA device(s) exist");
  return dev;
}

int64_t available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

namespace {
// OpenBLAS ignores LibTorch's thread setting; it is reached through the process's symbol table
// so that libcff does not depend on which BLAS LibTorch was linked with (null when it is not OpenBLAS).
template <typename Fn>
Fn openblas(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

// OpenBLAS's own thread count for `threads` LibTorch threads. A pthreads OpenBLAS (Debian's
// default) runs a thread pool of its own next to LibTorch's OpenMP pool; with both at every core
// they contend, and one BLAS thread is faster (measured here on 2 cores, bench_train_step: fp32
// MLP[500 3] step 161 ms at 2/1 vs 263 ms at 2/2, ViT[128 4 5] 868 vs 1427 ms; bf16 equal). An
// OpenMP OpenBLAS shares LibTorch's pool and gets the same count.
int64_t default_blas_threads(int64_t threads) {
  const auto parallel = openblas<int (*)()>("openblas_get_parallel");
  const bool own_pool = parallel == nullptr || parallel() == 1;
  return own_pool && threads > 1 ? 1 : threads;
}
}  // namespace

void set_threads(int64_t n, int64_t blas) {
  CFF_CHECK(n >= 0, "threads must be >= 0 (0 = every core), got ", n);
  CFF_CHECK(blas >= 0, "blas threads must be >= 0 (0 = the default for the OpenBLAS build), got ", blas);
  const int64_t threads = n == 0 ? available_cores() : n;
  torch::set_num_threads(int(threads));
  if (const auto set = openblas<void (*)(int)>("openblas_set_num_threads"))
    set(int(blas == 0 ? default_blas_threads(threads) : blas));
}

int64_t blas_threads() {
  const auto get = openblas<int (*)()>("openblas_get_num_threads");
  return get ? get() : 0;
}

void tune_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("CFF_KEEP_MALLOC")) return;
    // A training step allocates and frees the same large activations every time. glibc's
    // defaults hand them back to the kernel and fault them in again (measured: 3.6x slower
    // bf16 MLP steps); keep blocks up to 32 MiB in the heap and do not trim it.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

std::optional<torch::ScalarType> autocast_dtype(const torch::Device& device) {
#ifdef CFF_AUTOCAST_DEVICE_TYPED
  const auto type = device.is_cuda() ? at::kCUDA : at::kCPU;
  if (!at::autocast::is_autocast_enabled(type)) return std::nullopt;
  return at::autocast::get_autocast_dtype(type);
#else
  if (device.is_cuda()) {
    if (!at::autocast::is_enabled()) return std::nullopt;
    return at::autocast::get_autocast_gpu_dtype();
  }
  if (!at::autocast::is_cpu_enabled()) return std::nullopt;
  return at::autocast::get_autocast_cpu_dtype();
#endif
}

AutocastGuard::AutocastGuard(const torch::Device& device, Precision precision) {
  if (precision != Precision::kBFloat16) return;
  active_ = true;
  cuda_ = device.is_cuda();
#ifdef CFF_AUTOCAST_DEVICE_TYPED
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  previous_ = at::autocast::is_autocast_enabled(type);
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    previous_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    previous_ = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef CFF_AUTOCAST_DEVICE_TYPED
  at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, previous_);
#else
  if (cuda_)
    at::autocast::set_enabled(previous_);
  else
    at::autocast::set_cpu_enabled(previous_);
#endif
}

}  // namespace cff
