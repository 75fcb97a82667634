// cff train DATA --out MODEL: build a model for DATA, train both stages (checkpoint after every
// epoch), evaluate on DATA's test part, optionally write the report.
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common.hpp"
#include "launch.hpp"

namespace cff::tool {
namespace fs = std::filesystem;
namespace {

constexpr double kAutoMemoryBytes = 2.0 * (1 << 30);  // 2 GiB of decoded uint8 images
constexpr int64_t kMinAutoSide = 4, kLargeAutoSide = 1024;  // the first image's size, without --size

struct TrainArgs {
  std::string data, out, config_file, algo = "cff+m", arch = "mlp", loss, augment, device = "auto",
                                      precision = "auto", ff_predict = "goodness", lr_schedule = "auto", topk = "1",
                                      report;
  int64_t embed = 500, layers = 3, heads = 4, patch = 4, views = 2, batch = 512, epochs = 10, head_epochs = 10,
          threads = 0, blas_threads = 0, report_samples = 2000;
  double lr = 0.004, head_lr = 0.0005, weight_decay = 0.01, val_fraction = 0.1, label_noise = 0.0, drop = 0.0;
  uint64_t seed = 0;
  bool resume = false, force = false, json_out = false, no_best = false, cls = false, stream = false;
  DataArgs data_args;
  // Layer parallelism (parallel.hpp): the in-process pipeline, or ranks on c10d.
  bool pipeline = false, balance = false;
  int64_t stages = 0, queue_depth = 2, nproc = 0;
  std::string parallel = "none";
  double dist_timeout = 60;
};

// The run's config: `base` (defaults, or --config's file), then the flags. With `only_given`
// (resume) a flag counts only when it is on the command line; otherwise every flag's value (its
// default included) applies unless --config is given.
Config build_config(const TrainArgs& a, const CLI::App& cmd, const ImageSource& data, Config c, bool only_given) {
  if (!only_given && !a.config_file.empty()) {
    c = Config::from_file(a.config_file);
  }
  auto given = [&](const char* name) { return cmd.count(name) > 0 || (!only_given && a.config_file.empty()); };
  if (given("--algo")) {
    const std::string& s = a.algo;
    if (s == "cff+m" || s == "cff1") {
      c.train.algorithm = Algorithm::kContrastive;
      c.train.loss = "mcl";
      if (s == "cff1") c.train.views = 1;
    } else if (s == "cff") {
      c.train.algorithm = Algorithm::kContrastive;
      c.train.loss = "supcon";
    } else if (s == "ff" || s == "symba") {
      c.train.algorithm = Algorithm::kForwardForward;
      c.train.loss = s;
    } else if (s == "bp") {
      c.train.algorithm = Algorithm::kBackprop;
      c.train.loss = "";
    } else {
      CFF_CHECK(false, "--algo must be cff+m, cff, cff1, ff, symba or bp, got '", s, "'");
    }
  }
  if (given("--arch")) c.model.arch = from_string<Architecture>(a.arch, "--arch");
  if (given("--embed")) c.model.embed_dim = a.embed;
  if (given("--layers")) c.model.num_layers = a.layers;
  if (given("--heads")) c.model.num_heads = a.heads;
  if (given("--patch")) c.model.patch_size = a.patch;
  if (a.cls) c.model.pooling = Pooling::kClassToken;
  if (cmd.count("--loss")) c.train.loss = a.loss;
  if (cmd.count("--augment")) c.train.augment = a.augment;
  if (cmd.count("--views")) c.train.views = a.views;
  if (given("--batch")) c.train.batch_size = a.batch;
  if (given("--epochs")) c.train.epochs = a.epochs;
  if (given("--head-epochs")) c.train.head_epochs = a.head_epochs;
  if (given("--lr")) c.train.lr = a.lr;
  if (given("--head-lr")) c.train.head_lr = a.head_lr;
  if (given("--lr-schedule")) c.train.lr_schedule = from_string<LrSchedule>(a.lr_schedule, "--lr-schedule");
  if (given("--weight-decay")) c.train.weight_decay = a.weight_decay;
  if (given("--val-fraction")) c.train.val_fraction = a.val_fraction;
  if (a.no_best) c.train.select_best_epoch = false;
  if (given("--ff-predict")) c.train.ff_prediction = from_string<FFPrediction>(a.ff_predict, "--ff-predict");
  if (given("--seed")) c.train.seed = a.seed;
  if (given("--device")) c.train.device = a.device;
  if (given("--precision")) c.train.precision = from_string<Precision>(a.precision, "--precision");
  if (given("--threads")) c.train.threads = a.threads;
  if (given("--blas-threads")) c.train.blas_threads = a.blas_threads;
  c.model.channels = data.channels;
  c.model.height = data.height;
  c.model.width = data.width;
  c.model.num_classes = data.num_classes;
  c.model.class_names = data.class_names;
  return c;
}

// Label noise and limited data (the paper's Table 4), seeded from the run's seed.
std::shared_ptr<const ImageSource> apply_table4(std::shared_ptr<const ImageSource> src, const TrainArgs& a,
                                                uint64_t seed) {
  if (a.drop <= 0 && a.label_noise <= 0) return src;
  const auto keep = limited_indices(src->size(), a.drop, mix_seed(seed, 101));
  std::vector<int64_t> labels;
  for (int64_t i : keep) labels.push_back(src->label(i));
  labels = noisy_labels(labels, src->num_classes, a.label_noise, mix_seed(seed, 102));
  return std::make_shared<SubsetSource>(src, keep, labels);
}

// --out is checked before any data is read or any epoch runs: its folder must exist and be
// writable; an existing model is replaced only with --force (or continued with --resume).
void check_output(const TrainArgs& a) {
  const fs::path out(a.out);
  const fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::error_code ec;
  CFF_CHECK_CODE(fs::is_directory(dir, ec), ErrorCode::kIo, a.out, ": folder ", dir.string(), " does not exist");
  CFF_CHECK_CODE(::access(dir.c_str(), W_OK | X_OK) == 0, ErrorCode::kIo, a.out, ": folder ", dir.string(),
                 " is not writable (", std::strerror(errno), ")");
  CFF_CHECK_CODE(!fs::is_directory(out, ec), ErrorCode::kIo, a.out, ": is a folder (--out names the model file)");
  CFF_CHECK_CODE(a.resume || a.force || !fs::exists(out, ec), ErrorCode::kIo, a.out,
                 ": exists; --force replaces it, --resume continues its run");
}

// Without --size an image folder trains at its first image's size: a tiny one is refused
// (nothing to learn at 1x1), a huge one is said out loud.
void check_auto_size(const TrainArgs& a, const ImageSource& data) {
  const auto* folder = dynamic_cast<const ImageFolder*>(&data);
  if (!folder || !a.data_args.size.empty()) return;
  const std::string first = folder->files().empty() ? a.data : folder->files().front();
  CFF_CHECK(data.height >= kMinAutoSide && data.width >= kMinAutoSide, first, ": the first image is ", data.width,
            "x", data.height, " and no --size was given; images are trained at the first one's size, which must be "
            "at least ", kMinAutoSide, "x", kMinAutoSide, " (give --size HxW)");
  if ((data.height > kLargeAutoSide || data.width > kLargeAutoSide) && !a.data_args.quiet)
    std::fprintf(stderr, "cff: note: training at %lldx%lld, the size of %s (no --size given)\n",
                 (long long)data.width, (long long)data.height, first.c_str());
}

// --resume continues the saved run: a flag that would change it is an error listing every
// conflict (flags that only say how to run it, --device --threads --blas-threads --workers, apply).
void check_resume(const Config& saved, const Config& asked, const std::string& path) {
  const auto a = json::parse(saved.to_json()), b = json::parse(asked.to_json());
  std::string conflicts;
  for (const char* section : {"model", "train"})
    for (const auto& [key, value] : b[section].items()) {
      if (key == "device" || key == "threads" || key == "blas_threads") continue;
      if (a[section].contains(key) && a[section][key] == value) continue;
      conflicts += std::string(conflicts.empty() ? "" : "; ") + section + "." + key + " " +
                   (a[section].contains(key) ? a[section][key].dump() : "(unset)") + " -> " + value.dump();
    }
  CFF_CHECK(conflicts.empty(), "--resume: the command line conflicts with ", path, " (", conflicts,
            "); drop those flags to continue the run, or train a new model without --resume");
}

// The most memory this process has held, in MiB (getrusage's maximum resident set).
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// This command line without --nproc, with each rank's share of the cores unless threads were given.
std::vector<std::string> rank_command(const CLI::App& cmd, int64_t nproc) {
  std::vector<std::string> out;
  for (size_t i = 0; i < g_argv.size(); ++i) {
    if (g_argv[i] == "--nproc") {
      ++i;
      continue;
    }
    if (g_argv[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(g_argv[i]);
  }
  const std::string share = std::to_string(std::max<int64_t>(1, available_cores() / nproc));
  if (!cmd.count("--threads")) out.insert(out.end(), {"--threads", share});
  if (!cmd.count("--blas-threads")) out.insert(out.end(), {"--blas-threads", share});
  return out;
}

ParallelOptions parallel_options(const TrainArgs& a) {
  ParallelOptions p;
  p.pipeline = a.pipeline;
  p.stages = a.stages;
  p.queue_depth = a.queue_depth;
  p.balance = a.balance;
  p.mode = from_string<ParallelMode>(a.parallel, "--parallel");
  p.timeout_seconds = a.dist_timeout;
  p.validate();
  return p;
}

int run(const TrainArgs& a, const CLI::App& cmd) {
  DataArgs da = a.data_args;
  std::unique_ptr<Trainer> trainer;
  std::shared_ptr<const ImageSource> source;
  const ParallelOptions par = parallel_options(a);
  if (cmd.count("--nproc")) {
    CFF_CHECK(par.mode != ParallelMode::kNone,
              "--nproc starts the ranks of a distributed run: give --parallel pipeline, data or pipeline,data");
    check_output(a);
    return launch_local_ranks(a.nproc, rank_command(cmd, a.nproc));
  }
  // A distributed run: every rank trains; rank 0 alone reports, saves and evaluates.
  const int64_t rank = par.mode == ParallelMode::kNone ? 0 : launch_environment().rank;
  if (rank != 0) da.quiet = true;
  if (rank == 0) check_output(a);
  if (a.resume) {
    CFF_CHECK_CODE(fs::exists(a.out), ErrorCode::kIo, a.out, ": nothing to resume (no such file)");
    CFF_CHECK(a.config_file.empty(), "--config cannot be combined with --resume (the run continues with ", a.out,
              "'s own config)");
    trainer = std::make_unique<Trainer>(Trainer::load(a.out, cmd.count("--device") ? a.device : ""));
    const Config saved = trainer->config();
    source = open_part(a.data, "train", da, &saved);
    check_resume(saved, build_config(a, cmd, *source, saved, true), a.out);
    // How to run it may change: threads apply now (the device was applied by load()).
    CFF_CHECK(a.threads >= 0 && a.threads <= 4096 && a.blas_threads >= 0 && a.blas_threads <= 4096,
              "--threads and --blas-threads must be in 0..4096");
    if (cmd.count("--threads") || cmd.count("--blas-threads"))
      set_threads(cmd.count("--threads") ? a.threads : trainer->config().train.threads,
                  cmd.count("--blas-threads") ? a.blas_threads : trainer->config().train.blas_threads);
  } else {
    CFF_CHECK(a.label_noise >= 0 && a.label_noise <= 1, "--label-noise must be in [0, 1]");
    CFF_CHECK(a.drop >= 0 && a.drop < 1, "--drop must be in [0, 1)");
    source = open_part(a.data, "train", da, nullptr);
    check_auto_size(a, *source);
    trainer = std::make_unique<Trainer>(build_config(a, cmd, *source, Config{}, false));
  }
  const Config c = trainer->config();
  source = apply_table4(source, a, c.train.seed);
  ProgressPrinter printer(da.quiet);
  // Hold the decoded set in memory when asked, or by default when it is small: on a machine
  // whose cores the training step already uses, decoding every epoch costs step time.
  const double bytes = double(source->size()) * double(source->channels * source->height * source->width);
  const bool in_memory = da.in_memory || (!a.stream && bytes <= kAutoMemoryBytes);
  const auto files = source;  // keeps the list of skipped files
  if (in_memory && !dynamic_cast<const TensorSource*>(source.get())) {
    printer.note("decoding " + std::to_string(source->size()) + " images into memory");
    source = std::make_shared<TensorSource>(load_all(*source, da));
  }
  if (!da.quiet)
    std::fprintf(stderr, "cff %s: %s[%lld %lld] with %s (loss %s, augment %s) on %s (%s, %lld images %lldx%lldx%lld, "
                 "%lld classes), device %s, %s, threads %d (OpenBLAS %lld)\n",
                 version(), to_string(c.model.arch).c_str(), (long long)c.model.embed_dim,
                 (long long)c.model.num_layers, to_string(c.train.algorithm).c_str(),
                 c.loss_spec().empty() ? "cross-entropy" : c.loss_spec().c_str(), c.augment_spec().c_str(),
                 a.data.c_str(), to_string(detect_format(a.data)).c_str(), (long long)source->size(),
                 (long long)source->channels, (long long)source->height, (long long)source->width,
                 (long long)source->num_classes, trainer->device().str().c_str(),
                 to_string(trainer->precision()).c_str(), torch::get_num_threads(), (long long)blas_threads());

  FitHooks hooks;
  hooks.parallel = par;
  hooks.on_progress = [&](const Progress& p) { printer.batch(p); };
  hooks.on_epoch = [&](const EpochRecord& r) { printer.epoch(r); };
  hooks.checkpoint_path = a.out;
  hooks.stop = &g_stop;
  hooks.workers = da.workers;
  hooks.prefetch = da.prefetch;
  std::signal(SIGINT, on_sigint);
  const auto t0 = std::chrono::steady_clock::now();
  const auto result = trainer->fit(source, hooks);
  std::signal(SIGINT, SIG_DFL);
  if (rank != 0) {  // the others' share of a benchmark: what this rank did and held
    if (a.json_out)
      std::printf("%s\n", json{{"rank", rank}, {"stage_seconds", result.stage_seconds}, {"peak_rss_mib", peak_rss_mib()}}
                               .dump()
                               .c_str());
    return result.stopped ? 130 : 0;
  }
  if (result.stopped) {
    printer.note("");
    std::fprintf(stderr, "interrupted: %s holds the last completed epoch; continue with --resume\n", a.out.c_str());
    return 130;
  }
  trainer->save(a.out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!in_memory) report_skipped(*files, da.quiet);  // load_all() reported them already

  json out = {{"model", a.out},
              {"seconds", seconds},
              {"best_epoch", result.best_epoch},
              {"train_images", source->size()},
              {"precision", to_string(trainer->precision())},
              {"threads", torch::get_num_threads()},
              {"blas_threads", blas_threads()},
              {"skipped_files", files->bad_files().size()},
              {"peak_rss_mib", peak_rss_mib()}};
  if (par.pipeline || par.mode != ParallelMode::kNone)
    out["parallel"] = {{"mode", par.pipeline ? "in-process pipeline" : to_string(par.mode)},
                       {"stage_seconds", result.stage_seconds}};
  if (has_test_part(a.data)) {
    const auto test = load_all(*open_part(a.data, "test", da, &c), da);
    const auto e = trainer->evaluate(test, parse_ks(a.topk));
    out["test"] = evaluation_json(e);
    if (!a.json_out) {
      std::printf("test top-1 accuracy: %.2f%% (%lld images)\n", 100 * e.top1(), (long long)e.count);
      for (const auto& [k, v] : e.topk)
        if (k != 1) std::printf("test top-%lld accuracy: %.2f%%\n", (long long)k, 100 * v);
    }
  }
  if (!a.report.empty()) {
    // Diagnostics on the validation split fit() held out (the same seeded split).
    auto val = split_indices(source->size(), c.train.val_fraction, c.train.seed).second;
    if (val.size() < 2) val = split_indices(source->size(), 0.0, c.train.seed).first;  // no split: all images
    val.resize(std::min<size_t>(val.size(), size_t(std::max<int64_t>(2, a.report_samples))));
    const auto data = load_all(SubsetSource(source, val), da);
    DiagnosticsOptions opts;
    opts.max_samples = a.report_samples;
    const auto diag = diagnose(*trainer, data, opts);
    write_report(a.report, diag, trainer->history(), c, "cff training report: " + fs::path(a.out).filename().string());
    out["report"] = a.report;
    if (!a.json_out) std::printf("report written to %s/report.html\n", a.report.c_str());
  }
  if (a.json_out) std::printf("%s\n", out.dump().c_str());
  else std::printf("model saved to %s (%.0f s)\n", a.out.c_str(), seconds);
  return 0;
}

}  // namespace

Command add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "train a model on DATA and save it to --out");
  cmd->add_option("DATA", a->data, "training data: an image folder (ROOT/<class>/<image>, optional train/ test/), "
                                   "an IDX folder or a CIFAR binary folder")
      ->required();
  cmd->add_option("--out,-o", a->out, "model file to write (also the per-epoch checkpoint)")->required();
  cmd->add_option("--config", a->config_file, "JSON config file (keys as in `cff info`); flags given override it");
  cmd->add_option("--algo", a->algo, "cff+m, cff, cff1 (one-forward CFF+M), ff, symba or bp")->capture_default_str();
  cmd->add_option("--arch", a->arch, "mlp or vit")->capture_default_str();
  cmd->add_option("--embed,-E", a->embed, "E: layer width / token dimension")->capture_default_str();
  cmd->add_option("--layers,-L", a->layers, "L: number of layers")->capture_default_str();
  cmd->add_option("--heads,-H", a->heads, "H: attention heads (vit)")->capture_default_str();
  cmd->add_option("--patch", a->patch, "patch size (vit)")->capture_default_str();
  cmd->add_flag("--class-token", a->cls, "pool a class token instead of the token mean (vit)");
  cmd->add_option("--loss", a->loss, "local loss spec, e.g. mcl:m0=0.4,mL=0.1,schedule=linear (default: by --algo)");
  cmd->add_option("--augment", a->augment, "augmentation pipeline, e.g. crop:padding=4+hflip, or none");
  cmd->add_option("--views", a->views, "CFF views: 2 (two-forward) or 1 (one-forward)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "batch size")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "stage-1 epochs (bp: all)")->capture_default_str();
  cmd->add_option("--head-epochs", a->head_epochs, "stage-2 (linear head) epochs")->capture_default_str();
  cmd->add_option("--lr", a->lr, "stage-1 AdamW learning rate")->capture_default_str();
  cmd->add_option("--head-lr", a->head_lr, "stage-2 AdamW learning rate")->capture_default_str();
  cmd->add_option("--lr-schedule", a->lr_schedule,
                  "both stages: constant, cosine (decay to 0), or auto (= constant)")
      ->capture_default_str();
  cmd->add_option("--weight-decay", a->weight_decay, "stage-1 AdamW weight decay")->capture_default_str();
  cmd->add_option("--val-fraction", a->val_fraction, "share held out for validation")->capture_default_str();
  cmd->add_flag("--no-best-epoch", a->no_best, "keep the last epoch instead of the best validation epoch");
  cmd->add_option("--ff-predict", a->ff_predict, "FF prediction: goodness (every label) or head (one pass)")
      ->capture_default_str();
  // A string parsed strictly: CLI11 reads "-1" for an unsigned option as 2^64-1.
  cmd->add_option_function<std::string>(
         "--seed",
         [a](const std::string& text) {
           uint64_t v = 0;
           const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
           if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
             throw CLI::ValidationError("--seed: expected a whole number in 0..18446744073709551615, got '" + text + "'");
           a->seed = v;
         },
         "random seed")
      ->default_str("0");
  cmd->add_option("--device", a->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  cmd->add_option("--precision", a->precision,
                  "auto (bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else fp32), fp32 or bf16")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads for training (0 = all cores)")->capture_default_str();
  cmd->add_option("--blas-threads", a->blas_threads,
                  "OpenBLAS threads (0 = 1 next to a multi-threaded LibTorch for a pthreads OpenBLAS, else --threads)")
      ->capture_default_str();
  cmd->add_option("--label-noise", a->label_noise, "share of training labels replaced by a random wrong class")
      ->capture_default_str();
  cmd->add_option("--drop", a->drop, "share of training images left out (limited data)")->capture_default_str();
  cmd->add_option("--topk", a->topk, "test accuracies to report, e.g. 1,5")->capture_default_str();
  cmd->add_option("--report", a->report, "write layer diagnostics and plots (CSV + report.html) into this folder");
  cmd->add_option("--report-samples", a->report_samples, "validation images used by --report")->capture_default_str();
  cmd->add_flag("--resume", a->resume, "continue the run saved in --out (flags that change the run are errors)");
  cmd->add_flag("--force", a->force, "replace an existing --out model (without it an existing file is an error)");
  cmd->add_flag("--json", a->json_out, "print the result as one JSON object on stdout");
  cmd->add_flag("--quiet,-q", a->data_args.quiet, "no progress on stderr");
  a->data_args.add_to(cmd, true);
  cmd->add_flag("--pipeline", a->pipeline,
                "in-process pipeline: the layers in --stages stages on their own threads (stage 1)");
  cmd->add_option("--stages", a->stages,
                  "pipeline stages (0 = one per layer in-process; the world size with --parallel pipeline)")
      ->capture_default_str();
  cmd->add_option("--queue-depth", a->queue_depth, "in-process pipeline: batches queued between stages")
      ->capture_default_str();
  cmd->add_flag("--balance", a->balance, "pipeline: split the layers by their measured time, not their count");
  cmd->add_option("--parallel", a->parallel,
                  "across processes on c10d: none, pipeline, data or pipeline,data (launch with --nproc N, "
                  "torchrun or srun: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)")
      ->capture_default_str();
  cmd->add_option("--nproc", a->nproc, "start N local ranks of this command (127.0.0.1, a free port)");
  cmd->add_option("--dist-timeout", a->dist_timeout,
                  "seconds a rank waits for another before the run fails with an error")
      ->capture_default_str();
  cmd->add_flag("--stream", a->stream,
                "decode image folders every epoch on --workers threads even when the set would fit in memory "
                "(default: hold it in memory up to 2 GiB decoded)");
  return {cmd, [a, cmd] { return run(*a, *cmd); }};
}

}  // namespace cff::tool
