// Config validation and its JSON form (nlohmann::json): what checkpoints and config files hold.
#include <cmath>
#include <limits>

#include <type_traits>

#include <nlohmann/json.hpp>

#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "files.hpp"
#include "cff/options.hpp"
#include "cff/parallel.hpp"

namespace cff {
using nlohmann::json;

namespace {
template <typename E>
struct EnumNames;
template <>
struct EnumNames<Architecture> {
  static constexpr std::pair<Architecture, const char*> v[] = {{Architecture::kMlp, "mlp"}, {Architecture::kVit, "vit"}};
};
template <>
struct EnumNames<Algorithm> {
  static constexpr std::pair<Algorithm, const char*> v[] = {
      {Algorithm::kContrastive, "cff"}, {Algorithm::kForwardForward, "ff"}, {Algorithm::kBackprop, "bp"}};
};
template <>
struct EnumNames<Precision> {
  static constexpr std::pair<Precision, const char*> v[] = {{Precision::kFloat32, "fp32"}, {Precision::kBFloat16, "bf16"},
                                                             {Precision::kAuto, "auto"}};
};
template <>
struct EnumNames<Pooling> {
  static constexpr std::pair<Pooling, const char*> v[] = {{Pooling::kMean, "mean"}, {Pooling::kClassToken, "cls"}};
};
template <>
struct EnumNames<FFPrediction> {
  static constexpr std::pair<FFPrediction, const char*> v[] = {{FFPrediction::kGoodness, "goodness"},
                                                               {FFPrediction::kHead, "head"}};
};

template <>
struct EnumNames<LrSchedule> {
  static constexpr std::pair<LrSchedule, const char*> v[] = {
      {LrSchedule::kAuto, "auto"}, {LrSchedule::kConstant, "constant"}, {LrSchedule::kCosine, "cosine"}};
};
template <>
struct EnumNames<ParallelMode> {
  static constexpr std::pair<ParallelMode, const char*> v[] = {{ParallelMode::kNone, "none"},
                                                               {ParallelMode::kPipeline, "pipeline"},
                                                               {ParallelMode::kData, "data"},
                                                               {ParallelMode::kPipelineData, "pipeline,data"}};
};

template <typename E>
std::string name_of(E value) {
  for (const auto& [v, n] : EnumNames<E>::v)
    if (v == value) return n;
  return "?";
}


// Reads j[key] into `out` if present; a wrong type is an error naming the key.
template <typename T>
void read(const json& j, const std::string& section, const char* key, T& out) {
  if (!j.contains(key)) return;
  // nlohmann converts 64.7 to 64 and -1 to 2^64-1 silently: an integer field takes integers only,
  // an unsigned one non-negative integers only.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const auto& v = j.at(key);
    const bool ok = std::is_unsigned_v<T> ? v.is_number_unsigned()
                                          : v.is_number_integer() && !(v.is_number_unsigned() &&
                                                                       v.get<uint64_t>() > uint64_t(INT64_MAX));
    if (!ok)
      detail::throw_error(ErrorCode::kInvalidArgument, "config: ", section, ".", key, " must be ",
                          std::is_unsigned_v<T> ? "a non-negative integer" : "an integer", ", got ", v.dump());
  }
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    detail::throw_error(ErrorCode::kInvalidArgument, "config: ", section, ".", key, " has the wrong type (",
                        j.at(key).type_name(), ")");
  }
}

template <typename E>
void read_enum(const json& j, const std::string& section, const char* key, E& out) {
  std::string text;
  if (!j.contains(key)) return;
  read(j, section, key, text);
  out = from_string<E>(text, "config: " + section + "." + key);
}

json parse_json(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 8e888
    detail::throw_error(ErrorCode::kInvalidArgument, "config: not valid JSON (", e.what(), ")");
  }
}

void reject_unknown(const json& j, const std::string& section, std::initializer_list<const char*> known) {
  CFF_CHECK(j.is_object(), "config: ", section, " must be an object");
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    CFF_CHECK(ok, "config: unknown key ", section, ".", key);
  }
}
}  // namespace

