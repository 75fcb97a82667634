#pragma once
/// @file runtime.hpp
/// Device, precision and thread selection shared by the trainer and the tools.

#include <optional>
#include <string>

#include <torch/torch.h>

#include "cff/options.hpp"

namespace cff {

/// libcff's version string, e.g. "0.1.0" (the run-time twin of CFF_VERSION_STRING).
const char* version();
/// The LibTorch version the library was built against, e.g. "1.13.1".
const char* torch_version();

/// "auto" -> CUDA when available, else CPU; "cpu"; "cuda" or "cuda:N" (kUnsupported if absent).
torch::Device resolve_device(const std::string& name);

/// Whether this CPU multiplies bf16 in hardware (AMX-BF16 or AVX512-BF16; x86 CPUID).
bool cpu_has_bf16();
/// kAuto -> kBFloat16 on CUDA or when cpu_has_bf16(), else kFloat32; other values unchanged.
Precision resolve_precision(Precision precision, const torch::Device& device);

/// Sets LibTorch's intra-op threads to `n` and OpenBLAS's threads to `blas`; 0 = automatic.
/// Both 0, with a pthreads OpenBLAS (its own pool, Debian's default) and `precision` float32 on
/// the CPU: LibTorch 1, OpenBLAS every core (an fp32 step is mostly OpenBLAS products; measured
/// 1.4x faster than the reverse on 2 cores). Otherwise n = 0 means every available core, and
/// blas = 0 means 1 next to a multi-threaded LibTorch when OpenBLAS runs its own pool (the pools
/// contend), or n when OpenBLAS is built with OpenMP and shares LibTorch's pool. kAuto is
/// resolved for the CPU. Process-wide: affects every model in the process.
void set_threads(int64_t n, int64_t blas = 0, Precision precision = Precision::kAuto);
/// OpenBLAS's current thread count (0 when LibTorch does not use OpenBLAS).
int64_t blas_threads();
/// The number of cores available to this process.
int64_t available_cores();

/// Keeps freed blocks up to 32 MiB in glibc's heap instead of returning them to the kernel, once
/// per process (a Trainer calls it; 3.6x faster bf16 steps measured). Set the environment variable
/// CFF_KEEP_MALLOC to leave the host's malloc settings untouched.
void tune_allocator();

/// The dtype autocast casts matmuls to on `device`'s type in this thread, or nullopt when
/// autocast is off there. Lets code that runs under AutocastGuard with autocast excluded (the fused
/// contrastive loss) pick the same precision for its own products.
std::optional<torch::ScalarType> autocast_dtype(const torch::Device& device);

/// Enables autocast for `precision` on `device` for its lifetime (no-op for float32); restores
/// the previous state on destruction. Thread-local, like LibTorch's autocast.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_ = false;
};

}  // namespace cff
