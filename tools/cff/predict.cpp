// cff predict MODEL IMAGE|DIR...: one line per image: path, class name, score (top-k with --topk).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common.hpp"

namespace cff::tool {
namespace fs = std::filesystem;
namespace {

struct PredictArgs {
  std::string model, device;
  std::vector<std::string> inputs;
  int64_t topk = 1, batch = 256;
  bool json_out = false;
  DataArgs data_args;
};

// Files named on the command line, and every file below a named folder (sorted, no dot-files).
std::vector<std::string> expand(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    CFF_CHECK_CODE(fs::exists(in), ErrorCode::kIo, in, ": no such file or folder");
    if (!fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(in); it != fs::recursive_directory_iterator(); ++it) {
      if (it->path().filename().string().rfind('.', 0) == 0) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

int run(const PredictArgs& a) {
  auto trainer = Trainer::load(a.model, a.device);
  const Config c = trainer.config();
  CFF_CHECK(a.topk >= 1 && a.topk <= c.model.num_classes, "--topk must be in 1..", c.model.num_classes);
  const auto opts = a.data_args.folder_options(&c);
  const auto files = expand(a.inputs);
  CFF_CHECK(!files.empty(), "no image files given");
  json predictions = json::array(), skipped = json::array();
  int64_t failed = 0;
  for (size_t start = 0; start < files.size(); start += size_t(a.batch)) {
    std::vector<torch::Tensor> images;
    std::vector<std::string> paths;
    for (size_t i = start; i < std::min(files.size(), start + size_t(a.batch)); ++i) {
      try {
        images.push_back(read_image(files[i], opts.channels, opts.height, opts.width, opts.resize));
        paths.push_back(files[i]);
      } catch (const Error& e) {
        if (opts.bad_files == BadFilePolicy::kFail) throw;
        ++failed;
        skipped.push_back(e.what());
        if (!a.data_args.quiet) std::fprintf(stderr, "cff: skipping %s\n", e.what());
      }
    }
    if (images.empty()) continue;
    const auto p = trainer.predict(torch::stack(images), a.topk);
    const auto scores = p.scores.to(torch::kCPU), topk = p.topk.to(torch::kCPU);
    for (size_t i = 0; i < paths.size(); ++i) {
      json entry = {{"path", paths[i]}}, top = json::array();
      std::string line = paths[i];
      for (int64_t k = 0; k < a.topk; ++k) {
        const int64_t label = topk[int64_t(i)][k].item<int64_t>();
        const double score = scores[int64_t(i)][label].item<double>();
        const auto name = class_name(c, label);
        top.push_back({{"label", label}, {"class", name}, {"score", score}});
        char buf[64];
        std::snprintf(buf, sizeof buf, "\t%.4f", score);
        line += "\t" + name + buf;
      }
      entry["label"] = top[0]["label"];
      entry["class"] = top[0]["class"];
      entry["score"] = top[0]["score"];
      if (a.topk > 1) entry["topk"] = top;
      if (a.json_out) predictions.push_back(entry);
      else std::printf("%s\n", line.c_str());
    }
  }
  if (a.json_out)  // paths that are not UTF-8 are printed with U+FFFD, not an exception
    std::printf("%s\n", json({{"predictions", predictions}, {"skipped", skipped}})
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
  else if (failed > 0 && !a.data_args.quiet) std::fprintf(stderr, "%lld file%s skipped\n", (long long)failed, failed == 1 ? "" : "s");
  CFF_CHECK_CODE(failed < int64_t(files.size()), ErrorCode::kFormat, "no readable image among ", files.size(),
                 " file(s)");
  return 0;
}

}  // namespace

Command add_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", "classify images: one line per image (path, class, score)");
  cmd->add_option("MODEL", a->model, "model file")->required();
  cmd->add_option("IMAGE", a->inputs, "image files or folders (searched recursively)")->required();
  cmd->add_option("--topk", a->topk, "classes per image, by decreasing score")->capture_default_str();
  cmd->add_option("--batch", a->batch, "images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--device", a->device, "override the saved device");
  cmd->add_option("--resize", a->data_args.resize, "crop (scale to cover, cut the centre), stretch, or none")
      ->capture_default_str();
  cmd->add_option("--bad-files", a->data_args.bad_files, "unreadable/non-image files: skip or fail")
      ->capture_default_str();
  cmd->add_flag("--json", a->json_out, "one JSON object on stdout");
  cmd->add_flag("--quiet,-q", a->data_args.quiet, "no messages on stderr");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
