// The layer-local training engine: per-layer forward, local loss, backward and AdamW step; the
// stage-2 head; prediction. Public methods lock the State's mutex and call its implementations.
#include <cmath>
#include <optional>

#include "cff/error.hpp"
#include "cff/plugins.hpp"
#include "cff/runtime.hpp"
#include "../parallel/group.hpp"
#include "state.hpp"

namespace cff {
namespace {
constexpr double kPixelSlack = 0.01;

void check_finite(const torch::Tensor& t, const char* what) {
  CFF_CHECK_CODE(torch::isfinite(t).all().item<bool>(), ErrorCode::kNumerics, what, " contains NaN or Inf");
}

torch::optim::AdamW make_adamw(std::vector<torch::Tensor> params, double lr, double wd) {
  return torch::optim::AdamW(std::move(params), torch::optim::AdamWOptions(lr).weight_decay(wd));
}
}  // namespace

Trainer::State::State(const Config& config) : cfg(config) {
  cfg.validate();
  require_plugins(cfg.train.plugins);  // a saved model's plugins: found, or an error naming them
  device = resolve_device(cfg.train.device);
  set_threads(cfg.train.threads, cfg.train.blas_threads, resolve_precision(cfg.train.precision, device));
  tune_allocator();
  if (device.is_cuda()) {
    at::globalContext().setAllowTF32CuBLAS(cfg.train.tf32);
    at::globalContext().setAllowTF32CuDNN(cfg.train.tf32);
  }
  const auto& m = cfg.model;
  const bool ff = cfg.train.algorithm == Algorithm::kForwardForward;
  net = Network(m, ff);
  net->reset_parameters(cfg.train.seed);
  const int64_t head_in = ff ? m.embed_dim * std::max<int64_t>(1, m.num_layers - 1) : m.embed_dim;
  // LayerNorm + Linear for every model: the paper's ViT head; for the MLP it normalises the
  // ReLU features' varying scale before the linear probe (measured +0.25 points on Fashion-MNIST).
  head = Head(head_in, m.num_classes);
  {
    // The head is initialised from its own stream of the seed, independent of the encoder's size.
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(mix_seed(cfg.train.seed, 1));
    const double bound = 1.0 / std::sqrt(double(head_in));
    head->fc->weight.uniform_(-bound, bound, gen);
    head->fc->bias.uniform_(-bound, bound, gen);
  }
  net->to(device);
  head->to(device);

  if (is_bp()) {
    auto params = net->parameters();
    for (auto& p : head->parameters()) params.push_back(p);
    head_opt = std::make_unique<torch::optim::AdamW>(make_adamw(params, cfg.train.lr, cfg.train.weight_decay));
  } else {
    const std::string spec = cfg.loss_spec();
    for (int64_t l = 0; l < m.num_layers; ++l) {
      losses.push_back(make_loss(spec, {l, m.num_layers, m.num_classes}));
      layer_opt.push_back(std::make_unique<torch::optim::AdamW>(
          make_adamw(net->layer_parameters(l), cfg.train.lr, cfg.train.weight_decay)));
    }
    loss_inputs = losses.front()->inputs();
    for (const auto& loss : losses)
      CFF_CHECK(loss->inputs() == loss_inputs, "loss '", spec, "' asks for different inputs at different layers");
    CFF_CHECK(!(ff && loss_inputs == LossInputs::kViews),
              "loss '", spec, "' needs augmented views; the FF algorithm provides positive/negative passes");
    CFF_CHECK(!(!ff && loss_inputs == LossInputs::kPositiveNegative),
              "loss '", spec, "' needs positive/negative passes; use the FF algorithm (algorithm=ff)");
    head_opt = std::make_unique<torch::optim::AdamW>(
        make_adamw(head->parameters(), cfg.train.head_lr, cfg.train.head_weight_decay));
  }
  augment = AugmentPipeline(cfg.augment_spec());
  cfg.train.plugins = plugins_used(is_bp() ? "" : cfg.loss_spec(), cfg.augment_spec());
  rng.seed(mix_seed(cfg.train.seed, 2));
  set_normalization(cfg.train.mean, cfg.train.std);
}

void Trainer::State::set_lr_scales(double stage1, double stage2) {
  auto set = [](torch::optim::Optimizer& opt, double lr) {
    for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  };
  for (auto& opt : layer_opt) set(*opt, cfg.train.lr * stage1);
  set(*head_opt, is_bp() ? cfg.train.lr * stage1 : cfg.train.head_lr * stage2);  // BP: the whole net, stage 1
}

void Trainer::State::set_layer_lr_scale(int64_t layer, double factor) {
  for (auto& group : layer_opt[size_t(layer)]->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(cfg.train.lr * factor);
}

void Trainer::State::complete_updates() {
  auto pending = std::move(deferred);
  deferred.clear();
  for (auto& update : pending) update();
}

torch::Tensor Trainer::State::shard_rows(const torch::Tensor& global) const {
  if (!data_group) return global;
  const auto [first, count] = parallel::shard_of(global.size(0), data_group->size(), data_group->rank());
  return global.narrow(0, first, count);
}

torch::Tensor Trainer::State::gather_rows(const torch::Tensor& local, int64_t global_rows) {
  if (!data_group) return local;
  return data_group->all_gather_rows(local, parallel::shard_sizes(global_rows, data_group->size()));
}

namespace {
std::vector<torch::Tensor> gradients(torch::optim::Optimizer& opt) {
  std::vector<torch::Tensor> out;
  for (auto& group : opt.param_groups())
    for (auto& p : group.params())
      if (p.grad().defined()) out.push_back(p.mutable_grad());
  return out;
}
}  // namespace

void Trainer::State::reduce_gradients(torch::optim::Optimizer& opt) {
  if (data_group) data_group->allreduce(gradients(opt));
}

void Trainer::State::set_lr_scale(double factor) {
  set_lr_scales(stage == 1 ? factor : 1.0, stage == 2 ? factor : 1.0);
}

void Trainer::State::set_normalization(const std::vector<double>& m, const std::vector<double>& s) {
  const int64_t c = cfg.model.channels;
  cfg.train.mean = m;
  cfg.train.std = s;
  auto opts = torch::TensorOptions().dtype(torch::kFloat);
  mean = m.empty() ? torch::zeros({1, c, 1, 1}, opts) : torch::tensor(m, opts).view({1, c, 1, 1});
  inv_std = s.empty() ? torch::ones({1, c, 1, 1}, opts) : (1.0 / torch::tensor(s, opts)).view({1, c, 1, 1});
  mean = mean.to(device);
  inv_std = inv_std.to(device);
  shift = -mean * inv_std;  // (x - mean) / std = shift + x * inv_std, one op per batch
}

torch::Tensor Trainer::State::to_input(const torch::Tensor& images) const {
  const auto& m = cfg.model;
  CFF_CHECK(images.defined() && images.dim() == 4 && images.size(1) == m.channels && images.size(2) == m.height &&
                images.size(3) == m.width,
            "expected images of shape N x ", m.channels, " x ", m.height, " x ", m.width, ", got ",
            images.defined() ? images.sizes() : torch::IntArrayRef{});
  CFF_CHECK(images.size(0) >= 1, "empty batch");
  if (images.scalar_type() == torch::kUInt8) return images.to(device).to(torch::kFloat).div_(255.0);
  CFF_CHECK(images.is_floating_point(), "images must be uint8 (0..255) or floating point (0..1)");
  auto x = images.to(device, torch::kFloat);
  check_finite(x, "input images");
  // Float pixels are 0..1 (cff.h); a little rounding slack, but not another scale (0..255, z-scores).
  const auto [lo, hi] = torch::aminmax(x);
  const double min = lo.item<double>(), max = hi.item<double>();
  CFF_CHECK(min >= -kPixelSlack && max <= 1 + kPixelSlack, "input images: float pixels must lie in 0..1, got ", min,
            "..", max);
  return x;
}

torch::Tensor Trainer::State::normalize(const torch::Tensor& x) const { return torch::addcmul(shift, x, inv_std); }

LayerBatch Trainer::State::prepare(const torch::Tensor& images, const torch::Tensor& labels, bool do_augment) {
  const int64_t classes = cfg.model.num_classes;
  CFF_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == images.size(0), "expected ", images.size(0),
            " labels, got ", labels.defined() ? labels.numel() : 0);
  auto y = labels.to(device, torch::kLong);
  CFF_CHECK(y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < classes, "labels must lie in 0..", classes - 1);
  const auto x = to_input(images);
  // One image and its own views have no negative and no other anchor: the loss is exactly 0 and
  // the step would silently do nothing (fit() skips such batches as well).
  CFF_CHECK(is_bp() || loss_inputs != LossInputs::kViews || x.size(0) >= 2,
            "a contrastive batch needs at least 2 images, got 1 (one image has nothing to contrast with)");
  auto view = [&]() {
    const auto v = do_augment && !augment.empty() ? augment.apply(x, rng()) : x;
    return normalize(v);
  };
  LayerBatch batch;
  batch.labels = y;
  if (is_bp()) {
    batch.streams = {net->encode_input(view())};
  } else if (loss_inputs == LossInputs::kViews) {
    for (int64_t v = 0; v < cfg.train.views; ++v) batch.streams.push_back(net->encode_input(view()));
  } else {
    // FF: the same view with its true label (positive) and a uniformly random wrong label (negative).
    std::vector<int64_t> shift(size_t(y.size(0)));
    std::uniform_int_distribution<int64_t> pick(1, classes - 1);
    for (auto& s : shift) s = pick(rng);
    const auto wrong = (y + torch::tensor(shift, torch::kLong).to(device)).remainder(classes);
    const auto v = view();
    batch.streams = {net->encode_input(v, y), net->encode_input(v, wrong)};
  }
  for (auto& stream : batch.streams) stream = shard_rows(stream);  // data parallel: this rank's rows
  return batch;
}

double Trainer::State::train_layer(int64_t layer, LayerBatch& batch, bool update) {
  CFF_CHECK_CODE(!is_bp(), ErrorCode::kState, "BP trains end to end; layer-local updates need a local loss");
  CFF_CHECK(layer >= 0 && layer < net->num_layers(), "layer ", layer, " out of 0..", net->num_layers() - 1);
  CFF_CHECK(!batch.streams.empty() && batch.labels.defined(), "empty layer batch");
  const int64_t n = batch.streams.front().size(0);  // this rank's rows (all of them without data_group)
  std::optional<torch::NoGradGuard> no_grad;
  if (!update) no_grad.emplace();

  // Every stream goes through the layer in one batched forward; no batch-dependent op exists in it.
  const auto x = torch::cat(batch.streams, 0).detach();  // no gradient ever crosses a layer boundary
  torch::Tensor h, loss;
  {
    AutocastGuard autocast(device, cfg.train.precision);
    h = net->forward_layer(layer, x);
    LossBatch lb{net->pool(h).to(torch::kFloat).split(n, 0), batch.labels};  // features reach losses as float32
    for (auto& f : lb.features) f = gather_rows(f, batch.labels.size(0));     // data parallel: the global batch
    loss = losses[size_t(layer)]->forward(lb);
  }
  CFF_CHECK_CODE(loss.defined() && loss.numel() == 1, ErrorCode::kPlugin, "layer ", layer,
                 ": the local loss did not return a scalar");
  const double value = loss.item<double>();
  CFF_CHECK_CODE(std::isfinite(value), ErrorCode::kNumerics, "layer ", layer, ": local loss is ", value);
  if (update) {
    auto& opt = *layer_opt[size_t(layer)];
    opt.zero_grad();
    loss.backward();
    if (data_group) {
      auto reduction = data_group->allreduce_async(gradients(opt));
      deferred.push_back([reduction, &opt] {
        reduction->wait();
        opt.step();
      });
    } else {
      opt.step();
    }
  }
  auto next = net->between_layers(h.detach().to(torch::kFloat));
  batch.streams = next.split(n, 0);
  return value;
}

std::vector<double> Trainer::State::step(const torch::Tensor& images, const torch::Tensor& labels, bool update,
                                         bool do_augment) {
  auto batch = prepare(images, labels, do_augment);
  if (!is_bp()) {
    std::vector<double> out;
    for (int64_t l = 0; l < net->num_layers(); ++l) out.push_back(train_layer(l, batch, update));
    complete_updates();
    return out;
  }
  std::optional<torch::NoGradGuard> no_grad;
  if (!update) no_grad.emplace();
  torch::Tensor logits;
  {
    AutocastGuard autocast(device, cfg.train.precision);
    logits = head->forward(net->pool(forward(batch.streams[0], net->num_layers())));
  }
  return {cross_entropy_update(logits, batch.labels, update, "BP")};
}

torch::Tensor Trainer::State::forward(torch::Tensor h, int64_t upto,
                                      const std::function<void(int64_t, const torch::Tensor&)>& on_layer) {
  for (int64_t l = 0; l < upto; ++l) {
    if (l > 0) h = net->between_layers(h);
    h = net->forward_layer(l, h);
    if (on_layer) on_layer(l, h);
  }
  return h;
}

double Trainer::State::cross_entropy_update(const torch::Tensor& logits, const torch::Tensor& labels, bool update,
                                            const char* what) {
  auto loss = torch::cross_entropy_loss(gather_rows(logits.to(torch::kFloat), labels.size(0)), labels);
  const double value = loss.item<double>();
  CFF_CHECK_CODE(std::isfinite(value), ErrorCode::kNumerics, what, ": cross-entropy is ", value);
  if (update) {
    head_opt->zero_grad();
    loss.backward();
    reduce_gradients(*head_opt);
    head_opt->step();
  }
  return value;
}

torch::Tensor Trainer::State::head_features(const torch::Tensor& normalized) {
  torch::NoGradGuard no_grad;
  AutocastGuard autocast(device, cfg.train.precision);
  const bool ff = net->label_input();
  auto h = ff ? net->encode_input(normalized, torch::full({normalized.size(0)}, -1,
                                                          torch::TensorOptions().dtype(torch::kLong).device(device)))
              : net->encode_input(normalized);
  if (!ff) return net->pool(forward(h, net->num_layers())).to(torch::kFloat);
  std::vector<torch::Tensor> parts;  // FF's one-pass head reads layers 2..L
  const int64_t L = net->num_layers();
  forward(h, L, [&](int64_t l, const torch::Tensor& out) {
    if (l >= 1 || L == 1) parts.push_back(net->pool(out).to(torch::kFloat));
  });
  return torch::cat(parts, 1);
}

double Trainer::State::head_step(const torch::Tensor& images, const torch::Tensor& labels, bool update,
                                 bool do_augment) {
  CFF_CHECK_CODE(!is_bp(), ErrorCode::kState, "BP has no separate head stage; its head trains in step()");
  CFF_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == images.size(0), "expected ", images.size(0),
            " labels");
  const auto y = labels.to(device, torch::kLong);
  CFF_CHECK(y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < cfg.model.num_classes,
            "labels must lie in 0..", cfg.model.num_classes - 1);
  auto x = to_input(images);
  if (do_augment && !augment.empty()) x = augment.apply(x, rng());
  const auto features = head_features(normalize(shard_rows(x)));
  std::optional<torch::NoGradGuard> no_grad;
  if (!update) no_grad.emplace();
  torch::Tensor logits;
  {
    AutocastGuard autocast(device, cfg.train.precision);
    logits = head->forward(features);
  }
  return cross_entropy_update(logits, y, update, "head");
}

