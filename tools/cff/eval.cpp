// cff eval MODEL DATA: top-1 / top-k accuracy on DATA's test part (or all of DATA without one).
#include <cstdio>

#include "common.hpp"

namespace cff::tool {
namespace {

struct EvalArgs : ModelDataArgs {
  std::string topk = "1", ff;
};

int run(const EvalArgs& a) {
  auto trainer = Trainer::load(a.model, a.device);
  if (!a.ff.empty()) trainer.set_ff_prediction(from_string<FFPrediction>(a.ff, "--ff-predict"));
  const std::string part = a.chosen_part();
  const Config config = trainer.config();
  const auto test = load_all(*open_part(a.data, part, a.data_args, &config), a.data_args);
  const auto e = trainer.evaluate(test, parse_ks(a.topk));
  if (a.json_out) {
    auto out = evaluation_json(e);
    out["part"] = part;
    std::printf("%s\n", out.dump().c_str());
  } else {
    for (const auto& [k, v] : e.topk)
      std::printf("top-%lld accuracy: %.2f%% (%lld images)\n", (long long)k, 100 * v, (long long)e.count);
  }
  return 0;
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "top-1 / top-k accuracy of MODEL on DATA (its test part if it has one)");
  a->add_to(cmd);
  cmd->add_option("--topk", a->topk, "comma-separated k values")->capture_default_str();
  cmd->add_option("--ff-predict", a->ff, "FF models: goodness or head");
  return {cmd, [a] { return run(*a); }};
}

}  // namespace cff::tool
