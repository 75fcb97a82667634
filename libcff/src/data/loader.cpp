// The Loader: workers claim batch numbers in order, wait while they are `prefetch` batches ahead
// of the consumer, decode (and augment) their batch, and file it under its number; next() hands
// the batches out strictly in order, so the result does not depend on the thread count.
#include <algorithm>
#include <numeric>
#include <random>

#include "cff/error.hpp"
#include "cff/loader.hpp"

namespace cff {

Loader::Loader(std::shared_ptr<const ImageSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(std::move(options)) {
  CFF_CHECK(source_ != nullptr, "loader: no source");
  CFF_CHECK(options_.batch_size >= 1, "loader: batch_size must be >= 1, got ", options_.batch_size);
  CFF_CHECK(options_.workers >= 0, "loader: workers must be >= 0, got ", options_.workers);
  CFF_CHECK(options_.prefetch >= 1, "loader: prefetch must be >= 1, got ", options_.prefetch);
  if (!options_.augment.empty()) augment_ = AugmentPipeline(options_.augment);
}

Loader::~Loader() { stop(); }

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  done_.clear();
  error_ = nullptr;
  stopping_ = false;
}

std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(n, 0)));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix_seed(seed, uint64_t(epoch)));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  return shuffled_order(source_->size(), options_.seed, epoch);
}

void Loader::start_epoch(int64_t epoch) { start(epoch_order(epoch)); }

void Loader::start(std::vector<int64_t> order) {
  stop();
  for (int64_t i : order)
    CFF_CHECK(i >= 0 && i < source_->size(), "loader: index ", i, " out of range 0..", source_->size() - 1);
  order_ = std::move(order);
  batches_ = (int64_t(order_.size()) + options_.batch_size - 1) / options_.batch_size;
  ++pass_;
  claimed_ = consumed_ = 0;
  for (int64_t t = 0; t < options_.workers; ++t) threads_.emplace_back([this] { work(); });
}

LoaderBatch Loader::make_batch(int64_t b) const {
  const int64_t start = b * options_.batch_size;
  const int64_t len = std::min<int64_t>(options_.batch_size, int64_t(order_.size()) - start);
  std::vector<int64_t> idx(order_.begin() + start, order_.begin() + start + len), kept;
  LoaderBatch out;
  out.batch = b;
  out.images = source_->gather(idx, &kept);
  std::vector<int64_t> labels, indices;
  for (int64_t k : kept) {
    indices.push_back(idx[size_t(k)]);
    labels.push_back(source_->label(idx[size_t(k)]));
  }
  out.labels = torch::tensor(labels, torch::kLong);
  out.indices = torch::tensor(indices, torch::kLong);
  if (!augment_.empty() && out.images.size(0) > 0) {
    auto x = out.images.scalar_type() == torch::kUInt8 ? out.images.to(torch::kFloat).div_(255.0) : out.images;
    out.images = augment_.apply(x, mix_seed(mix_seed(options_.seed, uint64_t(pass_)), uint64_t(b)));
  }
  return out;
}

void Loader::work() {
  while (true) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] { return stopping_ || claimed_ >= batches_ || claimed_ < consumed_ + options_.prefetch; });
      if (stopping_ || claimed_ >= batches_ || error_) return;
      b = claimed_++;
    }
    LoaderBatch batch;
    std::exception_ptr error;
    try {
      batch = make_batch(b);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !error_) error_ = error;
      if (!error) done_.emplace(b, std::move(batch));
    }
    ready_.notify_all();
    if (error) return;
  }
}

bool Loader::next(LoaderBatch& out) {
  if (consumed_ >= batches_) return false;
  if (threads_.empty()) {
    out = make_batch(consumed_++);
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [&] { return error_ || done_.count(consumed_) > 0; });
  if (done_.count(consumed_) == 0) std::rethrow_exception(error_);
  auto it = done_.find(consumed_);
  out = std::move(it->second);
  done_.erase(it);
  ++consumed_;
  lock.unlock();
  space_.notify_all();
  return true;
}

}  // namespace cff
