// cff: train, evaluate and inspect layer-local models from the command line.
// A thin program over libcff's public C++ API. Progress goes to stderr; results to stdout
// (one JSON object with --json). Exit code 0 on success, 1 with a one-line reason otherwise,
// 130 when interrupted (the last completed epoch stays saved; --resume continues).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cff/cff.hpp"
#include "cff/plugins.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop = true; }

// ---- data -----------------------------------------------------------------------------------------

bool is_idx_folder(const std::string& dir) {
  for (const char* f : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                        "t10k-images-idx3-ubyte.gz"})
    if (fs::exists(fs::path(dir) / f)) return true;
  return false;
}

cff::Dataset load_data(const std::string& dir, const std::string& part) {
  CFF_CHECK_CODE(fs::exists(dir), cff::ErrorCode::kIo, dir, ": no such file or folder");
  CFF_CHECK(is_idx_folder(dir), dir,
            ": not an IDX folder (expected {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; this version of cff "
            "reads IDX data only)");
  return cff::load_idx_folder(dir, part);
}

// ---- progress ---------------------------------------------------------------------------------------

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {}

  void batch(const cff::Progress& p) {
    if (quiet_) return;
    const double frac = double(p.batch) / double(p.batches);
    const double rate = p.seconds > 0 ? double(p.batch) / p.seconds : 0.0;
    const double eta = rate > 0 ? double(p.batches - p.batch) / rate : 0.0;
    std::ostringstream line;
    line << (p.stage == 1 ? "stage 1" : "stage 2") << " epoch " << p.epoch << "/" << p.epochs << " ";
    if (tty_) {
      const int width = 24, filled = int(frac * width);
      line << "[" << std::string(size_t(filled), '#') << std::string(size_t(width - filled), '.') << "] ";
    }
    line << p.batch << "/" << p.batches << " " << std::fixed;
    line.precision(1);
    line << rate << " batch/s eta " << eta << "s loss";
    line.precision(4);
    for (double l : p.losses) line << " " << l;
    if (tty_) {
      std::fprintf(stderr, "\r%-110s", line.str().c_str());
      std::fflush(stderr);
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (p.batch == p.batches || now - last_ > std::chrono::seconds(5)) {
        last_ = now;
        std::fprintf(stderr, "%s\n", line.str().c_str());
      }
    }
  }

  void epoch(const cff::EpochRecord& r) {
    if (quiet_) return;
    std::ostringstream line;
    line << std::fixed;
    line.precision(4);
    line << (r.stage == 1 ? "stage 1" : "stage 2") << " epoch " << r.epoch << " done in ";
    line.precision(1);
    line << r.seconds << "s; train loss";
    line.precision(4);
    for (double l : r.train_loss) line << " " << l;
    if (!r.val_loss.empty()) {
      line << "; val loss";
      for (double l : r.val_loss) line << " " << l;
    }
    if (r.best) line << " (best so far)";
    std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line.str().c_str());
  }

 private:
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point last_{};
};

std::vector<int64_t> parse_ks(const std::string& text) {
  std::vector<int64_t> ks;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      size_t used = 0;
      ks.push_back(std::stoll(part, &used));
      CFF_CHECK(used == part.size(), "");
    } catch (...) {
      CFF_CHECK(false, "--topk: expected a comma-separated list of integers, got '", text, "'");
    }
  }
  CFF_CHECK(!ks.empty(), "--topk: empty list");
  return ks;
}

json evaluation_json(const cff::Evaluation& e) {
  json topk = json::object();
  for (const auto& [k, v] : e.topk) topk[std::to_string(k)] = v;
  return {{"top1", e.top1()}, {"topk", topk}, {"count", e.count}};
}

cff::FFPrediction parse_ff_predict(const std::string& s) {
  if (s == "goodness") return cff::FFPrediction::kGoodness;
  CFF_CHECK(s == "head", "--ff-predict must be 'goodness' or 'head', got '", s, "'");
  return cff::FFPrediction::kHead;
}

