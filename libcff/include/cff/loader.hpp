#pragma once
/// @file loader.hpp
/// Batches of an ImageSource, decoded (and optionally augmented) on worker threads ahead of the
/// consumer, in a seeded order per epoch.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "cff/augment.hpp"
#include "cff/data.hpp"

namespace cff {

/// 0 .. n-1 in the order epoch `epoch` of a seeded shuffle visits them: std::shuffle with
/// mt19937_64(mix_seed(seed, epoch)). The Loader and the C API's batch iterator both use it.
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch);

struct LoaderOptions {
  int64_t batch_size = 512;
  /// Decoding threads. 0 = no threads: next() decodes the batch on the calling thread.
  int64_t workers = 2;
  /// Batches decoded ahead of the consumer at most (the bound of the queue); >= 1.
  int64_t prefetch = 4;
  /// Augmentation pipeline run on the workers after decoding (augment.hpp specs; "" = none).
  /// Augmented batches are float32 in [0, 1]; otherwise batches keep the source's dtype.
  std::string augment;
  /// Seeds start_epoch()'s shuffle (epoch e: mt19937_64(mix_seed(seed, e))) and the per-batch
  /// augmentation seeds (mix_seed(mix_seed(seed, pass), batch)), so results do not depend on
  /// the number of workers.
  uint64_t seed = 0;
};

/// One batch: `images` N x C x H x W; `labels` N int64; `indices` N int64 (source indices).
/// Images the source skipped (bad files) are left out, so N can be smaller than the batch size.
struct LoaderBatch {
  torch::Tensor images, labels, indices;
  int64_t batch = 0;  ///< 0-based position in the pass
};

/// Reads passes over a source in batches. Not thread safe itself (one consumer); the source is
/// read from the worker threads. Batches arrive in order whatever the number of workers.
class Loader {
 public:
  Loader(std::shared_ptr<const ImageSource> source, LoaderOptions options = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Starts a pass over `order` (source indices, any subset, any order); stops a running pass.
  void start(std::vector<int64_t> order);
  /// Starts a pass over every image in the seeded shuffle of epoch `epoch`.
  void start_epoch(int64_t epoch);
  /// The shuffle start_epoch(epoch) uses.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  /// Batches in the current pass.
  int64_t batches() const { return batches_; }
  /// The next batch of the pass; false at its end. Rethrows a worker's error (e.g. a bad file
  /// under BadFilePolicy::kFail).
  bool next(LoaderBatch& out);
  const ImageSource& source() const { return *source_; }
  const LoaderOptions& options() const { return options_; }

 private:
  LoaderBatch make_batch(int64_t b) const;
  void stop();
  void work();

  std::shared_ptr<const ImageSource> source_;
  LoaderOptions options_;
  AugmentPipeline augment_;
  std::vector<int64_t> order_;
  int64_t batches_ = 0, pass_ = -1;
  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::map<int64_t, LoaderBatch> done_;
  std::exception_ptr error_;
  int64_t claimed_ = 0, consumed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cff
