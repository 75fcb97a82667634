// The in-process pipeline: one thread per stage, bounded queues between stages, errors that stop
// every stage and reach the caller naming the stage and layer.
#include "pipeline.hpp"

#include <ATen/Parallel.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <chrono>

#include "cff/error.hpp"

namespace cff::parallel {

void train_stage(Trainer::State& state, int64_t first, int64_t last, Item& item, int64_t* current) {
  for (int64_t l = first; l < last; ++l) {
    if (current) *current = l;
    state.set_layer_lr_scale(l, item.lr_scale);
    item.losses[size_t(l)] = state.train_layer(l, item.batch, true);
  }
  state.complete_updates();
}

namespace {
// This thread's LibTorch intra-op threads (OpenMP's are per calling thread): LibTorch's lazy
// per-thread initialisation runs first so that it does not reset the count later.
void set_thread_budget(int64_t threads) {
  at::internal::lazy_init_num_threads();
#ifdef _OPENMP
  omp_set_num_threads(int(threads));
#else
  (void)threads;
#endif
}

std::string layers_text(std::pair<int64_t, int64_t> r) {
  return r.second - r.first == 1 ? "layer " + std::to_string(r.first)
                                 : "layers " + std::to_string(r.first) + ".." + std::to_string(r.second - 1);
}
}  // namespace

ThreadPipeline::ThreadPipeline(Trainer::State& state, std::vector<std::pair<int64_t, int64_t>> stages,
                               int64_t queue_depth, int64_t threads)
    : state_(state), stages_(std::move(stages)), threads_(threads), busy_(stages_.size(), 0.0) {
  for (size_t s = 0; s < stages_.size(); ++s) queues_.push_back(std::make_unique<Queue<Item>>(size_t(queue_depth)));
  queues_.push_back(std::make_unique<Queue<Item>>(0));  // results: unbounded, so a stage never waits on the caller
  for (size_t s = 0; s < stages_.size(); ++s) workers_.emplace_back([this, s] { run_stage(s); });
}

ThreadPipeline::~ThreadPipeline() {
  stop_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

void ThreadPipeline::stop_all() {
  for (auto& q : queues_) q->close();
}

void ThreadPipeline::run_stage(size_t s) {
  const auto [first, last] = stages_[s];
  int64_t layer = first;
  try {
    set_thread_budget(threads_);
    for (Item item; queues_[s]->pop(item);) {
      const auto t0 = std::chrono::steady_clock::now();
      train_stage(state_, first, last, item, &layer);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        busy_[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      if (!queues_[s + 1]->push(std::move(item))) return;  // stopped
    }
    queues_[s + 1]->close();  // drained: the next stage drains too
  } catch (...) {
    std::string what = "unknown error";
    ErrorCode code = ErrorCode::kInvalidArgument;
    try {
      throw;
    } catch (const Error& e) {
      what = e.what();
      code = e.code();
    } catch (const std::exception& e) {
      what = e.what();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_)
        error_ = std::make_exception_ptr(Error(code, "pipeline stage " + std::to_string(s) + " (" +
                                                         layers_text(stages_[s]) + "), layer " + std::to_string(layer) +
                                                         ": " + what));
    }
    stop_all();
  }
}

void ThreadPipeline::rethrow_if_failed() {
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    e = error_;
  }
  if (!e) return;
  stop_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  std::rethrow_exception(e);
}

void ThreadPipeline::submit(Item item) {
  item.losses.assign(size_t(state_.net->num_layers()), 0.0);
  if (!queues_.front()->push(std::move(item))) rethrow_if_failed();
  rethrow_if_failed();
}

bool ThreadPipeline::next(Item& out, bool wait) {
  const bool got = queues_.back()->pop(out, wait);
  rethrow_if_failed();
  return got;
}

void ThreadPipeline::finish() { queues_.front()->close(); }

std::vector<double> ThreadPipeline::busy_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_;
}

}  // namespace cff::parallel
