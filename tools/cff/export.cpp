// cff export MODEL OUT [--format state-dict|torchscript]: the weights as a state dict plain
// PyTorch reads with torch.load(OUT), or the whole predictor as a TorchScript module
// (torch.jit.load(OUT)(images) -> logits).
#include <cstdio>

#include "common.hpp"

namespace cff::tool {
namespace {

struct ExportArgs {
  std::string model, out, format = "state-dict";
  bool json_out = false;
};

int run(const ExportArgs& a) {
  auto trainer = Trainer::load(a.model, "cpu");
  const bool script = a.format == "torchscript";
  if (script)
    export_torchscript(trainer, a.out);
  else
    export_state_dict(trainer, a.out);
  json tensors = json::array();
  for (const auto& [name, t] : trainer.named_tensors()) tensors.push_back({{"name", name}, {"shape", t.sizes().vec()}});
  if (a.json_out) {
    std::printf("%s\n", json({{"out", a.out}, {"format", a.format}, {"tensors", tensors}}).dump().c_str());
  } else {
    for (const auto& t : tensors) std::printf("%s %s\n", t["name"].get<std::string>().c_str(), t["shape"].dump().c_str());
    if (script)
      std::printf("TorchScript module written to %s (torch.jit.load(path)(images) gives the logits)\n", a.out.c_str());
    else
      std::printf("state dict written to %s (load with torch.load)\n", a.out.c_str());
  }
  return 0;
}

}  // namespace

Command add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "write MODEL as a PyTorch state dict (torch.load) or TorchScript module");
  cmd->add_option("MODEL", a->model, "model file")->required();
  cmd->add_option("OUT", a->out, "file to write, e.g. model.pt")->required();
  cmd->add_option("--format", a->format, "state-dict (the weights, torch.load) or torchscript (the predictor, "
                                         "torch.jit.load: images in, logits out)")
      ->check(CLI::IsMember({"state-dict", "torchscript"}));
  cmd->add_flag("--json", a->json_out, "one JSON object on stdout (file name and tensor shapes)");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
