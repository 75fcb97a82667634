// Loading, validation, discovery and lifetime of plugins: every refusal is a cff::Error naming
// the file and the problem, and the host keeps running.
#include <set>

#include "cff/plugins.hpp"

#include "plugins/plugin_paths.hpp"
#include "test_util.hpp"

namespace cff::test {
namespace {

LossBatch views_batch(int64_t n = 8, int64_t d = 5) {
  torch::manual_seed(1);
  return {{torch::randn({n, d}, torch::requires_grad()), torch::randn({n, d}, torch::requires_grad())},
          torch::arange(n, torch::kLong).remainder(3)};
}

TEST(PluginLoader, LoadsACPluginAndListsItsProviders) {
  const auto info = load_plugin(sample_plugin("cosine_margin"));
  EXPECT_EQ(info.kind, "c");
  ASSERT_EQ(info.losses.size(), 1u);
  EXPECT_EQ(info.losses[0].name, "cosine-margin");
  EXPECT_EQ(info.losses[0].origin, info.path);
  ASSERT_EQ(info.losses[0].params.size(), 1u);
  EXPECT_EQ(info.losses[0].params[0].default_value, "0.2");
  // loading the same file again is a no-op returning the same info
  EXPECT_EQ(load_plugin(sample_plugin("cosine_margin")).path, info.path);
  const auto listing = list_providers();
  auto has = [](const std::vector<ProviderInfo>& v, const std::string& name, const std::string& origin) {
    for (const auto& p : v)
      if (p.name == name) return origin.empty() || p.origin == origin;
    return false;
  };
  EXPECT_TRUE(has(listing.losses, "cosine-margin", info.path));
  EXPECT_TRUE(has(listing.losses, "supcon", "built-in"));
  EXPECT_TRUE(has(listing.augmentations, "hflip", "built-in"));
}

TEST(PluginLoader, ShippedPluginsAreDiscoveredNextToLibcff) {
  const auto& report = discover_plugins();
  for (const auto& [file, why] : report.failed) ADD_FAILURE() << file << ": " << why;
  const auto listing = list_providers();
  std::set<std::string> losses, augments;
  for (const auto& p : listing.losses) losses.insert(p.name);
  for (const auto& p : listing.augmentations) augments.insert(p.name);
  for (const char* name : {"supcon", "mcl", "ff", "symba", "supcon-c", "mcl-c"}) EXPECT_TRUE(losses.count(name)) << name;
  for (const char* name : {"crop", "hflip", "randaugment", "colorjitter", "cutout"}) EXPECT_TRUE(augments.count(name)) << name;
  // a spec resolves to a plugin provider exactly like a built-in
  AugmentPipeline pipeline("hflip+randaugment:n=3,m=14");
  EXPECT_FALSE(pipeline.empty());
}

TEST(PluginLoader, RefusesAWrongAbiVersion) {
  expect_error([] { load_plugin(broken_plugin("abi")); }, ErrorCode::kPlugin, "plugin ABI version 999");
  expect_error([] { load_plugin(broken_plugin("abi")); }, ErrorCode::kPlugin, "broken_abi.so");
}

TEST(PluginLoader, RefusesAMissingAbiVersion) {
  expect_error([] { load_plugin(broken_plugin("no_abi")); }, ErrorCode::kPlugin, "declares no plugin ABI version");
}

TEST(PluginLoader, RefusesAMissingEntrySymbol) {
  expect_error([] { load_plugin(broken_plugin("no_symbol")); }, ErrorCode::kPlugin,
               "broken_no_symbol.so: does not export cff_plugin_describe");
}

TEST(PluginLoader, RefusesADuplicateName) {
  expect_error([] { load_plugin(broken_plugin("duplicate")); }, ErrorCode::kPlugin,
               "duplicate loss name 'supcon': already registered by built-in");
  // all or nothing: the plugin's other provider was not registered either
  EXPECT_FALSE(augment_registry().contains("broken-duplicate-aug"));
}

TEST(PluginLoader, RefusesATextFileNamedSo) {
  expect_error([] { load_plugin(std::string(CFF_TEST_BROKEN_DIR) + "/not_a_library.so"); }, ErrorCode::kPlugin,
               "not_a_library.so: not a loadable shared library");
  // dlerror's reason, without Boost.DLL's prefix and its stale errno text (": Bad file descriptor")
  try {
    load_plugin(std::string(CFF_TEST_BROKEN_DIR) + "/not_a_library.so");
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find("Bad file descriptor"), std::string::npos) << what;
    EXPECT_EQ(what.find("boost::dll"), std::string::npos) << what;
  }
}

TEST(PluginLoader, RefusesAMissingFile) {
  expect_error([] { load_plugin("/nonexistent/plugin.so"); }, ErrorCode::kPlugin, "/nonexistent/plugin.so: no such file");
}

TEST(PluginLoader, RefusesADefaultThatDoesNotParse) {
  expect_error([] { load_plugin(broken_plugin("bad_default")); }, ErrorCode::kInvalidArgument,
               "the default of parameter 'scale' ('abc') is not a number");
}

TEST(PluginLoader, RefusesACxxPluginBuiltAgainstAnotherLibcff) {
  expect_error([] { load_plugin(broken_plugin("cxx_version")); }, ErrorCode::kPlugin,
               "is a C++ plugin built against libcff '0.0.0'");
}

TEST(PluginRecord, ModelsRememberTheirPluginsAndNameThemWhenMissing) {
  const auto path = load_plugin(sample_plugin("cosine_margin")).path;
  Config c = tiny_mlp(2);
  c.train.loss = "cosine-margin";
  c.train.augment = "hflip";
  const Config trained = Trainer(c).config();
  ASSERT_EQ(trained.train.plugins.size(), 1u);  // hflip is built in: not recorded
  const PluginRef ref = trained.train.plugins[0];
  EXPECT_EQ(ref.file, "libcff-plugin-cosine_margin.so");
  EXPECT_EQ(ref.provider, "cosine-margin");
  EXPECT_EQ(ref.kind, "loss");
  EXPECT_EQ(ref.hash.size(), 16u);
  EXPECT_EQ(Config::from_json(trained.to_json()).train.plugins[0].hash, ref.hash);  // checkpoints keep it

  // A file that differs from the recorded one is used, with a warning.
  std::vector<std::string> warnings;
  set_log_handler([&](LogLevel, const std::string& m) { warnings.push_back(m); });
  Config changed = trained;
  changed.train.plugins[0].hash = "0000000000000000";
  EXPECT_NO_THROW(Trainer t(changed));
  set_log_handler(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("differs from the libcff-plugin-cosine_margin.so the model was trained with"),
            std::string::npos) << warnings[0];

  // Not loaded and not on the discovery path: the error names the file and how to provide it.
  ASSERT_TRUE(unload_plugin(path));
  expect_error([&] { Trainer t(trained); }, ErrorCode::kPlugin,
               "the model was trained with plugin libcff-plugin-cosine_margin.so (loss 'cosine-margin'), which is not "
               "loaded: load it (cff --plugin PATH");
  load_plugin(path);
  EXPECT_NO_THROW(Trainer t(trained));
}

TEST(PluginLoader, RefusesParametersThatDoNotParse) {
  const auto path = load_plugin(sample_plugin("cosine_margin")).path;
  expect_error([] { make_loss("cosine-margin:margin=abc", {}); }, ErrorCode::kInvalidArgument,
               "parameter margin must be a finite number, got 'abc'");
  expect_error([] { make_loss("cosine-margin:margin=abc", {}); }, ErrorCode::kInvalidArgument, path);
  expect_error([] { make_loss("cosine-margin:width=1", {}); }, ErrorCode::kInvalidArgument, "has no parameter 'width'");
  // the plugin's own check, reported through its message buffer
  expect_error([] { make_loss("cosine-margin:margin=3", {}); }, ErrorCode::kPlugin, "margin must be in (-1, 1), got 3");
}

TEST(PluginLoader, ReportsAFailingCall) {
  load_plugin(broken_plugin("fail"));
  auto loss = make_loss("broken-fail-loss", {});
  expect_error([&] { loss->forward(views_batch()); }, ErrorCode::kPlugin,
               "broken_fail.so: loss 'broken-fail-loss' failed (status 3): deliberate failure on 8 rows");
  AugmentPipeline pipeline("broken-fail-aug");
  expect_error([&] { pipeline.apply(torch::rand({2, 1, 4, 4}), 1); }, ErrorCode::kPlugin,
               "augmentation 'broken-fail-aug' failed (status 5): deliberate augmentation failure");
  load_plugin(broken_plugin("create_fail"));
  expect_error([] { AugmentPipeline("broken-create-fail-aug"); }, ErrorCode::kPlugin,
               "create failed (status 4): cannot create");
}

TEST(PluginLoader, RefusesANonFiniteLoss) {
  load_plugin(broken_plugin("nan"));
  auto loss = make_loss("broken-nan-loss", {});
  expect_error([&] { loss->forward(views_batch()); }, ErrorCode::kPlugin, "returned a non-finite loss (nan)");
  AugmentPipeline pipeline("broken-nan-aug");
  expect_error([&] { pipeline.apply(torch::rand({2, 1, 4, 4}), 1); }, ErrorCode::kPlugin, "wrote non-finite pixels");
}

TEST(PluginLoader, RefusesANonFiniteGradient) {
  load_plugin(broken_plugin("nan_grad"));
  auto loss = make_loss("broken-nan-grad-loss", {});
  expect_error([&] { loss->forward(views_batch()); }, ErrorCode::kPlugin, "returned a non-finite gradient");
}

TEST(PluginLoader, RefusesAGradientOfTheWrongSize) {
  load_plugin(broken_plugin("grad_size"));
  auto loss = make_loss("broken-grad-size-loss", {});
  expect_error([&] { loss->forward(views_batch(8, 5)); }, ErrorCode::kPlugin,
               "returned a gradient of 75 floats, expected 2 x 8 x 5 = 80");
  // without a gradient to compute (validation), the size is not checked
  torch::NoGradGuard no_grad;
  EXPECT_NO_THROW(loss->forward(views_batch(8, 5)));
}

TEST(PluginLoader, DetectsAWritePastTheGradientBuffer) {
  load_plugin(broken_plugin("overflow"));
  auto loss = make_loss("broken-overflow-loss", {});
  expect_error([&] { loss->forward(views_batch()); }, ErrorCode::kPlugin,
               "wrote past the end of its gradient buffer (80 floats)");
  AugmentPipeline pipeline("broken-overflow-aug");
  expect_error([&] { pipeline.apply(torch::rand({2, 1, 4, 4}), 1); }, ErrorCode::kPlugin,
               "wrote past the end of its output buffer (32 floats)");
}

TEST(PluginLoader, ObjectsKeepTheLibraryLoadedAfterUnload) {
  const auto path = load_plugin(sample_plugin("gaussian_noise")).path;
  AugmentPipeline pipeline("gaussian-noise:sigma=0.1");
  EXPECT_TRUE(unload_plugin(path));
  EXPECT_FALSE(augment_registry().contains("gaussian-noise"));
  expect_error([] { AugmentPipeline("gaussian-noise"); }, ErrorCode::kInvalidArgument, "unknown augmentation");
  // the pipeline's object still runs code from the library
  const auto x = torch::full({2, 1, 4, 4}, 0.5);
  const auto y = pipeline.apply(x, 7);
  EXPECT_GT((y - x).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(y, pipeline.apply(x, 7)));  // seeded
  // and it can be loaded again
  EXPECT_EQ(load_plugin(path).augmentations.at(0).name, "gaussian-noise");
}

TEST(PluginLoader, LoadsACxxPlugin) {
  const auto info = load_plugin(sample_plugin("cosine_margin_cpp"));
  EXPECT_EQ(info.kind, "c++");
  auto loss = make_loss("cosine-margin-cpp:margin=0.1", {});
  EXPECT_EQ(loss->inputs(), LossInputs::kViews);
  // a C++ plugin's exception comes back as a cff::Error naming the file
  expect_error([] { make_loss("cosine-margin-cpp:margin=5", {}); }, ErrorCode::kInvalidArgument,
               "cosine_margin_cpp.so: loss 'cosine-margin-cpp': cosine-margin-cpp: margin must be in (-1, 1)");
}

TEST(PluginLoader, SearchPathHasTheInstalledFolder) {
  const auto path = plugin_search_path();
  ASSERT_FALSE(path.empty());
  EXPECT_NE(path.back().find("cff/plugins"), std::string::npos);
  EXPECT_EQ(plugin_abi_version(), 2);
}

}  // namespace
}  // namespace cff::test