// ---- train ------------------------------------------------------------------------------------------

struct TrainArgs {
  std::string data, out, config_file, algo = "cff+m", arch = "mlp", loss, augment, device = "auto",
                                      precision = "fp32", ff_predict = "goodness", topk = "1";
  int64_t embed = 500, layers = 3, heads = 4, patch = 4, views = 2, batch = 512, epochs = 10, head_epochs = 10,
          threads = 0;
  double lr = 0.004, head_lr = 0.0005, weight_decay = 0.01, val_fraction = 0.1;
  uint64_t seed = 0;
  bool resume = false, json_out = false, quiet = false, no_best = false, cls = false;
  std::vector<std::string> plugins;
};

void add_train_options(CLI::App* cmd, TrainArgs& a) {
  cmd->add_option("DATA", a.data, "training data: an IDX folder (MNIST layout)")->required();
  cmd->add_option("--out,-o", a.out, "model file to write (also the per-epoch checkpoint)")->required();
  cmd->add_option("--config", a.config_file, "JSON config file (keys as in `cff inspect`); flags given override it");
  cmd->add_option("--algo", a.algo, "cff+m, cff, cff1 (one-forward CFF+M), ff, symba or bp")->capture_default_str();
  cmd->add_option("--arch", a.arch, "mlp or vit")->capture_default_str();
  cmd->add_option("--embed,-E", a.embed, "E: layer width / token dimension")->capture_default_str();
  cmd->add_option("--layers,-L", a.layers, "L: number of layers")->capture_default_str();
  cmd->add_option("--heads,-H", a.heads, "H: attention heads (vit)")->capture_default_str();
  cmd->add_option("--patch", a.patch, "patch size (vit)")->capture_default_str();
  cmd->add_flag("--class-token", a.cls, "pool a class token instead of the token mean (vit)");
  cmd->add_option("--loss", a.loss, "local loss spec, e.g. mcl:m0=0.4,mL=0.1,schedule=linear (default: by --algo)");
  cmd->add_option("--augment", a.augment, "augmentation pipeline, e.g. crop:padding=4+hflip, or none");
  cmd->add_option("--views", a.views, "CFF views: 2 (two-forward) or 1 (one-forward)")->capture_default_str();
  cmd->add_option("--batch", a.batch, "batch size")->capture_default_str();
  cmd->add_option("--epochs", a.epochs, "stage-1 epochs (bp: all)")->capture_default_str();
  cmd->add_option("--head-epochs", a.head_epochs, "stage-2 (linear head) epochs")->capture_default_str();
  cmd->add_option("--lr", a.lr, "stage-1 AdamW learning rate")->capture_default_str();
  cmd->add_option("--head-lr", a.head_lr, "stage-2 AdamW learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", a.weight_decay, "stage-1 AdamW weight decay")->capture_default_str();
  cmd->add_option("--val-fraction", a.val_fraction, "share held out for validation")->capture_default_str();
  cmd->add_flag("--no-best-epoch", a.no_best, "keep the last epoch instead of the best validation epoch");
  cmd->add_option("--ff-predict", a.ff_predict, "FF prediction: goodness (every label) or head (one pass)")
      ->capture_default_str();
  cmd->add_option("--seed", a.seed, "random seed")->capture_default_str();
  cmd->add_option("--device", a.device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  cmd->add_option("--precision", a.precision, "fp32 or bf16")->capture_default_str();
  cmd->add_option("--threads", a.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--topk", a.topk, "test accuracies to report, e.g. 1,5")->capture_default_str();
  cmd->add_flag("--resume", a.resume, "continue the run saved in --out");
  cmd->add_flag("--json", a.json_out, "print the result as one JSON object on stdout");
  cmd->add_flag("--quiet,-q", a.quiet, "no progress on stderr");
  cmd->add_option("--plugin", a.plugins, "load a plugin (shared library) first; repeatable");
}

cff::Config build_config(const TrainArgs& a, const CLI::App& cmd, const cff::Dataset& data) {
  cff::Config c;
  if (!a.config_file.empty()) {
    std::ifstream in(a.config_file);
    CFF_CHECK_CODE(in.good(), cff::ErrorCode::kIo, a.config_file, ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    c = cff::Config::from_json(text.str());
  }
  auto given = [&](const char* name) { return cmd.count(name) > 0 || a.config_file.empty(); };
  if (given("--algo")) {
    const std::string& s = a.algo;
    if (s == "cff+m" || s == "cff1") {
      c.train.algorithm = cff::Algorithm::kContrastive;
      c.train.loss = "mcl";
      if (s == "cff1") c.train.views = 1;
    } else if (s == "cff") {
      c.train.algorithm = cff::Algorithm::kContrastive;
      c.train.loss = "supcon";
    } else if (s == "ff" || s == "symba") {
      c.train.algorithm = cff::Algorithm::kForwardForward;
      c.train.loss = s;
    } else if (s == "bp") {
      c.train.algorithm = cff::Algorithm::kBackprop;
      c.train.loss = "";
    } else {
      CFF_CHECK(false, "--algo must be cff+m, cff, cff1, ff, symba or bp, got '", s, "'");
    }
  }
  if (given("--arch")) {
    CFF_CHECK(a.arch == "mlp" || a.arch == "vit", "--arch must be mlp or vit, got '", a.arch, "'");
    c.model.arch = a.arch == "mlp" ? cff::Architecture::kMlp : cff::Architecture::kVit;
  }
  if (given("--embed")) c.model.embed_dim = a.embed;
  if (given("--layers")) c.model.num_layers = a.layers;
  if (given("--heads")) c.model.num_heads = a.heads;
  if (given("--patch")) c.model.patch_size = a.patch;
  if (a.cls) c.model.pooling = cff::Pooling::kClassToken;
  if (cmd.count("--loss")) c.train.loss = a.loss;
  if (cmd.count("--augment")) c.train.augment = a.augment;
  if (cmd.count("--views")) c.train.views = a.views;
  if (given("--batch")) c.train.batch_size = a.batch;
  if (given("--epochs")) c.train.epochs = a.epochs;
  if (given("--head-epochs")) c.train.head_epochs = a.head_epochs;
  if (given("--lr")) c.train.lr = a.lr;
  if (given("--head-lr")) c.train.head_lr = a.head_lr;
  if (given("--weight-decay")) c.train.weight_decay = a.weight_decay;
  if (given("--val-fraction")) c.train.val_fraction = a.val_fraction;
  if (a.no_best) c.train.select_best_epoch = false;
  if (given("--ff-predict")) c.train.ff_prediction = parse_ff_predict(a.ff_predict);
  if (given("--seed")) c.train.seed = a.seed;
  if (given("--device")) c.train.device = a.device;
  if (given("--precision")) {
    CFF_CHECK(a.precision == "fp32" || a.precision == "bf16", "--precision must be fp32 or bf16");
    c.train.precision = a.precision == "bf16" ? cff::Precision::kBFloat16 : cff::Precision::kFloat32;
  }
  if (given("--threads")) c.train.threads = a.threads;
  c.model.channels = data.images.size(1);
  c.model.height = data.images.size(2);
  c.model.width = data.images.size(3);
  c.model.num_classes = std::max(c.model.num_classes, data.num_classes);
  if (c.model.num_classes != data.num_classes) c.model.num_classes = data.num_classes;
  return c;
}

// ---- plugins ----------------------------------------------------------------------------------------

void load_plugins(const std::vector<std::string>& paths) {
  for (const auto& p : paths) cff::load_plugin(p);
}

json provider_json(const cff::ProviderInfo& p) {
  json params = json::array();
  for (const auto& q : p.params) params.push_back({{"name", q.name}, {"default", q.default_value}, {"description", q.description}});
  return {{"name", p.name}, {"description", p.description}, {"origin", p.origin}, {"params", params}};
}

int run_plugins(const std::vector<std::string>& paths, bool json_out) {
  load_plugins(paths);
  const auto listing = cff::list_providers();
  const auto& report = cff::discover_plugins();
  if (json_out) {
    json out = {{"losses", json::array()}, {"augmentations", json::array()}, {"search_path", cff::plugin_search_path()},
                {"failed", json::array()}, {"plugin_abi_version", cff::plugin_abi_version()}};
    for (const auto& p : listing.losses) out["losses"].push_back(provider_json(p));
    for (const auto& p : listing.augmentations) out["augmentations"].push_back(provider_json(p));
    for (const auto& [file, why] : report.failed) out["failed"].push_back({{"file", file}, {"error", why}});
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  auto print = [](const char* title, const std::vector<cff::ProviderInfo>& providers) {
    std::printf("%s:\n", title);
    for (const auto& p : providers) {
      std::printf("  %-14s %s  [%s]\n", p.name.c_str(), p.description.c_str(), p.origin.c_str());
      for (const auto& q : p.params)
        std::printf("      %s=%s  %s\n", q.name.c_str(), q.default_value.c_str(), q.description.c_str());
    }
  };
  print("losses (--loss NAME:key=value,...)", listing.losses);
  print("augmentations (--augment NAME:key=value,...+NAME...)", listing.augmentations);
  std::printf("plugin search path (CFF_PLUGIN_PATH, then the installed folder):\n");
  for (const auto& d : cff::plugin_search_path()) std::printf("  %s\n", d.c_str());
  for (const auto& [file, why] : report.failed) std::printf("failed to load: %s\n", why.c_str());
  return 0;
}

int run_train(const TrainArgs& a, const CLI::App& cmd) {
  load_plugins(a.plugins);
  const auto train = load_data(a.data, "train");
  std::unique_ptr<cff::Trainer> trainer;
  if (a.resume) {
    CFF_CHECK_CODE(fs::exists(a.out), cff::ErrorCode::kIo, a.out, ": nothing to resume (no such file)");
    trainer = std::make_unique<cff::Trainer>(cff::Trainer::load(a.out));
  } else {
    trainer = std::make_unique<cff::Trainer>(build_config(a, cmd, train));
  }
  const auto& c = trainer->config();
  if (!a.quiet)
    std::fprintf(stderr, "cff %s: %s[%lld %lld] with %s (loss %s, augment %s) on %s, %lld images, device %s, %s\n",
                 cff::version(), cff::to_string(c.model.arch).c_str(), (long long)c.model.embed_dim,
                 (long long)c.model.num_layers, cff::to_string(c.train.algorithm).c_str(),
                 c.loss_spec().empty() ? "cross-entropy" : c.loss_spec().c_str(), c.augment_spec().c_str(),
                 a.data.c_str(), (long long)train.size(), trainer->device().str().c_str(),
                 cff::to_string(c.train.precision).c_str());

  ProgressPrinter printer(a.quiet);
  cff::FitHooks hooks;
  hooks.on_progress = [&](const cff::Progress& p) { printer.batch(p); };
  hooks.on_epoch = [&](const cff::EpochRecord& r) { printer.epoch(r); };
  hooks.checkpoint_path = a.out;
  hooks.stop = &g_stop;
  std::signal(SIGINT, on_sigint);
  const auto t0 = std::chrono::steady_clock::now();
  const auto result = trainer->fit(train, hooks);
  std::signal(SIGINT, SIG_DFL);
  if (result.stopped) {
    std::fprintf(stderr, "\ninterrupted: %s holds the last completed epoch; continue with --resume\n", a.out.c_str());
    return 130;
  }
  trainer->save(a.out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  json out = {{"model", a.out}, {"seconds", seconds}, {"best_epoch", result.best_epoch}};
  const bool has_test = fs::exists(fs::path(a.data) / "t10k-images-idx3-ubyte.gz") ||
                        fs::exists(fs::path(a.data) / "t10k-images-idx3-ubyte");
  if (has_test) {
    const auto test = load_data(a.data, "test");
    const auto e = trainer->evaluate(test, parse_ks(a.topk));
    out["test"] = evaluation_json(e);
    if (!a.json_out) {
      std::printf("test top-1 accuracy: %.2f%% (%lld images)\n", 100 * e.top1(), (long long)e.count);
      for (const auto& [k, v] : e.topk)
        if (k != 1) std::printf("test top-%lld accuracy: %.2f%%\n", (long long)k, 100 * v);
    }
  }
  if (a.json_out) std::printf("%s\n", out.dump().c_str());
  else std::printf("model saved to %s (%.0f s)\n", a.out.c_str(), seconds);
  return 0;
}

// ---- eval / info ----------------------------------------------------------------------------------------

int run_eval(const std::string& model, const std::string& data, const std::string& topk, const std::string& ff,
             const std::string& device, bool json_out, const std::vector<std::string>& plugins) {
  load_plugins(plugins);
  auto trainer = cff::Trainer::load(model, device);
  if (!ff.empty()) trainer.set_ff_prediction(parse_ff_predict(ff));
  const auto test = load_data(data, "test");
  const auto e = trainer.evaluate(test, parse_ks(topk));
  if (json_out) {
    std::printf("%s\n", evaluation_json(e).dump().c_str());
  } else {
    for (const auto& [k, v] : e.topk) std::printf("top-%lld accuracy: %.2f%%\n", (long long)k, 100 * v);
  }
  return 0;
}

int run_info(const std::string& model, bool json_out) {
  auto trainer = cff::Trainer::load(model, "cpu");
  json history = json::array();
  for (const auto& r : trainer.history())
    history.push_back({{"stage", r.stage}, {"epoch", r.epoch}, {"train_loss", r.train_loss},
                       {"val_loss", r.val_loss}, {"best", r.best}});
  json out = {{"config", json::parse(trainer.config().to_json())}, {"history", history}};
  std::printf("%s\n", json_out ? out.dump().c_str() : out.dump(2).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cff: layer-local training (Contrastive Forward-Forward and baselines)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cff ") + cff::version() + " (LibTorch " + cff::torch_version() + ")");

  TrainArgs t;
  auto* train = app.add_subcommand("train", "train a model on DATA and save it to --out");
  add_train_options(train, t);

  std::string model, data, topk = "1", ff, device;
  bool json_out = false;
  auto* eval = app.add_subcommand("eval", "top-1 / top-k accuracy of MODEL on DATA's test part");
  eval->add_option("MODEL", model, "model file")->required();
  eval->add_option("DATA", data, "an IDX folder")->required();
  eval->add_option("--topk", topk, "comma-separated k values")->capture_default_str();
  eval->add_option("--ff-predict", ff, "FF models: goodness or head");
  eval->add_option("--device", device, "override the saved device");
  eval->add_flag("--json", json_out, "one JSON object on stdout");
  std::vector<std::string> plugins;
  eval->add_option("--plugin", plugins, "load a plugin (shared library) first; repeatable");

  auto* list = app.add_subcommand("plugins", "list every loss and augmentation, built-in or plugin, with parameters");
  list->add_option("--plugin", plugins, "load a plugin (shared library) first; repeatable");
  list->add_flag("--json", json_out, "one JSON object on stdout");

  auto* info = app.add_subcommand("info", "print a model's config and training history");
  info->add_option("MODEL", model, "model file")->required();
  info->add_flag("--json", json_out, "compact JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*train) return run_train(t, *train);
    if (*eval) return run_eval(model, data, topk, ff, device, json_out, plugins);
    if (*list) return run_plugins(plugins, json_out);
    if (*info) return run_info(model, json_out);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::fprintf(stderr, "cff: error: %s\n", msg.substr(0, msg.find('\n')).c_str());
    return 1;
  }
  return 1;
}