torch::Tensor Trainer::State::scores(const torch::Tensor& images) {
  // Inference mode skips autograd's bookkeeping on every op, most of a one-image call's cost;
  // the last op runs outside it so that callers get ordinary tensors.
  torch::Tensor out;
  bool probabilities = true;
  {
    c10::InferenceMode inference;
    std::tie(out, probabilities) = raw_scores(images);
  }
  return probabilities ? torch::softmax(out, 1) : out.clone();
}

std::pair<torch::Tensor, bool> Trainer::State::raw_scores(const torch::Tensor& images) {
  const auto x = normalize(to_input(images));
  const bool ff = net->label_input();
  if (ff && cfg.train.ff_prediction == FFPrediction::kGoodness) {
    // Hinton's FF prediction, as the paper states it: goodness summed over layers 2..L for every label.
    const int64_t n = x.size(0), C = cfg.model.num_classes, L = net->num_layers();
    auto total = torch::zeros({n, C}, torch::TensorOptions().dtype(torch::kFloat).device(device));
    AutocastGuard autocast(device, cfg.train.precision);
    for (int64_t c = 0; c < C; ++c) {
      const auto h = net->encode_input(x, torch::full({n}, c, torch::TensorOptions().dtype(torch::kLong).device(device)));
      forward(h, L, [&](int64_t l, const torch::Tensor& out) {
        if (l >= 1 || L == 1) total.select(1, c).add_(goodness(net->pool(out).to(torch::kFloat)));
      });
    }
    return {total, false};
  }
  torch::Tensor logits;
  if (is_bp()) {
    AutocastGuard autocast(device, cfg.train.precision);
    logits = head->forward(net->pool(forward(net->encode_input(x), net->num_layers())));
  } else {
    const auto features = head_features(x);
    AutocastGuard autocast(device, cfg.train.precision);
    logits = head->forward(features);
  }
  return {logits.to(torch::kFloat), true};
}

