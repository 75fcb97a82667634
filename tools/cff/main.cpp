// cff: train, evaluate, predict with and inspect layer-local models from the command line.
// A thin program over libcff's public C++ API; one file per subcommand (add_<name> in
// common.hpp). Progress goes to stderr; results to stdout (one JSON object with --json). Exit
// code 0 on success, 1 with a one-line reason otherwise, 130 when training is interrupted (the
// last completed epoch stays saved; --resume continues).
#include <cstdio>
#include <new>

#include "common.hpp"
#include "launch.hpp"

int main(int argc, char** argv) {
  using namespace cff::tool;
  g_argv.assign(argv, argv + argc);
  CLI::App app{"cff: layer-local training (Contrastive Forward-Forward and baselines)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cff ") + cff::version() + " (LibTorch " + cff::torch_version() + ")");

  app.fallthrough();  // subcommands pass options they do not know (--plugin) up to the app
  std::vector<std::string> plugins;
  add_plugin_option(app, plugins);
  cff::InputLimits limits = cff::input_limits();
  add_limit_options(app, limits);
  const std::vector<Command> commands = {add_train(app), add_eval(app),   add_predict(app), add_inspect(app),
                                         add_info(app),  add_export(app), add_plugins(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A usage error is an error like any other: one line, exit code 1 (not CLI11's 101..114).
    std::string msg = e.what();
    std::fprintf(stderr, "cff: error: %s (cff --help)\n", msg.substr(0, msg.find('\n')).c_str());
    return 1;
  }
  // The library prints nothing by itself: its messages (skipped files, ...) come here.
  cff::set_log_handler([](cff::LogLevel level, const std::string& message) {
    if (level >= cff::LogLevel::kInfo)
      std::fprintf(stderr, "cff: %s%s\n", level >= cff::LogLevel::kWarning ? "" : "note: ", message.c_str());
  });
  try {
    cff::set_input_limits(limits);
    load_plugins(plugins);
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "cff: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // Ranks started by --nproc: an error every rank meets alike (a bad option, a model too small
    // for the world) is printed by rank 0 alone; one naming its rank ("rank 2: ...") by that rank.
    if (!is_reporting_rank() && msg.rfind("rank ", 0) != 0) return 1;
    std::fprintf(stderr, "cff: error: %s\n", msg.substr(0, msg.find('\n')).c_str());
    return 1;
  }
  return 1;
}