std::string to_string(Architecture v) { return name_of(v); }
std::string to_string(Algorithm v) { return name_of(v); }
std::string to_string(Precision v) { return name_of(v); }
std::string to_string(Pooling v) { return name_of(v); }
std::string to_string(LrSchedule v) { return name_of(v); }
std::string to_string(FFPrediction v) { return name_of(v); }
std::string to_string(ParallelMode v) { return name_of(v); }

template <typename E>
E from_string(const std::string& text, const std::string& what) {
  std::string options;
  for (const auto& [v, n] : EnumNames<E>::v) {
    if (text == n) return v;
    options += (options.empty() ? "" : ", ") + std::string(n);
  }
  detail::throw_error(ErrorCode::kInvalidArgument, what, " must be one of ", options, ", got '", text, "'");
}
template Architecture from_string<Architecture>(const std::string&, const std::string&);
template Algorithm from_string<Algorithm>(const std::string&, const std::string&);
template Precision from_string<Precision>(const std::string&, const std::string&);
template Pooling from_string<Pooling>(const std::string&, const std::string&);
template LrSchedule from_string<LrSchedule>(const std::string&, const std::string&);
template FFPrediction from_string<FFPrediction>(const std::string&, const std::string&);
template ParallelMode from_string<ParallelMode>(const std::string&, const std::string&);

namespace {
// Saturating arithmetic for sizes a config declares: a wrapped product must never pass a limit.
int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
}  // namespace

int64_t Config::parameter_count() const {
  const auto& m = model;
  const bool ff = train.algorithm == Algorithm::kForwardForward;
  const int64_t e = std::max<int64_t>(m.embed_dim, 0), layers = std::max<int64_t>(m.num_layers, 0);
  auto linear = [](int64_t in, int64_t out) { return sat_add(sat_mul(in, out), out); };
  int64_t n = 0;
  if (m.arch == Architecture::kMlp) {
    for (int64_t l = 0; l < layers && n < std::numeric_limits<int64_t>::max(); ++l)
      n = sat_add(n, linear(l == 0 ? sat_mul(sat_mul(m.channels, m.height), m.width) : e, e));
  } else {
    const int64_t hidden = sat_mul(std::max<int64_t>(m.mlp_ratio, 0), e);
    // Pre-norm block: two LayerNorms, qkv + proj, fc1 + fc2 (network.cpp).
    const int64_t block = sat_add(sat_add(sat_mul(4, e), sat_add(linear(e, sat_mul(3, e)), linear(e, e))),
                                  sat_add(linear(e, hidden), linear(hidden, e)));
    const int64_t p = std::max<int64_t>(m.patch_size, 1);
    const int64_t patch_dim = sat_mul(m.channels, sat_mul(p, p));
    const int64_t tokens = sat_add(sat_mul(m.height / p, m.width / p), (ff ? 1 : 0) + (m.pooling == Pooling::kClassToken ? 1 : 0));
    n = sat_add(linear(patch_dim, e), sat_mul(sat_add(tokens, m.pooling == Pooling::kClassToken ? 1 : 0), e));
    n = sat_add(n, sat_mul(layers, block));
    if (ff) n = sat_add(n, sat_mul(m.num_classes, patch_dim));  // the label patches (a buffer)
  }
  const int64_t head_in = ff ? sat_mul(e, std::max<int64_t>(1, layers - 1)) : e;
  return sat_add(n, sat_add(sat_mul(2, head_in), linear(head_in, m.num_classes)));
}