torch::Tensor Trainer::State::embed(const torch::Tensor& images, int64_t layer) {
  CFF_CHECK(layer >= 0 && layer < net->num_layers(), "layer ", layer, " out of 0..", net->num_layers() - 1);
  torch::NoGradGuard no_grad;
  AutocastGuard autocast(device, cfg.train.precision);
  const auto x = normalize(to_input(images));
  auto h = net->label_input()
               ? net->encode_input(x, torch::full({x.size(0)}, -1, torch::TensorOptions().dtype(torch::kLong).device(device)))
               : net->encode_input(x);
  return net->pool(forward(h, layer + 1)).to(torch::kFloat).cpu();
}

Evaluation Trainer::State::evaluate(const Dataset& data, const std::vector<int64_t>& ks) {
  data.validate();
  CFF_CHECK(data.size() > 0, "evaluate: empty dataset");
  CFF_CHECK(data.num_classes <= cfg.model.num_classes, "evaluate: the data has ", data.num_classes,
            " classes, the model ", cfg.model.num_classes);
  for (auto k : ks) CFF_CHECK(k >= 1 && k <= cfg.model.num_classes, "top-k: k must be in 1..", cfg.model.num_classes);
  std::map<int64_t, double> hits;
  const int64_t bs = cfg.train.batch_size;
  for (int64_t start = 0; start < data.size(); start += bs) {
    const int64_t len = std::min(bs, data.size() - start);
    const auto s = scores(data.images.narrow(0, start, len)).cpu();
    check_finite(s, "model scores (are the weights finite?)");
    const auto y = data.labels.narrow(0, start, len);
    for (auto k : ks) hits[k] += topk_accuracy(s, y, k) * double(len);
  }
  Evaluation e;
  e.count = data.size();
  for (auto& [k, h] : hits) e.topk[k] = h / double(e.count);
  return e;
}

