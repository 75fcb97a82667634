#pragma once
// Internal: fit()'s stage-1 training pass in its parallel forms, and what a multi-process run
// agrees on (the rank layout, the run check at start, the state sync after each pass).
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cff/loader.hpp"
#include "cff/parallel.hpp"
#include "../train/state.hpp"
#include "group.hpp"

namespace cff::parallel {

/// Image-weighted running means of per-batch losses. NaN entries (layers another rank trains)
/// stay NaN.
class RunningMeans {
 public:
  void add(const std::vector<double>& losses, int64_t images);
  const std::vector<double>& means() const { return means_; }
  const std::vector<double>& sums() const { return sums_; }
  int64_t seen() const { return seen_; }

 private:
  std::vector<double> sums_, means_;
  int64_t seen_ = 0;
};

/// What a pass asks of fit(): the lr factor of batch b, and after each finished batch the
/// running means (false = stop the run after this batch).
struct PassHooks {
  std::function<double(int64_t batch)> lr_scale;
  std::function<bool(int64_t batch, const std::vector<double>& means)> after;
};

/// One training pass over `loader` with the layers split into `stages` on threads.
/// nullopt when `hooks.after` stopped it. `busy` gets each stage's training seconds.
std::optional<std::vector<double>> thread_pipeline_pass(Trainer::State& state, Loader& loader,
                                                        const std::vector<std::pair<int64_t, int64_t>>& stages,
                                                        int64_t queue_depth, int64_t threads, const PassHooks& hooks,
                                                        std::vector<double>& busy);

/// Per-layer seconds of one forward and loss of `images` (no update; the RNG is left as it was).
std::vector<double> measure_layer_costs(Trainer::State& state, const torch::Tensor& images,
                                        const torch::Tensor& labels);

/// Who does what in a multi-process run: `stages` pipeline stages of `replicas` ranks each;
/// world rank = stage x replicas + replica.
struct Layout {
  int64_t stages = 1, replicas = 1, stage = 0, replica = 0;
  std::vector<std::pair<int64_t, int64_t>> layers;  // per stage
  int64_t owner(int64_t layer) const;               // world rank that sends layer `layer` at a sync
  int64_t rank_of(int64_t stage_index, int64_t replica_index) const { return stage_index * replicas + replica_index; }
};

/// A multi-process fit(): the world, this rank's data group (replicas of its stage) and layout.
struct Run {
  LaunchEnvironment env;
  std::unique_ptr<Group> world;
  std::unique_ptr<Group> stage_group;  // kPipelineData: this stage's replicas
  Group* data_group = nullptr;         // during stage-1 passes: world (kData) or stage_group
  Layout layout;
  ParallelMode mode = ParallelMode::kNone;
  bool keeps_data_group_outside_passes() const { return mode == ParallelMode::kData; }
};

/// Connects, checks that every rank runs the same model, data and settings (a one-line error on
/// every rank naming the first difference), and lays the layers out. `train_images` is the
/// training set's size; `first_batch` (rank 0) is timed for ParallelOptions::balance.
std::unique_ptr<Run> start_run(Trainer::State& state, const ParallelOptions& options, int64_t train_images,
                               const std::function<std::pair<torch::Tensor, torch::Tensor>()>& first_batch);

/// One training pass of this rank's stage: stage 0 reads `loader` (null elsewhere), later stages
/// receive from the previous one. hooks.after runs on every rank (its losses: NaN for layers other
/// ranks train); only rank 0's answer stops the run. Returns every layer's mean loss on every
/// rank, or nullopt when rank 0 stopped it. `busy` gains this rank's training seconds.
std::optional<std::vector<double>> rank_pipeline_pass(Trainer::State& state, Run& run, Loader* loader,
                                                      const PassHooks& hooks, double& busy);

/// After a pipelined pass: every rank gets every layer's weights and optimizer state from the
/// rank that trained it, and rank 0's RNG, so that each holds the whole model as the sequential
/// trainer would at this point.
void sync_state(Trainer::State& state, Run& run);

}  // namespace cff::parallel