void Config::validate() const {
  const auto& m = model;
  const auto& t = train;
  // Ranges first, so that no size below can overflow; then the whole model against the limit.
  constexpr int64_t kMaxDim = int64_t(1) << 24, kMaxSide = int64_t(1) << 16, kMaxLayers = 4096;
  CFF_CHECK(m.num_layers <= kMaxLayers, "config: num_layers must be <= ", kMaxLayers, ", got ", m.num_layers);
  CFF_CHECK(m.embed_dim <= kMaxDim, "config: embed_dim must be <= ", kMaxDim, ", got ", m.embed_dim);
  CFF_CHECK(m.num_classes <= kMaxDim, "config: num_classes must be <= ", kMaxDim, ", got ", m.num_classes);
  CFF_CHECK(m.channels <= 1024 && m.height <= kMaxSide && m.width <= kMaxSide, "config: image shape ", m.channels,
            "x", m.height, "x", m.width, " is too large (at most 1024 channels, ", kMaxSide, " pixels a side)");
  CFF_CHECK(m.num_heads <= kMaxDim && m.patch_size <= kMaxSide && m.mlp_ratio <= 64,
            "config: num_heads, patch_size or mlp_ratio out of range (", m.num_heads, ", ", m.patch_size, ", ",
            m.mlp_ratio, ")");
  CFF_CHECK(t.batch_size <= kMaxDim, "config: batch_size must be <= ", kMaxDim, ", got ", t.batch_size);
  CFF_CHECK(t.epochs <= 1000000 && t.head_epochs <= 1000000, "config: epochs must be <= 1000000");
  CFF_CHECK(t.threads <= 4096 && t.blas_threads <= 4096, "config: threads must be <= 4096");
  CFF_CHECK(m.num_layers >= 1, "config: num_layers must be >= 1, got ", m.num_layers);
  CFF_CHECK(m.embed_dim >= 1, "config: embed_dim must be >= 1, got ", m.embed_dim);
  CFF_CHECK(m.channels >= 1 && m.height >= 1 && m.width >= 1, "config: image shape must be positive, got ",
            m.channels, "x", m.height, "x", m.width);
  CFF_CHECK(m.num_classes >= 2, "config: num_classes must be >= 2, got ", m.num_classes);
  CFF_CHECK(m.class_names.empty() || int64_t(m.class_names.size()) == m.num_classes, "config: ",
            m.class_names.size(), " class names for ", m.num_classes, " classes");
  if (m.arch == Architecture::kVit) {
    CFF_CHECK(m.num_heads >= 1 && m.embed_dim % m.num_heads == 0, "config: embed_dim ", m.embed_dim,
              " is not divisible by num_heads ", m.num_heads);
    CFF_CHECK(m.patch_size >= 1 && m.height % m.patch_size == 0 && m.width % m.patch_size == 0, "config: patch size ",
              m.patch_size, " does not divide the image size ", m.height, "x", m.width);
    CFF_CHECK(m.mlp_ratio >= 1, "config: mlp_ratio must be >= 1");
  } else if (t.algorithm == Algorithm::kForwardForward) {
    CFF_CHECK(m.channels * m.height * m.width > m.num_classes, "config: FF needs more inputs than classes");
  }
  auto positive = [](double v) { return std::isfinite(v) && v > 0; };
  auto non_negative = [](double v) { return std::isfinite(v) && v >= 0; };
  CFF_CHECK(positive(t.lr), "config: lr must be > 0, got ", t.lr);
  CFF_CHECK(positive(t.head_lr), "config: head_lr must be > 0, got ", t.head_lr);
  CFF_CHECK(non_negative(t.weight_decay), "config: weight_decay must be >= 0, got ", t.weight_decay);
  CFF_CHECK(non_negative(t.head_weight_decay), "config: head_weight_decay must be >= 0, got ", t.head_weight_decay);
  CFF_CHECK(t.views == 1 || t.views == 2, "config: views must be 1 or 2, got ", t.views);
  CFF_CHECK(t.batch_size >= 2, "config: batch_size must be >= 2, got ", t.batch_size);
  CFF_CHECK(t.epochs >= 0 && t.head_epochs >= 0, "config: epochs must be >= 0");
  CFF_CHECK(t.val_fraction >= 0 && t.val_fraction < 1, "config: val_fraction must be in [0, 1), got ", t.val_fraction);
  CFF_CHECK(t.threads >= 0, "config: threads must be >= 0, got ", t.threads);
  CFF_CHECK(t.blas_threads >= 0, "config: blas_threads must be >= 0, got ", t.blas_threads);
  CFF_CHECK(t.mean.size() == t.std.size(), "config: mean and std must have the same length");
  CFF_CHECK(t.mean.empty() || int64_t(t.mean.size()) == m.channels, "config: mean/std need one value per channel (",
            m.channels, ")");
  for (double s : t.std)
    CFF_CHECK(std::isfinite(s) && s >= kMinStd, "config: std values must be >= ", kMinStd, " (1/std scales the input), got ", s);
  for (double v : t.mean) CFF_CHECK(std::isfinite(v), "config: mean values must be finite, got ", v);
  const int64_t params = parameter_count(), limit = input_limits().max_parameters;
  CFF_CHECK(params <= limit, "config: the model ", to_string(m.arch), "[", m.embed_dim, " ", m.num_layers,
            "] has ", params == std::numeric_limits<int64_t>::max() ? std::string("more than 2^63") : std::to_string(params),
            " parameters, above the limit of ", limit, " (--max-parameters)");
}

