#pragma once
/// @file trainer.hpp
/// The layer-local training engine: builds a model from a Config, trains it step by step or with
/// fit(), predicts, evaluates, and saves/loads checkpoints. All public methods of one Trainer are
/// serialised by an internal mutex; separate Trainers may be used from separate threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cff/data.hpp"
#include "cff/options.hpp"
#include "cff/parallel.hpp"

namespace cff {

/// Activations entering one layer: the streams its loss needs (1 or 2 views, or positive and
/// negative passes), all for the same `labels`.
struct LayerBatch {
  std::vector<torch::Tensor> streams;
  torch::Tensor labels;
};

/// Predictions for a batch.
struct Prediction {
  torch::Tensor labels;  ///< N, int64: the top-1 class
  torch::Tensor scores;  ///< N x num_classes, float32: softmax probabilities (FF goodness: summed goodness)
  torch::Tensor topk;    ///< N x k, int64: classes by decreasing score
};

/// Accuracy over a dataset.
struct Evaluation {
  std::map<int64_t, double> topk;  ///< k -> share of images whose label is among the top k
  double top1() const { return topk.count(1) ? topk.at(1) : 0.0; }
  int64_t count = 0;
};

/// One finished epoch of fit().
struct EpochRecord {
  int64_t stage = 1;                 ///< 1 = encoder (layer-local; BP: end to end), 2 = head
  int64_t epoch = 0;                 ///< 1-based within its stage
  std::vector<double> train_loss;    ///< per layer (stage 1) or {head cross-entropy}
  std::vector<double> val_loss;      ///< the same on the validation split (empty without one)
  double seconds = 0.0;
  bool best = false;                 ///< the selection criterion improved at this epoch
};

/// Progress inside fit(), reported after every batch.
struct Progress {
  int64_t stage = 1, epoch = 0, epochs = 0, batch = 0, batches = 0;
  std::vector<double> losses;  ///< running mean of this epoch's training losses
  double seconds = 0.0;        ///< since the epoch started
};

/// One line of text for a progress report or a finished epoch, as the C API's cff_progress
/// message and logs show it: "stage 1 epoch 2/10 batch 5/94 loss 1.2345 0.9876" and
/// "stage 1 epoch 2 done train 1.2 0.9 val 1.3 1.0 (best)".
std::string describe(const Progress& progress);
std::string describe(const EpochRecord& record);

/// Optional hooks and run-time settings of fit() that are not part of the model's Config.
/// Hooks run on the thread inside fit(), which holds the trainer's lock: they must not call the
/// Trainer being fitted (that call would wait for fit() to return).
struct FitHooks {
  std::function<void(const Progress&)> on_progress;
  std::function<void(const EpochRecord&)> on_epoch;
  std::string checkpoint_path;             ///< if set, saved atomically after every epoch
  const std::atomic<bool>* stop = nullptr; ///< if set and true, fit() returns after the current batch
                                           ///< without saving a partial epoch
  int64_t workers = 0;   ///< Loader threads decoding batches ahead of the step (0 = on the training thread)
  int64_t prefetch = 4;  ///< batches decoded ahead at most (loader.hpp)
  /// Layer-parallel stage 1: the in-process pipeline, or a multi-process run (parallel.hpp). Not
  /// part of the model: the checkpoint is the same in every mode. In a multi-process run every
  /// rank calls fit() with the same model, data and settings; the hooks run on every rank (a
  /// progress report's losses are NaN for layers other ranks train), only rank 0 writes
  /// `checkpoint_path`, and only rank 0's `stop` stops the run (every rank stops after the same batch).
  ParallelOptions parallel;
};

/// What fit() did.
struct FitResult {
  std::vector<EpochRecord> history;  ///< every epoch so far, including before a resume
  int64_t best_epoch = 0;            ///< stage-1 epoch kept (0 when no selection)
  bool stopped = false;              ///< interrupted through FitHooks::stop
  /// Pipelined stage 1: seconds each in-process stage (or, across processes, this rank) spent
  /// training, over every stage-1 epoch (empty when not pipelined).
  std::vector<double> stage_seconds;
};

class Trainer {
 public:
  /// Builds and initialises the model (seeded by config.train.seed). Throws kInvalidArgument for a
  /// bad config, kUnsupported for an unavailable device.
  explicit Trainer(const Config& config);
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;

  /// Copies of the configuration and device: load_state() may replace both at any time, so
  /// nothing returned here refers into the trainer.
  Config config() const;
  torch::Device device() const;
  /// The precision the trainer computes in: config().train.precision with kAuto resolved for
  /// this machine and device (resolve_precision()).
  Precision precision() const;
  int64_t num_layers() const;
  /// How many losses step() and layer_losses() return: num_layers(), or 1 for BP (its one
  /// end-to-end cross-entropy).
  int64_t num_losses() const;