std::vector<torch::Tensor> Trainer::State::state_tensors() const {
  std::vector<torch::Tensor> out;
  for (const auto& t : net->parameters()) out.push_back(t);
  for (const auto& t : net->buffers()) out.push_back(t);
  for (const auto& t : head->parameters()) out.push_back(t);
  return out;
}

std::vector<torch::Tensor> Trainer::State::snapshot() const {
  std::vector<torch::Tensor> out;
  for (const auto& t : state_tensors()) out.push_back(t.detach().clone());
  return out;
}

void Trainer::State::restore(const std::vector<torch::Tensor>& snap) {
  torch::NoGradGuard no_grad;
  auto live = state_tensors();
  CFF_CHECK_CODE(snap.size() == live.size(), ErrorCode::kFormat, "snapshot has ", snap.size(), " tensors, model ",
                 live.size());
  for (size_t i = 0; i < live.size(); ++i) live[i].copy_(snap[i]);
}

double topk_accuracy(const torch::Tensor& scores, const torch::Tensor& labels, int64_t k) {
  CFF_CHECK(scores.dim() == 2 && labels.dim() == 1 && scores.size(0) == labels.size(0), "top-k: shape mismatch");
  CFF_CHECK(k >= 1 && k <= scores.size(1), "top-k: k must be in 1..", scores.size(1));
  const auto top = std::get<1>(scores.topk(k, 1));
  return top.eq(labels.to(top.device()).unsqueeze(1)).any(1).to(torch::kDouble).mean().item<double>();
}