std::string Config::loss_spec() const {
  if (!train.loss.empty()) return train.loss;
  switch (train.algorithm) {
    case Algorithm::kContrastive: return "mcl";
    case Algorithm::kForwardForward: return "ff";
    case Algorithm::kBackprop: return "";
  }
  return "";
}

LrSchedule Config::schedule() const {
  return train.lr_schedule == LrSchedule::kAuto ? LrSchedule::kConstant : train.lr_schedule;
}

std::string Config::augment_spec() const {
  if (!train.augment.empty()) return train.augment;
  return model.arch == Architecture::kMlp ? "hflip" : "crop:padding=4+hflip";
}

std::string Config::to_json() const {
  const auto& m = model;
  const auto& t = train;
  json j;
  j["model"] = {{"arch", name_of(m.arch)},       {"embed_dim", m.embed_dim},   {"num_layers", m.num_layers},
                {"num_heads", m.num_heads},       {"patch_size", m.patch_size}, {"mlp_ratio", m.mlp_ratio},
                {"pooling", name_of(m.pooling)},  {"channels", m.channels},     {"height", m.height},
                {"width", m.width},               {"num_classes", m.num_classes}};
  if (!m.class_names.empty()) j["model"]["class_names"] = m.class_names;  // absent when empty (and in older checkpoints)
  j["train"] = {{"algorithm", name_of(t.algorithm)},
                {"loss", t.loss},
                {"augment", t.augment},
                {"views", t.views},
                {"lr", t.lr},
                {"weight_decay", t.weight_decay},
                {"head_lr", t.head_lr},
                {"head_weight_decay", t.head_weight_decay},
                {"lr_schedule", name_of(t.lr_schedule)},
                {"batch_size", t.batch_size},
                {"epochs", t.epochs},
                {"head_epochs", t.head_epochs},
                {"val_fraction", t.val_fraction},
                {"select_best_epoch", t.select_best_epoch},
                {"ff_prediction", name_of(t.ff_prediction)},
                {"seed", t.seed},
                {"device", t.device},
                {"precision", name_of(t.precision)},
                {"tf32", t.tf32},
                {"threads", t.threads},
                {"blas_threads", t.blas_threads},
                {"mean", t.mean},
                {"std", t.std}};
  for (const auto& r : t.plugins)  // absent when empty (and in older checkpoints)
    j["train"]["plugins"].push_back({{"file", r.file}, {"provider", r.provider}, {"kind", r.kind}, {"hash", r.hash}});
  return j.dump(2);
}

Config Config::from_file(const std::string& path) {
  const auto bytes = detail::read_input_file(path, "config");
  try {
    return from_json(std::string(bytes.begin(), bytes.end()));
  } catch (const Error& e) {
    detail::throw_error(e.code(), path, ": ", e.what());
  }
}

Config Config::merged_with_json(const std::string& patch) const {
  auto merged = json::parse(to_json());
  merged.merge_patch(parse_json(patch));
  return from_json(merged.dump());
}

void Config::set_input_shape(int64_t channels, int64_t height, int64_t width) {
  if (!train.mean.empty() && int64_t(train.mean.size()) != channels) {
    train.mean.clear();
    train.std.clear();
  }
  model.channels = channels;
  model.height = height;
  model.width = width;
}

