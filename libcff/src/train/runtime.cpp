// Device resolution, thread settings and autocast across LibTorch 1.13 and 2.x.
#include <ATen/autocast_mode.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
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

// A pthreads OpenBLAS (Debian's default) runs a thread pool of its own next to LibTorch's OpenMP
// pool; with both at every core they contend (OpenMP's workers spin between regions). An OpenMP
// OpenBLAS shares LibTorch's pool.
bool blas_has_own_pool() {
  const auto parallel = openblas<int (*)()>("openblas_get_parallel");
  return parallel == nullptr || parallel() == 1;
}
}  // namespace

void set_threads(int64_t n, int64_t blas, Precision precision) {
  CFF_CHECK(n >= 0, "threads must be >= 0 (0 = automatic), got ", n);
  CFF_CHECK(blas >= 0, "blas threads must be >= 0 (0 = automatic), got ", blas);
  const int64_t cores = available_cores();
  const bool own_pool = blas_has_own_pool();
  int64_t threads = n, blas_count = blas;
  if (n == 0 && blas == 0 && own_pool && resolve_precision(precision, torch::kCPU) == Precision::kFloat32) {
    // fp32 steps are mostly OpenBLAS products: give its pool every core and LibTorch one thread
    // (measured on 2 cores, fused loss, LibTorch/OpenBLAS threads: MLP[500 3] b512 233 ms at 1/2,
    // 336 at 2/1, 381 at 2/2, 372 at 1/1; ViT[128 4 5] b128 2072 / 2352 / 2412 / 2527 ms).
    threads = 1;
    blas_count = cores;
  } else {
    // bf16 products run in oneDNN on LibTorch's pool: every core there, one for a separate
    // OpenBLAS pool (bf16 steps measured equal at 2/1 and 2/2).
    if (threads == 0) threads = cores;
    if (blas_count == 0) blas_count = own_pool && threads > 1 ? 1 : threads;
  }
  torch::set_num_threads(int(threads));
  if (const auto set = openblas<void (*)(int)>("openblas_set_num_threads")) set(int(blas_count));
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

bool cpu_has_bf16() {
  static const bool has = [] {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    const bool amx_bf16 = (d >> 22) & 1u;
    __cpuid_count(7, 1, a, b, c, d);
    const bool avx512_bf16 = (a >> 5) & 1u;
    return amx_bf16 || avx512_bf16;
#else
    return false;
#endif
  }();
  return has;
}

Precision resolve_precision(Precision precision, const torch::Device& device) {
  if (precision != Precision::kAuto) return precision;
  return device.is_cuda() || cpu_has_bf16() ? Precision::kBFloat16 : Precision::kFloat32;
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
  if (resolve_precision(precision, device) != Precision::kBFloat16) return;
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
