// fit()'s parallel stage-1 passes, the run check at start and the state sync after a pass.
#include "passes.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cff/error.hpp"
#include "cff/runtime.hpp"
#include "pipeline.hpp"

namespace cff::parallel {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// OpenBLAS at one thread while several stages multiply at once (its pthreads pool is shared by
// the whole process); restored on exit.
class OneBlasThread {
 public:
  OneBlasThread() : torch_(torch::get_num_threads()), blas_(blas_threads()) {
    if (blas_ > 1) set_threads(torch_, 1);
  }
  ~OneBlasThread() {
    if (blas_ > 1) set_threads(torch_, blas_);
  }

 private:
  int64_t torch_, blas_;
};
}  // namespace

void RunningMeans::add(const std::vector<double>& losses, int64_t images) {
  sums_.resize(losses.size(), 0.0);
  means_.resize(losses.size());
  seen_ += images;
  for (size_t i = 0; i < losses.size(); ++i) {
    sums_[i] += losses[i] * double(images);
    means_[i] = sums_[i] / double(seen_);
  }
}

std::optional<std::vector<double>> thread_pipeline_pass(Trainer::State& state, Loader& loader,
                                                        const std::vector<std::pair<int64_t, int64_t>>& stages,
                                                        int64_t queue_depth, int64_t threads, const PassHooks& hooks,
                                                        std::vector<double>& busy) {
  OneBlasThread blas;
  ThreadPipeline pipe(state, stages, queue_depth, threads);
  RunningMeans means;
  bool stop = false;
  auto record = [&](const Item& done) {
    means.add(done.losses, done.images);
    if (!stop && !hooks.after(done.index, means.means())) stop = true;
  };
  LoaderBatch batch;
  for (int64_t b = 0; !stop && loader.next(batch); ++b) {
    const int64_t len = batch.labels.size(0);
    if (len < 2) continue;  // as run_pass: a contrastive batch of one has no pairs
    Item item;
    item.index = b;
    item.images = len;
    item.lr_scale = hooks.lr_scale(b);
    item.batch = state.prepare(batch.images, batch.labels, true);
    pipe.submit(std::move(item));
    for (Item done; !stop && pipe.next(done, false);) record(done);
  }
  pipe.finish();
  for (Item done; pipe.next(done, true);)
    if (!stop) record(done);
  busy = pipe.busy_seconds();
  if (stop) return std::nullopt;
  return means.means();
}

std::vector<double> measure_layer_costs(Trainer::State& state, const torch::Tensor& images,
                                        const torch::Tensor& labels) {
  const auto rng = state.rng;
  auto batch = state.prepare(images, labels, false);
  state.rng = rng;
  std::vector<double> costs;
  for (int64_t l = 0; l < state.net->num_layers(); ++l) {
    const auto t0 = Clock::now();
    state.train_layer(l, batch, false);
    costs.push_back(since(t0));
  }
  return costs;
}

int64_t Layout::owner(int64_t layer) const {
  for (int64_t s = 0; s < stages; ++s)
    if (layer >= layers[size_t(s)].first && layer < layers[size_t(s)].second) return rank_of(s, 0);
  return 0;
}

namespace {
// The first difference between two runs' descriptions, as "key a vs b".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) return prefix + k + " " + v.dump() + " vs (unset)";
      const auto d = first_difference(v, b[k], prefix + k + ".");
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return prefix + k + " (unset) vs " + v.dump();
    return "";
  }
  return a == b ? "" : prefix.substr(0, prefix.size() - 1) + " " + a.dump() + " vs " + b.dump();
}

// What every rank must agree on: the model and recipe (not where or on how many threads each
// rank runs it), the data's size and the parallel settings.
std::string run_description(const Trainer::State& state, const ParallelOptions& o, int64_t train_images,
                            int64_t world) {
  auto j = nlohmann::json::parse(state.cfg.to_json());
  for (const char* k : {"device", "threads", "blas_threads", "plugins"}) j["train"].erase(k);
  j["data"] = {{"train_images", train_images}};
  j["parallel"] = {{"mode", to_string(o.mode)}, {"stages", o.stages}, {"balance", o.balance}, {"world_size", world}};
  return j.dump();
}
}  // namespace

