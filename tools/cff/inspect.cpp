// cff inspect MODEL DATA: per-layer diagnostics (Fisher criterion, margin band, cosine by class
// relation, PCA) on DATA's test part; --report DIR writes the CSV files and report.html.
#include <cstdio>
#include <filesystem>

#include "common.hpp"

namespace cff::tool {
namespace {

struct InspectArgs : ModelDataArgs {
  std::string report;
  int64_t samples = 2000;
  double ridge = 1e-3;
};

int run(const InspectArgs& a) {
  auto trainer = Trainer::load(a.model, a.device);
  const Config c = trainer.config();
  const std::string part = a.chosen_part();
  auto source = open_part(a.data, part, a.data_args, &c);
  // A seeded sample of the part, so that every class appears when the data is sorted by class.
  auto order = split_indices(source->size(), 0.0, c.train.seed).first;
  order.resize(std::min<size_t>(order.size(), size_t(std::max<int64_t>(2, a.samples))));
  const auto data = load_all(SubsetSource(source, order), a.data_args);
  DiagnosticsOptions opts;
  opts.max_samples = a.samples;
  opts.ridge = a.ridge;
  const auto diag = diagnose(trainer, data, opts);
  if (!a.report.empty())
    write_report(a.report, diag, trainer.history(), c,
                 "cff report: " + std::filesystem::path(a.model).filename().string());
  if (a.json_out) {
    json layers = json::array();
    for (const auto& d : diag.layers)
      layers.push_back({{"layer", d.layer + 1},
                        {"fisher", d.fisher},
                        {"margin", d.margin},
                        {"band_share", d.band_share},
                        {"cos_same", d.cos_same},
                        {"cos_diff", d.cos_diff},
                        {"pca_explained", {d.explained[0], d.explained[1]}}});
    json out = {{"samples", diag.samples}, {"ridge", diag.ridge}, {"part", part}, {"layers", layers}};
    if (!a.report.empty()) out["report"] = a.report;
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%lld images from %s (%s part); ridge %g\n", (long long)diag.samples, a.data.c_str(), part.c_str(),
                diag.ridge);
    std::printf("layer  fisher      margin  band    cos_same  cos_diff  pca_var\n");
    for (const auto& d : diag.layers)
      std::printf("%5lld  %-10.4g  %6.3f  %6.4f  %8.4f  %8.4f  %.3f %.3f\n", (long long)d.layer + 1, d.fisher,
                  d.margin, d.band_share, d.cos_same, d.cos_diff, d.explained[0], d.explained[1]);
    if (!a.report.empty()) std::printf("report written to %s/report.html\n", a.report.c_str());
  }
  return 0;
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "per-layer diagnostics of MODEL on DATA (and --report DIR)");
  a->add_to(cmd);
  cmd->add_option("--samples", a->samples, "images used (a seeded sample)")->capture_default_str();
  cmd->add_option("--ridge", a->ridge, "ridge on S_W, relative to tr(S_W)/D")->capture_default_str();
  cmd->add_option("--report", a->report, "write CSV files and report.html into this folder");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
