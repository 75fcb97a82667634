// Shared pieces of the cff subcommands.
#include "common.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace cff::tool {
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop = true; }

void DataArgs::add_to(CLI::App* cmd, bool loader) {
  cmd->add_option("--channels", channels,
                  "image folders: 1 (gray), 3 (RGB) or 4 (RGBA); 0 = 1 if every image is gray, else 3")
      ->capture_default_str()
      ->check(CLI::IsMember({int64_t(0), int64_t(1), int64_t(3), int64_t(4)}));
  cmd->add_option("--size", size, "image folders: target size N or HxW (default: the first image's)");
  cmd->add_option("--resize", resize,
                  "image folders: crop (scale to cover, cut the centre), stretch, or none (sizes must match)")
      ->capture_default_str();
  cmd->add_option("--bad-files", bad_files, "unreadable/non-image files: skip (reported, counted) or fail")
      ->capture_default_str();
  cmd->add_option("--workers", workers, "threads decoding images ahead of the training step")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1024)));
  if (loader) {
    cmd->add_option("--prefetch", prefetch, "batches decoded ahead at most")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(1), int64_t(1024)));
    cmd->add_flag("--in-memory", in_memory, "decode the whole training set into memory before training");
  }
}

void ModelDataArgs::add_to(CLI::App* cmd) {
  cmd->add_option("MODEL", model, "model file")->required();
  cmd->add_option("DATA", data, "an image folder, an IDX folder or a CIFAR binary folder")->required();
  cmd->add_option("--part", part, "train or test (default: test if DATA has a test part, else all of DATA)");
  cmd->add_option("--device", device, "override the saved device");
  cmd->add_flag("--json", json_out, "one JSON object on stdout");
  cmd->add_flag("--quiet,-q", data_args.quiet, "no messages on stderr");
  data_args.add_to(cmd, false);
}

std::string ModelDataArgs::chosen_part() const { return part.empty() ? eval_part(data) : part; }

ImageFolderOptions DataArgs::folder_options(const Config* model) const {
  ImageFolderOptions o;
  o.channels = channels;
  if (!size.empty()) {
    const auto x = size.find('x');
    const int64_t side = int64_t(1) << 16;
    o.height = parse_int(size.substr(0, x), 1, side, "--size (N or HxW)");
    o.width = x == std::string::npos ? o.height : parse_int(size.substr(x + 1), 1, side, "--size (N or HxW)");
  }
  if (resize == "crop") o.resize = ResizeMode::kCrop;
  else if (resize == "stretch") o.resize = ResizeMode::kStretch;
  else if (resize == "none") o.resize = ResizeMode::kNone;
  else CFF_CHECK(false, "--resize must be crop, stretch or none, got '", resize, "'");
  CFF_CHECK(bad_files == "skip" || bad_files == "fail", "--bad-files must be skip or fail, got '", bad_files, "'");
  o.bad_files = bad_files == "skip" ? BadFilePolicy::kSkip : BadFilePolicy::kFail;
  CFF_CHECK(workers >= 0, "--workers must be >= 0");
  o.workers = std::max<int64_t>(1, workers);
  o.report_skipped = !quiet;
  if (model) {
    o.channels = model->model.channels;
    o.height = model->model.height;
    o.width = model->model.width;
    o.class_names = model->model.class_names;
    if (o.class_names.empty())
      for (int64_t c = 0; c < model->model.num_classes; ++c) o.class_names.push_back(std::to_string(c));
  }
  return o;
}

std::shared_ptr<ImageSource> open_part(const std::string& data, const std::string& part, const DataArgs& args,
                                       const Config* model) {
  return open_data(data, part, args.folder_options(model));
}

Dataset load_all(const ImageSource& source, const DataArgs& args) {
  auto d = to_dataset(source, std::max<int64_t>(1, args.workers));
  report_skipped(source, args.quiet);
  CFF_CHECK_CODE(d.size() > 0, ErrorCode::kFormat, "no readable images");
  return d;
}

std::string eval_part(const std::string& data) { return has_test_part(data) ? "test" : "train"; }

void report_skipped(const ImageSource& source, bool quiet) {
  const auto bad = source.bad_files();
  if (bad.empty() || quiet) return;
  std::fprintf(stderr, "%zu file%s skipped (unreadable or not an image)\n", bad.size(), bad.size() == 1 ? "" : "s");
}

int64_t parse_int(const std::string& text, int64_t lo, int64_t hi, const std::string& what) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  CFF_CHECK(!text.empty() && ec == std::errc() && ptr == end && v >= lo && v <= hi, what, ": expected a whole number in ",
            lo, "..", hi, ", got '", text, "'");
  return v;
}

void add_limit_options(CLI::App& app, InputLimits& limits) {
  auto add = [&](const char* name, int64_t& value, const char* what) {
    app.add_option_function<std::string>(
           name,
           [&value, name](const std::string& s) {
             try {
               value = parse_int(s, 1, INT64_MAX, name);
             } catch (const Error& e) {
               throw CLI::ValidationError(e.what());
             }
           },
           what)
        ->default_str(std::to_string(value));
  };
  add("--max-image-pixels", limits.max_image_pixels, "refuse images declaring more pixels (width x height)");
  add("--max-file-size", limits.max_file_bytes, "refuse input files longer than this many bytes");
  add("--max-data-size", limits.max_data_bytes, "refuse data sets decoding to more bytes (IDX, CIFAR, in memory)");
  add("--max-parameters", limits.max_parameters, "refuse model configs with more weights");
}

std::vector<int64_t> parse_ks(const std::string& text) {
  std::vector<int64_t> ks;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    ks.push_back(parse_int(part, 1, int64_t(1) << 24, "--topk (a comma-separated list of k)"));
  }
  CFF_CHECK(!ks.empty(), "--topk: empty list");
  return ks;
}

json evaluation_json(const Evaluation& e) {
  json topk = json::object();
  for (const auto& [k, v] : e.topk) topk[std::to_string(k)] = v;
  return {{"top1", e.top1()}, {"topk", topk}, {"count", e.count}};
}

std::string class_name(const Config& config, int64_t c) {
  const auto& names = config.model.class_names;
  return c >= 0 && size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
}

// ---- progress ---------------------------------------------------------------------------------------

ProgressPrinter::ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {}

void ProgressPrinter::batch(const Progress& p) {
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
  for (double l : p.losses) {
    if (std::isnan(l))
      line << " -";  // a layer another rank trains
    else
      line << " " << l;
  }
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

void ProgressPrinter::epoch(const EpochRecord& r) {
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
  note(line.str());
}

void ProgressPrinter::note(const std::string& text) {
  if (quiet_) return;
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", text.c_str());
}

}  // namespace cff::tool
