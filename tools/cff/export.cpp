// cff export MODEL OUT: the weights as a state dict plain PyTorch reads with torch.load(OUT).
#include <cstdio>

#include "common.hpp"

namespace cff::tool {
namespace {

struct ExportArgs {
  std::string model, out;
  bool json_out = false;
};

int run(const ExportArgs& a) {
  auto trainer = Trainer::load(a.model, "cpu");
  export_state_dict(trainer, a.out);
  json tensors = json::array();
  for (const auto& [name, t] : trainer.named_tensors()) tensors.push_back({{"name", name}, {"shape", t.sizes().vec()}});
  if (a.json_out) {
    std::printf("%s\n", json({{"out", a.out}, {"tensors", tensors}}).dump().c_str());
  } else {
    for (const auto& t : tensors) std::printf("%s %s\n", t["name"].get<std::string>().c_str(), t["shape"].dump().c_str());
    std::printf("state dict written to %s (load with torch.load)\n", a.out.c_str());
  }
  return 0;
}

}  // namespace

Command add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "write MODEL's weights as a PyTorch state dict (torch.load)");
  cmd->add_option("MODEL", a->model, "model file")->required();
  cmd->add_option("OUT", a->out, "file to write, e.g. model.pt")->required();
  cmd->add_flag("--json", a->json_out, "one JSON object on stdout (file name and tensor shapes)");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