  // ---- stage 1, step by step --------------------------------------------------------------------
  /// Images (N x C x H x W, uint8 0..255 or float 0..1, any device) and labels (N int64) -> layer-1
  /// input: augmented views (CFF), positive/negative label passes (FF), or one view (BP).
  LayerBatch prepare(const torch::Tensor& images, const torch::Tensor& labels, bool augment = true);
  /// One local update of layer `layer` on `batch` (forward, loss, backward, AdamW step); replaces
  /// batch.streams by the layer's detached outputs, ready for layer+1. Returns the loss.
  double train_layer(int64_t layer, LayerBatch& batch);
  /// One local update of every layer on one batch; returns the per-layer losses. BP: one
  /// end-to-end update of encoder and head; returns {cross-entropy}.
  std::vector<double> step(const torch::Tensor& images, const torch::Tensor& labels);
  /// Per-layer local losses on a batch without any update (validation); BP: {cross-entropy}.
  std::vector<double> layer_losses(const torch::Tensor& images, const torch::Tensor& labels, bool augment = true);
  /// For hosts that train step by step with a schedule of their own: from now on every layer
  /// trains at `scale` x config.train.lr and the head at `scale` x head_lr (lr_scale_at() gives
  /// fit()'s schedules). scale >= 0 and finite (kInvalidArgument otherwise). fit() sets its own
  /// scale while it runs and leaves 1 behind.
  void set_lr_scale(double scale);

  // ---- stage 2 --------------------------------------------------------------------------------
  /// One cross-entropy update of the head on the frozen encoder; returns the loss.
  double head_step(const torch::Tensor& images, const torch::Tensor& labels, bool augment = true);
  /// Head cross-entropy on a batch without update.
  double head_loss(const torch::Tensor& images, const torch::Tensor& labels);

  // ---- inference ------------------------------------------------------------------------------
  /// One forward pass (FF goodness: one per class). k in 1 .. num_classes.
  Prediction predict(const torch::Tensor& images, int64_t k = 1);
  /// Pooled representation z_l of layer `layer` (0-based), N x E float32 on the CPU.
  torch::Tensor embed(const torch::Tensor& images, int64_t layer);
  /// Top-k accuracy over `data` for each k in `ks`, in batches of config.train.batch_size.
  Evaluation evaluate(const Dataset& data, const std::vector<int64_t>& ks = {1});
  /// Chooses how an FF model predicts from now on (both need no retraining: stage 2 always trains
  /// the one-pass head). No effect on other algorithms.
  void set_ff_prediction(FFPrediction mode);

  // ---- whole runs -----------------------------------------------------------------------------
  /// Trains stage 1 then stage 2 on `train` (holding out config.train.val_fraction for
  /// validation and best-epoch selection), continuing where a loaded checkpoint stopped.
  FitResult fit(const Dataset& train, const FitHooks& hooks = {});
  /// The same for data read image by image (an ImageFolder, a SubsetSource, ...): batches are
  /// decoded by a Loader on hooks.workers threads while the previous batch trains; the shuffle,
  /// split and results are those of fit(Dataset) on the same images. Normalisation statistics
  /// come from a seeded sample of at most 10000 images unless the source is in memory.
  FitResult fit(std::shared_ptr<const ImageSource> train, const FitHooks& hooks = {});
  /// Completed epochs and stage: stage 1 (encoder), 2 (head), 3 (finished).
  int64_t stage() const;
  int64_t epoch() const;
  std::vector<EpochRecord> history() const;

  /// Every tensor of the trained model by name, in a fixed order: `encoder.<parameter or buffer>`
  /// (model.hpp names, e.g. encoder.layers.0.fc.weight), `head.<...>` (head.fc.weight, ...), and
  /// `input.mean` / `input.std` (per-channel normalisation of images scaled to [0,1]). CPU copies.
  std::vector<std::pair<std::string, torch::Tensor>> named_tensors() const;

  // ---- checkpoints ------------------------------------------------------------------------------
  /// Writes config, weights, every optimizer's state, stage/epoch, RNG state, history and the
  /// best-epoch snapshot to `path` atomically (temp file + rename).
  void save(const std::string& path) const;
  /// Reads a checkpoint into a new Trainer; `device` overrides the saved device ("" keeps it).
  static Trainer load(const std::string& path, const std::string& device = "");
  /// Replaces this trainer's whole state with the checkpoint's. All or nothing: on any error
  /// (kIo, kFormat) this trainer is unchanged. The checkpoint's model shape must match.
  void load_state(const std::string& path);


  /// The engine's internals (src/train/state.hpp, shared with io/ and parallel/): an incomplete
  /// type outside the library, named here only so that its internal code can refer to it.
  struct State;

 private:
  friend void write_checkpoint(const State& state, const std::string& path);
  friend std::unique_ptr<State> read_checkpoint(const std::string& path, const std::string& device);
  friend void check_weights_finite(const State& state, const std::string& what);

  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
  std::unique_ptr<std::mutex> mutex_;  // serialises every public method
};

/// The learning-rate factor of `schedule` at step `step` of `total_steps` (0-based), as fit() applies
/// it: 1 for kConstant; 0.5 (1 + cos(pi step / total_steps)) for kCosine, from 1 at step 0 towards 0.
/// kAuto must be resolved first (Config::schedule()); kInvalidArgument for it, for total_steps < 1
/// and for a step outside 0 .. total_steps.
double lr_scale_at(LrSchedule schedule, int64_t step, int64_t total_steps);

/// Top-k accuracy of `scores` (N x C) against `labels` (N).
double topk_accuracy(const torch::Tensor& scores, const torch::Tensor& labels, int64_t k);

}  // namespace cff
