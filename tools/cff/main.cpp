// cff: train, evaluate, predict with and inspect layer-local models from the command line.
// A thin program over libcff's public C++ API; one file per subcommand (add_<name> in
// common.hpp). Progress goes to stderr; results to stdout (one JSON object with --json). Exit
// code 0 on success, 1 with a one-line reason otherwise, 130 when training is interrupted (the
// last completed epoch stays saved; --resume continues).
#include <cstdio>

#include "common.hpp"

int main(int argc, char** argv) {
  using namespace cff::tool;
  CLI::App app{"cff: layer-local training (Contrastive Forward-Forward and baselines)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cff ") + cff::version() + " (LibTorch " + cff::torch_version() + ")");

  app.fallthrough();  // subcommands pass options they do not know (--plugin) up to the app
  std::vector<std::string> plugins;
  add_plugin_option(app, plugins);
  const std::vector<Command> commands = {add_train(app), add_eval(app),   add_predict(app), add_inspect(app),
                                         add_info(app),  add_export(app), add_plugins(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    load_plugins(plugins);
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::fprintf(stderr, "cff: error: %s\n", msg.substr(0, msg.find('\n')).c_str());
    return 1;
  }
  return 1;
}
