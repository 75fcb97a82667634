// cff plugins: every loss and augmentation, built-in or plugin, with parameters and origin; the
// plugin search path; files that failed to load. Also the --plugin option every subcommand takes.
#include <cstdio>

#include "cff/plugins.hpp"
#include "common.hpp"

namespace cff::tool {
namespace {

json provider_json(const ProviderInfo& p) {
  json params = json::array();
  for (const auto& q : p.params)
    params.push_back({{"name", q.name}, {"default", q.default_value}, {"description", q.description}});
  return {{"name", p.name}, {"description", p.description}, {"origin", p.origin}, {"params", params}};
}

int run(bool json_out) {
  const auto listing = list_providers();
  const auto& report = discover_plugins();
  if (json_out) {
    json out = {{"losses", json::array()},
                {"augmentations", json::array()},
                {"search_path", plugin_search_path()},
                {"failed", json::array()},
                {"plugin_abi_version", plugin_abi_version()}};
    for (const auto& p : listing.losses) out["losses"].push_back(provider_json(p));
    for (const auto& p : listing.augmentations) out["augmentations"].push_back(provider_json(p));
    for (const auto& [file, why] : report.failed) out["failed"].push_back({{"file", file}, {"error", why}});
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  auto print = [](const char* title, const std::vector<ProviderInfo>& providers) {
    std::printf("%s:\n", title);
    for (const auto& p : providers) {
      std::printf("  %-14s %s  [%s]\n", p.name.c_str(), p.description.c_str(), p.origin.c_str());
      for (const auto& q : p.params)
        std::printf("      %s=%s  %s\n", q.name.c_str(), q.default_value.c_str(), q.description.c_str());
    }
  };
  print("losses (--loss NAME:key=value,...)", listing.losses);
  print("augmentations (--augment NAME:key=value,...+NAME...)", listing.augmentations);
  std::printf("plugin search path (CFF_PLUGIN_PATH, then the installed folder):\n");
  for (const auto& d : plugin_search_path()) std::printf("  %s\n", d.c_str());
  for (const auto& [file, why] : report.failed) std::printf("failed to load: %s\n", why.c_str());
  return 0;
}

}  // namespace

void add_plugin_option(CLI::App& app, std::vector<std::string>& paths) {
  // On the top-level app with fallthrough, so `cff SUBCOMMAND ... --plugin X` works everywhere.
  app.add_option("--plugin", paths, "load a plugin (shared library) before running; repeatable");
}

void load_plugins(const std::vector<std::string>& paths) {
  for (const auto& p : paths) load_plugin(p);
}

Command add_plugins(CLI::App& app) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("plugins", "list every loss and augmentation, built-in or plugin, with parameters");
  cmd->add_flag("--json", *json_out, "one JSON object on stdout");
  return {cmd, [json_out] { return run(*json_out); }};
}

}  // namespace cff::tool
