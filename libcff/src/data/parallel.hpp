#pragma once
// Internal: a minimal parallel for over 0..n-1 on `workers` threads (the caller is one of them).
// The first exception stops the remaining work and is rethrown on the calling thread.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cff::detail {

template <typename Fn>
void parallel_for(int64_t n, int64_t workers, Fn&& fn) {
  workers = std::max<int64_t>(1, std::min<int64_t>(workers, n));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto body = [&] {
    for (int64_t i; (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < workers; ++t) threads.emplace_back(body);
  body();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}


}  // namespace cff::detail