Config Config::from_json(const std::string& text) {
  const json j = parse_json(text);
  reject_unknown(j, "config", {"model", "train"});
  Config c;
  if (j.contains("model")) {
    const auto& m = j["model"];
    reject_unknown(m, "model", {"arch", "embed_dim", "num_layers", "num_heads", "patch_size", "mlp_ratio", "pooling",
                                "channels", "height", "width", "num_classes", "class_names"});
    read_enum(m, "model", "arch", c.model.arch);
    read(m, "model", "embed_dim", c.model.embed_dim);
    read(m, "model", "num_layers", c.model.num_layers);
    read(m, "model", "num_heads", c.model.num_heads);
    read(m, "model", "patch_size", c.model.patch_size);
    read(m, "model", "mlp_ratio", c.model.mlp_ratio);
    read_enum(m, "model", "pooling", c.model.pooling);
    read(m, "model", "channels", c.model.channels);
    read(m, "model", "height", c.model.height);
    read(m, "model", "width", c.model.width);
    read(m, "model", "num_classes", c.model.num_classes);
    read(m, "model", "class_names", c.model.class_names);
  }
  if (j.contains("train")) {
    const auto& t = j["train"];
    reject_unknown(t, "train", {"algorithm", "loss", "augment", "views", "lr", "weight_decay", "head_lr",
                                "head_weight_decay", "lr_schedule", "batch_size", "epochs", "head_epochs",
                                "val_fraction", "select_best_epoch", "ff_prediction", "seed", "device", "precision",
                                "tf32", "threads", "blas_threads", "mean", "std", "plugins"});
    read_enum(t, "train", "algorithm", c.train.algorithm);
    read(t, "train", "loss", c.train.loss);
    read(t, "train", "augment", c.train.augment);
    read(t, "train", "views", c.train.views);
    read(t, "train", "lr", c.train.lr);
    read(t, "train", "weight_decay", c.train.weight_decay);
    read(t, "train", "head_lr", c.train.head_lr);
    read(t, "train", "head_weight_decay", c.train.head_weight_decay);
    read_enum(t, "train", "lr_schedule", c.train.lr_schedule);
    read(t, "train", "batch_size", c.train.batch_size);
    read(t, "train", "epochs", c.train.epochs);
    read(t, "train", "head_epochs", c.train.head_epochs);
    read(t, "train", "val_fraction", c.train.val_fraction);
    read(t, "train", "select_best_epoch", c.train.select_best_epoch);
    read_enum(t, "train", "ff_prediction", c.train.ff_prediction);
    read(t, "train", "seed", c.train.seed);
    read(t, "train", "device", c.train.device);
    read_enum(t, "train", "precision", c.train.precision);
    read(t, "train", "tf32", c.train.tf32);
    read(t, "train", "threads", c.train.threads);
    read(t, "train", "blas_threads", c.train.blas_threads);
    read(t, "train", "mean", c.train.mean);
    read(t, "train", "std", c.train.std);
    if (t.contains("plugins")) {
      CFF_CHECK(t["plugins"].is_array(), "config: train.plugins must be an array");
      for (const auto& r : t["plugins"]) {
        reject_unknown(r, "train.plugins[]", {"file", "provider", "kind", "hash"});
        PluginRef ref;
        read(r, "train.plugins[]", "file", ref.file);
        read(r, "train.plugins[]", "provider", ref.provider);
        read(r, "train.plugins[]", "kind", ref.kind);
        read(r, "train.plugins[]", "hash", ref.hash);
        CFF_CHECK(ref.kind == "loss" || ref.kind == "augmentation",
                  "config: train.plugins[].kind must be loss or augmentation, got '", ref.kind, "'");
        c.train.plugins.push_back(std::move(ref));
      }
    }
  }
  return c;
}

}  // namespace cff

namespace cff {

std::string ParallelOptions::to_json() const {
  return json{{"pipeline", pipeline},       {"stages", stages},          {"queue_depth", queue_depth},
              {"balance", balance},         {"mode", to_string(mode)},   {"timeout_s", timeout_seconds}}
      .dump();
}

ParallelOptions ParallelOptions::from_json(const std::string& text) {
  const json j = parse_json(text);
  reject_unknown(j, "parallel", {"pipeline", "stages", "queue_depth", "balance", "mode", "timeout_s"});
  ParallelOptions o;
  read(j, "parallel", "pipeline", o.pipeline);
  read(j, "parallel", "stages", o.stages);
  read(j, "parallel", "queue_depth", o.queue_depth);
  read(j, "parallel", "balance", o.balance);
  read_enum(j, "parallel", "mode", o.mode);
  read(j, "parallel", "timeout_s", o.timeout_seconds);
  o.validate();
  return o;
}

}  // namespace cff