// ---- public API: lock, then delegate ----------------------------------------------------------------

Trainer::Trainer(const Config& config) : s_(std::make_unique<State>(config)), mutex_(std::make_unique<std::mutex>()) {}
Trainer::Trainer(std::unique_ptr<State> state) : s_(std::move(state)), mutex_(std::make_unique<std::mutex>()) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

#define CFF_LOCKED std::lock_guard<std::mutex> lock_(*mutex_)

Config Trainer::config() const { CFF_LOCKED; return s_->cfg; }
torch::Device Trainer::device() const { CFF_LOCKED; return s_->device; }
Precision Trainer::precision() const {
  CFF_LOCKED;
  return resolve_precision(s_->cfg.train.precision, s_->device);
}
int64_t Trainer::num_layers() const { CFF_LOCKED; return s_->net->num_layers(); }
int64_t Trainer::num_losses() const {
  CFF_LOCKED;
  return s_->is_bp() ? 1 : s_->cfg.model.num_layers;
}
int64_t Trainer::stage() const { CFF_LOCKED; return s_->stage; }
int64_t Trainer::epoch() const { CFF_LOCKED; return s_->epoch; }
std::vector<EpochRecord> Trainer::history() const { CFF_LOCKED; return s_->history; }

LayerBatch Trainer::prepare(const torch::Tensor& images, const torch::Tensor& labels, bool augment) {
  CFF_LOCKED;
  return s_->prepare(images, labels, augment);
}
double Trainer::train_layer(int64_t layer, LayerBatch& batch) {
  CFF_LOCKED;
  return s_->train_layer(layer, batch, true);
}
std::vector<double> Trainer::step(const torch::Tensor& images, const torch::Tensor& labels) {
  CFF_LOCKED;
  return s_->step(images, labels, true, true);
}
std::vector<double> Trainer::layer_losses(const torch::Tensor& images, const torch::Tensor& labels, bool augment) {
  CFF_LOCKED;
  return s_->step(images, labels, false, augment);
}
void Trainer::set_lr_scale(double scale) {
  CFF_CHECK(std::isfinite(scale) && scale >= 0, "lr scale must be finite and >= 0, got ", scale);
  CFF_LOCKED;
  s_->set_lr_scales(scale, scale);
}
double Trainer::head_step(const torch::Tensor& images, const torch::Tensor& labels, bool augment) {
  CFF_LOCKED;
  return s_->head_step(images, labels, true, augment);
}
double Trainer::head_loss(const torch::Tensor& images, const torch::Tensor& labels) {
  CFF_LOCKED;
  return s_->head_step(images, labels, false, false);
}
Prediction Trainer::predict(const torch::Tensor& images, int64_t k) {
  CFF_LOCKED;
  CFF_CHECK(k >= 1 && k <= s_->cfg.model.num_classes, "top-k: k must be in 1..", s_->cfg.model.num_classes);
  Prediction p;
  p.scores = s_->scores(images).cpu();
  check_finite(p.scores, "model scores (are the weights finite?)");
  p.topk = std::get<1>(p.scores.topk(k, 1));
  p.labels = p.topk.select(1, 0).contiguous();
  return p;
}
torch::Tensor Trainer::embed(const torch::Tensor& images, int64_t layer) {
  CFF_LOCKED;
  return s_->embed(images, layer);
}
Evaluation Trainer::evaluate(const Dataset& data, const std::vector<int64_t>& ks) {
  CFF_LOCKED;
  return s_->evaluate(data, ks);
}
void Trainer::set_ff_prediction(FFPrediction mode) {
  CFF_LOCKED;
  s_->cfg.train.ff_prediction = mode;
}
FitResult Trainer::fit(const Dataset& train, const FitHooks& hooks) {
  CFF_LOCKED;
  return s_->fit(train, hooks);
}

