#pragma once
/// @file parallel.hpp
/// Layer-parallel training for fit() (paper Sec. 5.1): the encoder's layers as a pipeline of
/// stages on threads of one process, and training across processes and machines on LibTorch's
/// c10d (Gloo) in three modes. Set through FitHooks::parallel; a checkpoint is the same file in
/// every mode, so a model trained one way loads, predicts and resumes in any other.
///
/// Guarantees (tested):
/// - In-process pipeline: the same weights, losses and accuracy as sequential fit() for the same
///   seed, bit for bit when every stage and the sequential run use 1 LibTorch and 1 OpenBLAS
///   thread (layer l trains batch t on layer l-1's output computed before its update on t in
///   both orders), to float rounding otherwise.
/// - kPipeline across ranks: bit-identical to sequential fit() under the same thread settings.
/// - kData: equal to one process training on the global batch to float tolerance (the gradient
///   sums are reduced in another order).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cff/options.hpp"

namespace cff {

/// How fit() spreads stage 1 over processes (ranks); kNone trains in this process only.
enum class ParallelMode {
  kNone,
  kPipeline,      ///< rank r owns a contiguous range of layers; activations travel rank to rank
  kData,          ///< every rank holds all layers and trains a shard of each global batch
  kPipelineData,  ///< `stages` pipeline stages, each replicated over world_size / stages ranks
};

struct ParallelOptions {
  /// In-process pipeline: the encoder's layers in `stages` contiguous stages, each on its own
  /// thread with cores / stages LibTorch threads (OpenBLAS runs 1 thread meanwhile). Stage 1
  /// (layer-local algorithms) only; the head and validation run after the pipeline drains.
  bool pipeline = false;
  /// In-process: the stage count, 0 = one per layer. kPipelineData: the pipeline stage count
  /// (required). kPipeline: 0 or the world size. At most the number of layers.
  int64_t stages = 0;
  int64_t queue_depth = 2;  ///< in-process: batches waiting between two stages (back-pressure), >= 1
  /// Split the layers by their measured time (one forward of the first batch per layer) into
  /// stages of near-equal cost instead of near-equal layer counts.
  bool balance = false;
  /// Across processes: read the launch environment (launch_environment()) and train with c10d.
  ParallelMode mode = ParallelMode::kNone;
  /// A peer that does not answer within this many seconds (rendezvous included) is an error on
  /// every rank that waits for it. > 0.
  double timeout_seconds = 60;

  /// Throws kInvalidArgument naming the first bad field.
  void validate() const;
  /// JSON object with the keys "pipeline", "stages", "queue_depth", "balance", "mode" (to_string's
  /// names) and "timeout_s"; from_json() takes any subset (defaults for the rest), rejects unknown
  /// keys and wrong types naming the key, and validates.
  std::string to_json() const;
  static ParallelOptions from_json(const std::string& text);
};

/// Where this process stands in a multi-process run, read the way torchrun, SLURM srun and
/// hand-written launchers announce it.
struct LaunchEnvironment {
  int64_t rank = 0;        ///< RANK (or SLURM_PROCID)
  int64_t world_size = 1;  ///< WORLD_SIZE (or SLURM_NTASKS)
  int64_t local_rank = 0;  ///< LOCAL_RANK (or SLURM_LOCALID; default 0): picks cuda:LOCAL_RANK
  std::string master_addr; ///< MASTER_ADDR: host of rank 0's rendezvous store (c10d TCPStore)
  int64_t master_port = 0; ///< MASTER_PORT: its port, 1..65535
};

/// Reads the launch environment; kInvalidArgument naming the variable that is missing or bad
/// (e.g. "RANK is not set: launch with cff train --nproc N, torchrun or srun").
LaunchEnvironment launch_environment();

/// Whether this libcff was built with c10d's Gloo process group (distributed modes need it; the
/// in-process pipeline does not).
bool distributed_available();

/// Layer ranges [first, last) of `stages` contiguous stages over `layers` layers: the split that
/// minimises the largest stage's summed `costs` (one per layer; empty = equal costs), ties broken
/// towards later stages holding fewer layers. kInvalidArgument unless 1 <= stages <= layers.
std::vector<std::pair<int64_t, int64_t>> split_stages(int64_t layers, int64_t stages,
                                                      const std::vector<double>& costs = {});

std::string to_string(ParallelMode mode);  ///< "none", "pipeline", "data", "pipeline,data"

}  // namespace cff
