// Whole training runs: epochs over a seeded shuffle, validation, best-epoch selection (the
// paper's: lowest validation loss of the last layer; FF: summed over layers 2..L), stage 2, and
// a checkpoint after every epoch so that a run can be resumed exactly.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>

#include "cff/error.hpp"
#include "cff/loader.hpp"
#include "cff/runtime.hpp"
#include "../parallel/passes.hpp"
#include "state.hpp"

namespace cff {
namespace {

// channel_stats() of a source: in memory, of all of it; read image by image, of a seeded sample
// of at most 10000 images.
ChannelStats source_stats(const ImageSource& source, uint64_t seed, int64_t workers) {
  if (const auto* t = dynamic_cast<const TensorSource*>(&source)) return channel_stats(t->dataset().images);
  auto order = split_indices(source.size(), 0.0, mix_seed(seed, 3)).first;
  order.resize(size_t(std::min<int64_t>(source.size(), 10000)));
  std::sort(order.begin(), order.end());
  Loader loader(std::shared_ptr<const ImageSource>(&source, [](const ImageSource*) {}),
                LoaderOptions{1024, workers, 4, "", 0});
  loader.start(order);
  std::vector<torch::Tensor> parts;
  for (LoaderBatch b; loader.next(b);) parts.push_back(b.images);
  return channel_stats(torch::cat(parts));
}

// One pass over a loader's batches, skipping batches of one image (a contrastive batch of one has
// no pairs): returns the image-weighted mean of each loss, or nullopt when `after` stopped it.
// `losses_of(b, images, labels)` gives batch b's losses; `after(b, running_means)` returns false to stop.
template <typename LossesOf, typename After>
std::optional<std::vector<double>> run_pass(Loader& loader, LossesOf losses_of, After after) {
  std::vector<double> sums, means;
  int64_t seen = 0;
  LoaderBatch batch;
  for (int64_t b = 0; loader.next(batch); ++b) {
    const int64_t len = batch.labels.size(0);
    if (len < 2) continue;
    const std::vector<double> losses = losses_of(b, batch.images, batch.labels);
    sums.resize(losses.size(), 0.0);
    for (size_t i = 0; i < losses.size(); ++i) sums[i] += losses[i] * double(len);
    seen += len;
    means.resize(sums.size());
    for (size_t i = 0; i < sums.size(); ++i) means[i] = sums[i] / double(seen);
    if (!after(b, means)) return std::nullopt;
  }
  return means;
}

double selection_criterion(const std::vector<double>& losses, int64_t stage, bool bp, LossInputs inputs) {
  if (stage == 2 || bp) return losses.at(0);
  if (inputs == LossInputs::kPositiveNegative && losses.size() > 1)
    return std::accumulate(losses.begin() + 1, losses.end(), 0.0);  // FF: layers 2..L
  return losses.back();
}

}  // namespace

namespace {
std::string losses_text(const char* label, const std::vector<double>& v) {
  std::string s = label;
  char buf[32];
  for (double x : v) {
    if (std::isnan(x)) {  // a layer another rank trains
      s += " -";
      continue;
    }
    std::snprintf(buf, sizeof buf, " %.4f", x);
    s += buf;
  }
  return s;
}
}  // namespace

std::string describe(const Progress& p) {
  return "stage " + std::to_string(p.stage) + " epoch " + std::to_string(p.epoch) + "/" + std::to_string(p.epochs) +
         " batch " + std::to_string(p.batch) + "/" + std::to_string(p.batches) + losses_text(" loss", p.losses);
}

std::string describe(const EpochRecord& r) {
  return "stage " + std::to_string(r.stage) + " epoch " + std::to_string(r.epoch) + " done" +
         losses_text(" train", r.train_loss) + losses_text(" val", r.val_loss) + (r.best ? " (best)" : "");
}

double lr_scale_at(LrSchedule schedule, int64_t step, int64_t total_steps) {
  CFF_CHECK(schedule != LrSchedule::kAuto, "lr_scale_at: resolve kAuto first (Config::schedule())");
  CFF_CHECK(total_steps >= 1 && step >= 0 && step <= total_steps, "lr_scale_at: step ", step, " of ", total_steps,
            " steps");
  if (schedule == LrSchedule::kConstant) return 1.0;
  return 0.5 * (1.0 + std::cos(M_PI * double(step) / double(total_steps)));
}

FitResult Trainer::State::fit(const Dataset& train, const FitHooks& hooks) {
  train.validate();
  return fit(std::make_shared<TensorSource>(train), hooks);
}

FitResult Trainer::State::fit(const std::shared_ptr<const ImageSource>& train, const FitHooks& hooks) {
  CFF_CHECK(train != nullptr, "fit: no training data");
  const ParallelOptions& par = hooks.parallel;
  par.validate();
  const auto& m = cfg.model;
  CFF_CHECK(train->channels == m.channels && train->height == m.height && train->width == m.width,
            "fit: images are ", train->channels, "x", train->height, "x", train->width, ", the model takes ",
            m.channels, "x", m.height, "x", m.width);
  CFF_CHECK(train->num_classes <= m.num_classes, "fit: the data has ", train->num_classes, " classes, the model ",
            m.num_classes);
  CFF_CHECK(!(par.pipeline && is_bp()), "the pipeline needs layer-local losses; BP trains end to end");
  const int64_t workers = hooks.workers;
  if (stage == 1 && epoch == 0 && cfg.train.mean.empty()) {
    const auto stats = source_stats(*train, cfg.train.seed, workers);
    set_normalization(stats.mean, stats.std);
  }
  const auto [tr_idx, val_idx] = split_indices(train->size(), cfg.train.val_fraction, cfg.train.seed);
  const auto tr = std::make_shared<SubsetSource>(train, tr_idx);
  const auto val = std::make_shared<SubsetSource>(train, val_idx);
  CFF_CHECK(tr->size() >= 2, "fit: need at least 2 training images after the validation split");
  const int64_t bs = cfg.train.batch_size;
  Loader tr_loader(tr, LoaderOptions{bs, workers, std::max<int64_t>(1, hooks.prefetch), "", 0});
  Loader val_loader(val, LoaderOptions{bs, workers, std::max<int64_t>(1, hooks.prefetch), "", 0});
  std::vector<int64_t> val_order(size_t(val->size()));
  std::iota(val_order.begin(), val_order.end(), 0);
  FitResult result;

  // The first training batch, unshuffled: what a balanced stage split is timed on.
  auto first_batch = [&] {
    std::vector<int64_t> order(size_t(std::min(bs, tr->size())));
    std::iota(order.begin(), order.end(), 0);
    Loader once(tr, LoaderOptions{bs, 0, 1, "", 0});
    once.start(order);
    LoaderBatch b;
    once.next(b);
    return std::make_pair(b.images, b.labels);
  };
  // Across processes: every rank runs this same loop; see parallel/passes.hpp for who does what.
  std::unique_ptr<parallel::Run> run;
  if (par.mode != ParallelMode::kNone) run = parallel::start_run(*this, par, tr->size(), first_batch);
  const bool rank0 = !run || run->world->rank() == 0;
  const bool rank_pipeline = run && run->layout.stages > 1;
  struct DataGroupScope {  // data parallelism lasts as long as this fit() and no longer
    Trainer::State& s;
    ~DataGroupScope() {
      s.data_group = nullptr;
      s.deferred.clear();
    }
  } data_scope{*this};
  if (run && run->keeps_data_group_outside_passes()) data_group = run->data_group;
  std::vector<std::pair<int64_t, int64_t>> stages;
  int64_t stage_threads = 1;
  if (par.pipeline) {
    const int64_t S = par.stages > 0 ? par.stages : net->num_layers();
    std::vector<double> costs;
    if (par.balance && S > 1) {
      const auto [images, labels] = first_batch();
      costs = parallel::measure_layer_costs(*this, images, labels);
    }
    stages = split_stages(net->num_layers(), S, costs);
    stage_threads = cfg.train.threads > 0 ? cfg.train.threads : std::max<int64_t>(1, available_cores() / S);
  }
  // A stop request counts when rank 0 makes it: every rank learns it after the same batch.
  auto stop_requested = [&] {
    bool stop = hooks.stop && hooks.stop->load();
    if (run) {
      auto flag = torch::tensor({int64_t(stop)}, torch::kLong);
      run->world->broadcast({flag}, 0);
      stop = flag.item<int64_t>() != 0;
    }
    return stop;
  };

  while (stage <= 2) {
    if (stage == 2 && is_bp()) {
      stage = 3;
      break;
    }
    const int64_t epochs = stage == 1 ? cfg.train.epochs : cfg.train.head_epochs;
    const bool cosine = cfg.schedule() == LrSchedule::kCosine;
    while (epoch < epochs) {
      const auto t0 = std::chrono::steady_clock::now();
      auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
      std::vector<int64_t> order(size_t(tr->size()));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      const bool pipelined = stage == 1 && (par.pipeline || rank_pipeline);
      const bool reads = !(stage == 1 && rank_pipeline && run->layout.stage > 0);  // later stages receive
      if (reads) tr_loader.start(std::move(order));
      const int64_t batches = (tr->size() + bs - 1) / bs;

      EpochRecord rec;
      rec.stage = stage;
      rec.epoch = epoch + 1;
      // The same pass trains (update, augmented head views) and validates (no update).
      auto losses_of = [&](bool train) {
        return [this, train](int64_t, const torch::Tensor& images, const torch::Tensor& labels) {
          return stage == 1 ? step(images, labels, train, true)
                            : std::vector<double>{head_step(images, labels, train, train)};
        };
      };
      auto lr_scale = [&](int64_t b) {  // step by step, from lr down to 0
        return cosine ? lr_scale_at(LrSchedule::kCosine, epoch * batches + b, epochs * batches) : 1.0;
      };
      auto progress = [&](int64_t b, const std::vector<double>& means) {
        if (hooks.on_progress) hooks.on_progress(Progress{stage, epoch + 1, epochs, b + 1, batches, means, seconds()});
      };
      std::optional<std::vector<double>> trained;
      if (pipelined) {
        const parallel::PassHooks ph{lr_scale, [&](int64_t b, const std::vector<double>& means) {
                                       progress(b, means);
                                       return !(hooks.stop && hooks.stop->load());
                                     }};
        if (par.pipeline) {
          std::vector<double> busy;
          trained = parallel::thread_pipeline_pass(*this, tr_loader, stages, par.queue_depth, stage_threads, ph, busy);
          result.stage_seconds.resize(busy.size(), 0.0);
          for (size_t i = 0; i < busy.size(); ++i) result.stage_seconds[i] += busy[i];
        } else {
          double busy = 0;
          data_group = run->data_group;  // this stage's replicas, during the pass only
          trained = parallel::rank_pipeline_pass(*this, *run, reads ? &tr_loader : nullptr, ph, busy);
          data_group = nullptr;
          result.stage_seconds.resize(1, 0.0);
          result.stage_seconds[0] += busy;
          if (trained) parallel::sync_state(*this, *run);
        }
      } else {
        trained = run_pass(
            tr_loader,
            [&](int64_t b, const torch::Tensor& images, const torch::Tensor& labels) {
              if (cosine) set_lr_scale(lr_scale(b));
              return losses_of(true)(b, images, labels);
            },
            [&](int64_t b, const std::vector<double>& means) {
              progress(b, means);
              return !stop_requested();
            });
      }
      if (!trained) {
        set_lr_scale(1.0);
        result.stopped = true;
        result.history = history;
        return result;
      }
      rec.train_loss = *trained;

      if (val->size() >= 2) {
        val_loader.start(val_order);
        rec.val_loss = *run_pass(val_loader, losses_of(false), [](int64_t, const std::vector<double>&) { return true; });
      }
      const double criterion = selection_criterion(rec.val_loss.empty() ? rec.train_loss : rec.val_loss, stage, is_bp(), loss_inputs);
      if (cfg.train.select_best_epoch && criterion < best_val) {
        best_val = criterion;
        best_epoch = epoch + 1;
        best_snapshot = snapshot();
        rec.best = true;
      }
      rec.seconds = seconds();
      // A diverged epoch ends the run here: the checkpoint keeps the last finite epoch.
      check_weights_finite(*this, "stage " + std::to_string(stage) + " epoch " + std::to_string(epoch + 1));
      ++epoch;
      history.push_back(rec);
      if (rank0 && !hooks.checkpoint_path.empty()) write_checkpoint(*this, hooks.checkpoint_path);
      if (hooks.on_epoch) hooks.on_epoch(rec);
    }
    // End of the stage: keep the selected epoch and the configured lr, then move on.
    set_lr_scale(1.0);
    if (cfg.train.select_best_epoch && !best_snapshot.empty()) restore(best_snapshot);
    best_snapshot.clear();
    best_val = std::numeric_limits<double>::infinity();
    best_epoch = 0;
    ++stage;
    epoch = 0;
    if (rank0 && !hooks.checkpoint_path.empty()) write_checkpoint(*this, hooks.checkpoint_path);
  }
  if (run) run->world->allreduce({torch::zeros({1})});  // nobody leaves while another still needs it
  result.history = history;
  for (const auto& r : history)
    if (r.stage == 1 && r.best) result.best_epoch = r.epoch;
  return result;
}

}  // namespace cff