std::unique_ptr<Run> start_run(Trainer::State& state, const ParallelOptions& o, int64_t train_images,
                               const std::function<std::pair<torch::Tensor, torch::Tensor>()>& first_batch) {
  auto run = std::make_unique<Run>();
  run->mode = o.mode;
  run->env = launch_environment();
  const int64_t world = run->env.world_size, rank = run->env.rank, L = state.net->num_layers();
  CFF_CHECK(o.mode != ParallelMode::kPipeline || o.stages == 0 || o.stages == world, "--parallel pipeline: ",
            o.stages, " stages on ", world, " ranks (each rank is one stage; use pipeline,data to replicate stages)");
  CFF_CHECK(!(state.is_bp() && o.mode != ParallelMode::kData), "--parallel ", to_string(o.mode),
            ": BP trains end to end and has no layer-local stages; use --parallel data");
  Layout& lay = run->layout;
  lay.stages = o.mode == ParallelMode::kData ? 1 : o.mode == ParallelMode::kPipeline ? world : o.stages;
  CFF_CHECK(world % lay.stages == 0, "--parallel pipeline,data: ", world, " ranks cannot form ", lay.stages,
            " stages of equal size");
  CFF_CHECK(lay.stages <= L, "--parallel ", to_string(o.mode), ": ", lay.stages, " pipeline stages for ", L,
            " layer(s); each stage needs a layer (world size ", world, " is too large for this model)");
  lay.replicas = world / lay.stages;
  lay.stage = rank / lay.replicas;
  lay.replica = rank % lay.replicas;

  run->world = Group::connect(run->env, o.timeout_seconds);
  const auto mine = run_description(state, o, train_images, world);
  const auto all = run->world->exchange("run", mine);
  for (int64_t r = 1; r < world; ++r)
    CFF_CHECK(all[size_t(r)] == all[0], "rank ", r, " runs a different training than rank 0 (",
              first_difference(nlohmann::json::parse(all[0]), nlohmann::json::parse(all[size_t(r)])),
              "); every rank must train the same model on the same data with the same settings");

  std::vector<double> costs;
  if (o.balance && lay.stages > 1) {
    std::string text;
    if (rank == 0) {
      const auto [images, labels] = first_batch();
      std::ostringstream out;
      for (double c : measure_layer_costs(state, images, labels)) out << c << ' ';
      text = out.str();
    }
    std::istringstream in(run->world->broadcast_bytes(text, 0));
    for (double c; in >> c;) costs.push_back(c);
  }
  lay.layers = split_stages(L, lay.stages, costs);
  if (o.mode == ParallelMode::kData) {
    run->data_group = run->world.get();
  } else if (o.mode == ParallelMode::kPipelineData) {
    // Every rank joins every stage's group creation in the same order, its own stage's only.
    for (int64_t s = 0; s < lay.stages; ++s) {
      if (s != lay.stage) continue;
      std::vector<int64_t> members;
      for (int64_t r = 0; r < lay.replicas; ++r) members.push_back(lay.rank_of(s, r));
      run->stage_group = run->world->subgroup(members, "stage" + std::to_string(s));
    }
    run->data_group = run->stage_group.get();
  }
  return run;
}

namespace {
constexpr int64_t kHeader = 16, kEnd = -1;
constexpr int kHeaderTag = 0, kDataTag = 1;  // the data's two tensors: tags 1 and 2

// Header of one batch sent down the pipeline: index (kEnd = the pass is over), images, lr bits,
// stop flag, stream count, ndim, shape of one stream.
torch::Tensor header_of(int64_t index, int64_t images, double lr, bool stop, const LayerBatch* batch) {
  auto h = torch::zeros({kHeader}, torch::kLong);
  auto* p = h.data_ptr<int64_t>();
  p[0] = index;
  p[1] = images;
  std::memcpy(&p[2], &lr, sizeof lr);
  p[3] = stop ? 1 : 0;
  if (batch) {
    p[4] = int64_t(batch->streams.size());
    const auto sizes = batch->streams.front().sizes();
    p[5] = int64_t(sizes.size());
    for (size_t d = 0; d < sizes.size(); ++d) p[6 + d] = sizes[d];
  }
  return h;
}
}  // namespace

