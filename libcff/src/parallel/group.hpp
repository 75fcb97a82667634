#pragma once
// Internal: the ranks of a multi-process run as fit() uses them, on c10d (TCPStore rendezvous,
// ProcessGroupGloo). Every c10d failure leaves as cff::Error(kIo, "rank R: ...") naming what
// failed: a peer that exited ("stopped"), one that did not answer within the timeout, a
// rendezvous that could not be reached. Tensors may live on any device: they travel through
// host memory (Gloo's CPU transport).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cff/parallel.hpp"

namespace cff::parallel {

class Group {
 public:
  /// Joins the run `env` describes: rank 0 serves a TCPStore at master_addr:master_port, the
  /// others connect to it; then one Gloo process group over all ranks. Waits at most
  /// `timeout_seconds` for the others. kUnsupported when built without Gloo.
  static std::unique_ptr<Group> connect(const LaunchEnvironment& env, double timeout_seconds);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int64_t rank() const { return rank_; }
  int64_t size() const { return size_; }

  /// A group of the world ranks `members` (ascending, this rank among them); every member calls it
  /// with the same members and `name`. Ranks are renumbered 0.. in `members`' order.
  std::unique_ptr<Group> subgroup(const std::vector<int64_t>& members, const std::string& name);

  /// Every rank publishes `text` under `key`; returns every rank's text, by rank (through the store).
  std::vector<std::string> exchange(const std::string& key, const std::string& text);

  /// Point to point, tensor i under tag first_tag + i: `send` returns at once (the transfer
  /// overlaps what follows) and keeps the tensors alive until it completes; wait_sends() waits for
  /// every send so far. `recv` fills `tensors` (already shaped) from rank `from`.
  void send(std::vector<torch::Tensor> tensors, int64_t to, int first_tag = 0);
  void wait_sends();
  void recv(std::vector<torch::Tensor>& tensors, int64_t from, int first_tag = 0);

  /// Sums `tensors` in place over the group. `allreduce_async` returns a handle to wait on.
  class Pending;
  std::shared_ptr<Pending> allreduce_async(std::vector<torch::Tensor> tensors);
  void allreduce(std::vector<torch::Tensor> tensors);
  /// Copies `tensors` from `root` to every rank, in place.
  void broadcast(std::vector<torch::Tensor> tensors, int64_t root);
  /// `bytes` of `root`, on every rank.
  std::string broadcast_bytes(const std::string& bytes, int64_t root);

  /// The rows of every rank's `local` stacked in rank order (rank r holds rows[r] rows; the other
  /// dimensions agree). Differentiable: the gradient of the result reaches `local` as the slice of
  /// this rank's rows, which is the whole gradient when every rank computes the same loss of the
  /// gathered rows (how fit() uses it).
  torch::Tensor all_gather_rows(const torch::Tensor& local, const std::vector<int64_t>& rows);

 private:
  struct Impl;
  Group(std::unique_ptr<Impl> impl, int64_t rank, int64_t size);
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0, size_ = 1;
  friend struct GatherRows;
};

class Group::Pending {
 public:
  virtual ~Pending() = default;
  /// Waits for the operation; the tensors given to it hold its result.
  virtual void wait() = 0;
};

/// Rows [first, first + count) of `n` rows split over `parts` shards as evenly as possible (the
/// first n % parts shards hold one more), for shard `part`.
std::pair<int64_t, int64_t> shard_of(int64_t n, int64_t parts, int64_t part);
std::vector<int64_t> shard_sizes(int64_t n, int64_t parts);

}  // namespace cff::parallel
