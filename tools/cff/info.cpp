// cff info MODEL: the model's config (class names included) and training history.
#include <cstdio>

#include "common.hpp"

namespace cff::tool {
namespace {

struct InfoArgs {
  std::string model;
  bool json_out = false;
};

int run(const InfoArgs& a) {
  auto trainer = Trainer::load(a.model, "cpu");
  json history = json::array();
  for (const auto& r : trainer.history())
    history.push_back({{"stage", r.stage}, {"epoch", r.epoch}, {"train_loss", r.train_loss},
                       {"val_loss", r.val_loss}, {"seconds", r.seconds}, {"best", r.best}});
  json out = {{"config", json::parse(trainer.config().to_json())}, {"history", history}};
  std::printf("%s\n", a.json_out ? out.dump().c_str() : out.dump(2).c_str());
  return 0;
}

}  // namespace

Command add_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "print a model's config and training history");
  cmd->add_option("MODEL", a->model, "model file")->required();
  cmd->add_flag("--json", a->json_out, "compact JSON");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
