// The routines of cff_plugin_host: C buffers wrapped as LibTorch tensors (no copy) and handed to
// LibTorch's BLAS-backed product and vectorised softmax, on LibTorch's threads.
#include <cstdio>
#include <new>

#include <torch/torch.h>

#include "host.hpp"

namespace cff::detail {
namespace {

// Runs `fn`; any exception becomes a non-zero status and a one-line message for the plugin.
template <typename Fn>
int32_t guarded(const char* what, char* message, size_t size, Fn&& fn) {
  auto say = [&](const char* reason) {
    if (message && size) std::snprintf(message, size, "host %s: %s", what, reason);
  };
  try {
    fn();
    return 0;
  } catch (const std::bad_alloc&) {
    say("out of memory");
    return 2;
  } catch (const c10::Error& e) {
    say(e.what_without_backtrace());
  } catch (const std::exception& e) {
    say(e.what());
  } catch (...) {
    say("unknown error");
  }
  return 1;
}

// A row-major rows x cols view of `data` with row stride ld.
torch::Tensor matrix(const float* data, int64_t rows, int64_t cols, int64_t ld, const char* name) {
  TORCH_CHECK(rows >= 0 && cols >= 0, name, " has negative sizes ", rows, " x ", cols);
  TORCH_CHECK(ld >= std::max<int64_t>(cols, 1), name, ": row stride ", ld, " is below the row length ", cols);
  TORCH_CHECK(data != nullptr || rows * cols == 0, name, " is NULL");
  return torch::from_blob(const_cast<float*>(data), {rows, cols}, {ld, 1}, torch::kFloat);
}

int32_t host_sgemm(int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, char* message,
                   size_t message_size) {
  return guarded("sgemm", message, message_size, [&] {
    torch::NoGradGuard no_grad;
    const auto A = trans_a ? matrix(a, k, m, lda, "A").t() : matrix(a, m, k, lda, "A");
    const auto B = trans_b ? matrix(b, n, k, ldb, "B").t() : matrix(b, k, n, ldb, "B");
    auto C = matrix(c, m, n, ldc, "C");
    C.addmm_(A, B, beta, alpha);
  });
}

int32_t host_softmax_rows(int64_t rows, int64_t cols, float* x, int64_t ld, float* lse, char* message,
                          size_t message_size) {
  return guarded("softmax_rows", message, message_size, [&] {
    torch::NoGradGuard no_grad;
    auto X = matrix(x, rows, cols, ld, "x");
    if (lse) matrix(lse, rows, 1, 1, "lse").copy_(torch::logsumexp(X, 1, /*keepdim=*/true));
    X.copy_(torch::softmax(X, 1));
  });
}

}  // namespace

const cff_plugin_host& plugin_host() {
  static const cff_plugin_host host{CFF_PLUGIN_ABI_VERSION, sizeof(cff_plugin_host), host_sgemm, host_softmax_rows};
  return host;
}

}  // namespace cff::detail