std::optional<std::vector<double>> rank_pipeline_pass(Trainer::State& state, Run& run, Loader* loader,
                                                      const PassHooks& hooks, double& busy) {
  Group& world = *run.world;
  const Layout& lay = run.layout;
  const int64_t first = lay.layers[size_t(lay.stage)].first, last = lay.layers[size_t(lay.stage)].second;
  const bool head_of_pipe = lay.stage == 0, tail = lay.stage == lay.stages - 1;
  const int64_t prev = head_of_pipe ? -1 : lay.rank_of(lay.stage - 1, lay.replica);
  const int64_t next = tail ? -1 : lay.rank_of(lay.stage + 1, lay.replica);
  const int64_t L = state.net->num_layers();
  RunningMeans means;
  bool stop = false;

  auto forward = [&](Item& item) {
    const auto t0 = Clock::now();
    train_stage(state, first, last, item);
    busy += since(t0);
    for (int64_t l = 0; l < L; ++l)
      if (l < first || l >= last) item.losses[size_t(l)] = kNaN;
    if (!tail) {
      world.wait_sends();  // at most one batch in flight per link: back-pressure
      auto h = header_of(item.index, item.images, item.lr_scale, false, &item.batch);
      world.send({h}, next, kHeaderTag);
      world.send({torch::cat(item.batch.streams, 0).contiguous(), item.batch.labels}, next, kDataTag);
    }
    means.add(item.losses, item.images);
    // Only rank 0 decides to stop; stage 0's other replicas hear it at once, later stages from
    // the end-of-pass header.
    const bool go_on = hooks.after(item.index, means.means());
    if (head_of_pipe) {
      auto flag = torch::tensor({int64_t(world.rank() == 0 && !go_on)}, torch::kLong);
      if (lay.replicas > 1) run.stage_group->broadcast({flag}, 0);
      stop = flag.item<int64_t>() != 0;
    }
  };
  auto send_end = [&] {
    if (tail) return;
    world.wait_sends();
    world.send({header_of(kEnd, 0, 0, stop, nullptr)}, next, kHeaderTag);
    world.wait_sends();
  };

  if (head_of_pipe) {
    LoaderBatch batch;
    for (int64_t b = 0; !stop && loader->next(batch); ++b) {
      const int64_t len = batch.labels.size(0);
      if (len < 2) continue;
      Item item;
      item.index = b;
      item.images = len;
      item.lr_scale = hooks.lr_scale(b);
      item.losses.assign(size_t(L), 0.0);
      item.batch = state.prepare(batch.images, batch.labels, true);  // shards over the stage's replicas
      forward(item);
    }
    send_end();
  } else {
    for (;;) {
      std::vector<torch::Tensor> h{torch::empty({kHeader}, torch::kLong)};
      world.recv(h, prev, kHeaderTag);
      const auto* p = h[0].data_ptr<int64_t>();
      if (p[0] == kEnd) {
        stop = p[3] != 0;
        send_end();
        break;
      }
      Item item;
      item.index = p[0];
      item.images = p[1];
      std::memcpy(&item.lr_scale, &p[2], sizeof item.lr_scale);
      const int64_t streams = p[4], ndim = p[5];
      CFF_CHECK_CODE(streams >= 1 && streams <= 8 && ndim >= 1 && ndim <= kHeader - 6, ErrorCode::kFormat, "rank ",
                     world.rank(), ": a malformed pipeline header from rank ", prev);
      std::vector<int64_t> shape(p + 6, p + 6 + ndim);
      const int64_t rows = shape[0];
      shape[0] = rows * streams;
      std::vector<torch::Tensor> data{torch::empty(shape, torch::kFloat), torch::empty({item.images}, torch::kLong)};
      world.recv(data, prev, kDataTag);
      item.batch.streams = data[0].to(state.device).split(rows, 0);
      item.batch.labels = data[1].to(state.device);
      item.losses.assign(size_t(L), 0.0);
      forward(item);
    }
  }
  if (stop) return std::nullopt;
  // Every layer's mean, on every rank: replica 0 of each stage contributes its layers' sums.
  auto sums = torch::zeros({L}, torch::kDouble);
  if (lay.replica == 0)
    for (int64_t l = first; l < last; ++l) sums[l] = means.sums().empty() ? 0.0 : means.sums()[size_t(l)];
  world.allreduce({sums});
  std::vector<double> out(static_cast<size_t>(L));
  const double seen = double(std::max<int64_t>(1, means.seen()));
  for (int64_t l = 0; l < L; ++l) out[size_t(l)] = sums[l].item<double>() / seen;
  return out;
}

void sync_state(Trainer::State& state, Run& run) {
  Group& world = *run.world;
  for (int64_t l = 0; l < state.net->num_layers(); ++l) {
    const int64_t owner = run.layout.owner(l);
    world.broadcast(state.net->layer_parameters(l), owner);
    std::string bytes;
    if (world.rank() == owner) {
      torch::serialize::OutputArchive archive;
      state.layer_opt[size_t(l)]->save(archive);
      std::ostringstream out;
      archive.save_to(out);
      bytes = out.str();
    }
    bytes = world.broadcast_bytes(bytes, owner);
    if (world.rank() != owner) {
      torch::serialize::InputArchive archive;
      std::istringstream in(bytes);
      archive.load_from(in);
      state.layer_opt[size_t(l)]->load(archive);
    }
  }
  std::ostringstream rng;
  rng << state.rng;
  std::istringstream in(world.broadcast_bytes(rng.str(), 0));
  in >> state.rng;
}

}  // namespace cff::parallel