FitResult Trainer::fit(std::shared_ptr<const ImageSource> train, const FitHooks& hooks) {
  CFF_LOCKED;
  return s_->fit(train, hooks);
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::named_tensors() const {
  CFF_LOCKED;
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto add = [&](const std::string& prefix, const torch::OrderedDict<std::string, torch::Tensor>& dict) {
    for (const auto& item : dict) out.emplace_back(prefix + item.key(), item.value().detach().to(torch::kCPU).clone());
  };
  add("encoder.", s_->net->named_parameters());
  add("encoder.", s_->net->named_buffers());
  add("head.", s_->head->named_parameters());
  add("head.", s_->head->named_buffers());
  out.emplace_back("input.mean", s_->mean.detach().to(torch::kCPU).flatten().clone());
  out.emplace_back("input.std", (1.0 / s_->inv_std.detach().to(torch::kCPU)).flatten().clone());
  return out;
}
void Trainer::save(const std::string& path) const {
  CFF_LOCKED;
  write_checkpoint(*s_, path);
}
Trainer Trainer::load(const std::string& path, const std::string& device) {
  return Trainer(read_checkpoint(path, device));
}
void Trainer::load_state(const std::string& path) {
  const std::string device = config().train.device;
  auto fresh = read_checkpoint(path, device);  // everything is read and checked first, unlocked
  CFF_LOCKED;
  CFF_CHECK_CODE(fresh->cfg.model.arch == s_->cfg.model.arch && fresh->cfg.model.embed_dim == s_->cfg.model.embed_dim &&
                     fresh->cfg.model.num_layers == s_->cfg.model.num_layers &&
                     fresh->cfg.model.channels == s_->cfg.model.channels &&
                     fresh->cfg.model.height == s_->cfg.model.height && fresh->cfg.model.width == s_->cfg.model.width &&
                     fresh->cfg.model.num_classes == s_->cfg.model.num_classes &&
                     fresh->cfg.train.algorithm == s_->cfg.train.algorithm,
                 ErrorCode::kFormat, path, ": checkpoint holds a different model (", to_string(fresh->cfg.model.arch),
                 "[", fresh->cfg.model.embed_dim, " ", fresh->cfg.model.num_layers, "], ",
                 to_string(fresh->cfg.train.algorithm), ") than this one (", to_string(s_->cfg.model.arch), "[",
                 s_->cfg.model.embed_dim, " ", s_->cfg.model.num_layers, "], ", to_string(s_->cfg.train.algorithm), ")");
  s_ = std::move(fresh);
}

}  // namespace cff
