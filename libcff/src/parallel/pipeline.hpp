#pragma once
// Internal: stage 1 of fit() as a pipeline. The encoder's layers are split into contiguous stages;
// a batch enters stage 0 when the caller submits it and leaves the last stage with every layer's
// loss. Stages run on their own threads (ThreadPipeline) with bounded queues between them; the
// caller receives finished batches in order.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../train/state.hpp"

namespace cff::parallel {

/// One batch on its way through the stages.
struct Item {
  int64_t index = 0;           ///< batch number within the pass
  int64_t images = 0;          ///< images in the batch (the losses' weight)
  double lr_scale = 1.0;       ///< every layer trains this batch at lr_scale x lr
  LayerBatch batch;            ///< the next layer's input
  std::vector<double> losses;  ///< per layer, filled in by the stage that owns it
};

/// A blocking FIFO of at most `capacity` items (0 = unbounded). close() wakes every waiter: push
/// then fails, pop drains what is left and then fails.
template <typename T>
class Queue {
 public:
  explicit Queue(size_t capacity = 0) : capacity_(capacity) {}
  bool push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || capacity_ == 0 || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  bool pop(T& out, bool wait = true) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wait) not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  size_t capacity_;
  std::deque<T> items_;
  bool closed_ = false;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
};

/// Layer-local training of a contiguous range of layers: the work of one pipeline stage.
/// Sets each layer's learning rate for the batch, trains it (`current`, if given, names the layer
/// being trained), completes deferred updates.
void train_stage(Trainer::State& state, int64_t first, int64_t last, Item& item, int64_t* current = nullptr);

class ThreadPipeline {
 public:
  /// Starts one thread per stage, each with `threads` LibTorch intra-op threads.
  ThreadPipeline(Trainer::State& state, std::vector<std::pair<int64_t, int64_t>> stages, int64_t queue_depth,
                 int64_t threads);
  /// Stops and joins every stage (after an error or an early return: nothing is left running).
  ~ThreadPipeline();
  ThreadPipeline(const ThreadPipeline&) = delete;
  ThreadPipeline& operator=(const ThreadPipeline&) = delete;

  /// Hands a batch to stage 0, waiting while its queue is full; throws the first stage error.
  void submit(Item item);
  /// The next finished batch, in submission order: waits for one when `wait`, else returns false
  /// when none is ready. After finish(), false once all are taken. Throws the first stage error.
  bool next(Item& out, bool wait);
  /// No more batches: the stages drain.
  void finish();
  /// Seconds each stage spent training (not waiting), since the start.
  std::vector<double> busy_seconds() const;

 private:
  void run_stage(size_t s);
  void rethrow_if_failed();
  void stop_all();

  Trainer::State& state_;
  std::vector<std::pair<int64_t, int64_t>> stages_;
  int64_t threads_;
  std::vector<std::unique_ptr<Queue<Item>>> queues_;  // queues_[s] feeds stage s; the last one holds results
  std::vector<std::thread> workers_;
  std::vector<double> busy_;
  mutable std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace cff::parallel
