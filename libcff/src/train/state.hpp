#pragma once
// Internal: everything a Trainer owns. Shared by trainer.cpp, fit.cpp and io/checkpoint.cpp.

#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "cff/augment.hpp"
#include "cff/losses.hpp"
#include "cff/model.hpp"
#include "cff/trainer.hpp"

namespace cff {
namespace parallel {
class Group;
}

struct Trainer::State {
  explicit State(const Config& config);

  Config cfg;
  torch::Device device{torch::kCPU};
  Network net{nullptr};
  Head head{nullptr};
  std::vector<std::unique_ptr<LocalLoss>> losses;  // one per layer (empty for BP)
  LossInputs loss_inputs = LossInputs::kViews;
  std::vector<std::unique_ptr<torch::optim::AdamW>> layer_opt;  // stage 1, one per layer (empty for BP)
  std::unique_ptr<torch::optim::AdamW> head_opt;                // stage 2 (BP: the whole network)
  AugmentPipeline augment;
  std::mt19937_64 rng;
  torch::Tensor mean, inv_std, shift;  // 1 x C x 1 x 1 on device; shift = -mean * inv_std

  int64_t stage = 1;  // 1 encoder, 2 head, 3 done
  int64_t epoch = 0;  // completed epochs of the current stage
  std::vector<EpochRecord> history;
  double best_val = std::numeric_limits<double>::infinity();
  int64_t best_epoch = 0;
  std::vector<torch::Tensor> best_snapshot;  // clone of the state selected so far in this stage

  // Data parallelism inside fit() (ParallelMode::kData, parallel.hpp). When set: prepare() and
  // head_step() keep this rank's shard of the batch (labels stay the global batch's); every loss
  // sees all ranks' features (gather_rows) and so is the global batch's loss on every rank; a
  // layer's gradients are summed over the group, asynchronously, and its AdamW step waits in
  // `deferred` until complete_updates() (the next layers' compute overlaps the reduction).
  parallel::Group* data_group = nullptr;
  std::vector<std::function<void()>> deferred;
  void complete_updates();
  torch::Tensor shard_rows(const torch::Tensor& global) const;      // identity without data_group
  torch::Tensor gather_rows(const torch::Tensor& local, int64_t global_rows);  // the same
  void reduce_gradients(torch::optim::Optimizer& opt);                  // synchronous; no-op without

  bool is_bp() const { return cfg.train.algorithm == Algorithm::kBackprop; }
  /// Sets the learning rate of the optimizers fit() is training in the current stage to
  /// `factor` x the configured one (the others to the configured one).
  void set_lr_scale(double factor);
  /// Every layer's optimizer (BP: the whole network's) at stage1 x lr, the head's at stage2 x head_lr.
  void set_lr_scales(double stage1, double stage2);
  /// Layer `layer`'s optimizer at factor x lr (the pipeline's per-batch schedule).
  void set_layer_lr_scale(int64_t layer, double factor);
  void set_normalization(const std::vector<double>& mean, const std::vector<double>& std);

  // The unlocked implementations behind Trainer's public methods.
  torch::Tensor to_input(const torch::Tensor& images) const;  // checks, moves, scales to [0,1]
  torch::Tensor normalize(const torch::Tensor& x) const;
  LayerBatch prepare(const torch::Tensor& images, const torch::Tensor& labels, bool augment);
  double train_layer(int64_t layer, LayerBatch& batch, bool update);
  std::vector<double> step(const torch::Tensor& images, const torch::Tensor& labels, bool update, bool augment);
  /// The one walk over the encoder: layers 0 .. upto-1 on `h` (an encode_input() output), with
  /// between_layers() between consecutive layers; `on_layer(l, out)`, if given, sees each layer's
  /// output. Returns layer upto-1's output. Grad mode and autocast are the caller's.
  torch::Tensor forward(torch::Tensor h, int64_t upto,
                        const std::function<void(int64_t, const torch::Tensor&)>& on_layer = {});
  /// Cross-entropy of `logits` against `labels` (float32), checked finite (kNumerics naming
  /// `what`); with `update`, one step of head_opt (the head, or BP's whole network).
  double cross_entropy_update(const torch::Tensor& logits, const torch::Tensor& labels, bool update,
                              const char* what);
  torch::Tensor head_features(const torch::Tensor& normalized);  // no grad
  double head_step(const torch::Tensor& images, const torch::Tensor& labels, bool update, bool augment);
  torch::Tensor scores(const torch::Tensor& images);  // N x C, float32
  std::pair<torch::Tensor, bool> raw_scores(const torch::Tensor& images);  // logits (true) or FF goodness
  torch::Tensor embed(const torch::Tensor& images, int64_t layer);
  Evaluation evaluate(const Dataset& data, const std::vector<int64_t>& ks);
  FitResult fit(const Dataset& train, const FitHooks& hooks);
  FitResult fit(const std::shared_ptr<const ImageSource>& train, const FitHooks& hooks);

  // Every tensor of the trainable state (encoder and head parameters and buffers), in a fixed order.
  std::vector<torch::Tensor> state_tensors() const;
  std::vector<torch::Tensor> snapshot() const;
  void restore(const std::vector<torch::Tensor>& snapshot);
};

// io/checkpoint.cpp
void write_checkpoint(const Trainer::State& state, const std::string& path);
std::unique_ptr<Trainer::State> read_checkpoint(const std::string& path, const std::string& device);
// Throws kNumerics ("<what>: weight <name> contains NaN or Inf") unless every weight is finite.
void check_weights_finite(const Trainer::State& state, const std::string& what);

}  // namespace cff
