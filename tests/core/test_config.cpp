// Config validation and its JSON round trip.
#include "test_util.hpp"

namespace cff {
namespace {

class ConfigTest : public ::testing::Test {};

TEST_F(ConfigTest, BadConfigsGiveClearErrors) {
  auto expect_bad = [](auto mutate, const std::string& part) {
    Config c = test::tiny_vit();
    mutate(c);
    test::expect_error([&] { Trainer t(c); }, ErrorCode::kInvalidArgument, part);
  };
  expect_bad([](Config& c) { c.model.num_heads = 3; }, "embed_dim 16 is not divisible by num_heads 3");
  expect_bad([](Config& c) { c.model.num_layers = 0; }, "num_layers must be >= 1");
  expect_bad([](Config& c) { c.train.lr = -0.1; }, "lr must be > 0");
  expect_bad([](Config& c) { c.train.head_lr = std::nan(""); }, "head_lr must be > 0");
  expect_bad([](Config& c) { c.train.views = 3; }, "views must be 1 or 2");
  expect_bad([](Config& c) { c.train.batch_size = 1; }, "batch_size must be >= 2");
  expect_bad([](Config& c) { c.train.val_fraction = 1.0; }, "val_fraction");
  expect_bad([](Config& c) { c.train.blas_threads = -1; }, "blas_threads must be >= 0");
  expect_bad([](Config& c) { c.train.device = "tpu"; }, "unknown device 'tpu'");
  expect_bad([](Config& c) { c.train.loss = "ff"; }, "needs positive/negative passes");
  expect_bad([](Config& c) {
    c.train.algorithm = Algorithm::kForwardForward;
    c.train.loss = "mcl";
  }, "needs augmented views");
}

TEST_F(ConfigTest, JsonRoundTripAndStrictParsing) {
  Config c = test::tiny_vit(7);
  c.train.algorithm = Algorithm::kForwardForward;
  c.train.precision = Precision::kBFloat16;
  c.train.mean = {0.25};
  c.train.std = {0.5};
  c.model.pooling = Pooling::kClassToken;
  c.train.lr_schedule = LrSchedule::kConstant;
  c.train.blas_threads = 3;
  const Config back = Config::from_json(c.to_json());
  EXPECT_EQ(Config().schedule(), LrSchedule::kConstant);  // auto: no decay (short stages starve)
  EXPECT_EQ(back.schedule(), LrSchedule::kConstant);
  Config cosine;
  cosine.train.lr_schedule = LrSchedule::kCosine;
  EXPECT_EQ(cosine.schedule(), LrSchedule::kCosine);
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(Config::from_json("{}").to_json(), Config().to_json());
  test::expect_error([] { Config::from_json("{\"model\": {\"layers\": 3}}"); }, ErrorCode::kInvalidArgument,
                     "unknown key model.layers");
  test::expect_error([] { Config::from_json("{\"train\": {\"lr\": \"fast\"}}"); }, ErrorCode::kInvalidArgument,
                     "train.lr has the wrong type");
  test::expect_error([] { Config::from_json("{\"model\": {\"arch\": \"cnn\"}}"); }, ErrorCode::kInvalidArgument,
                     "model.arch must be one of mlp, vit");
  test::expect_error([] { Config::from_json("{\"train\": {\"lr_schedule\": \"step\"}}"); },
                     ErrorCode::kInvalidArgument, "train.lr_schedule must be one of auto, constant, cosine");
  test::expect_error([] { Config::from_json("{"); }, ErrorCode::kInvalidArgument, "not valid JSON");
}

TEST(ConfigEnumTest, FromStringInvertsToString) {
  for (auto v : {Architecture::kMlp, Architecture::kVit}) EXPECT_EQ(from_string<Architecture>(to_string(v), "x"), v);
  for (auto v : {Algorithm::kContrastive, Algorithm::kForwardForward, Algorithm::kBackprop})
    EXPECT_EQ(from_string<Algorithm>(to_string(v), "x"), v);
  for (auto v : {Precision::kFloat32, Precision::kBFloat16, Precision::kAuto})
    EXPECT_EQ(from_string<Precision>(to_string(v), "x"), v);
  for (auto v : {Pooling::kMean, Pooling::kClassToken}) EXPECT_EQ(from_string<Pooling>(to_string(v), "x"), v);
  for (auto v : {LrSchedule::kAuto, LrSchedule::kConstant, LrSchedule::kCosine})
    EXPECT_EQ(from_string<LrSchedule>(to_string(v), "x"), v);
  for (auto v : {FFPrediction::kGoodness, FFPrediction::kHead})
    EXPECT_EQ(from_string<FFPrediction>(to_string(v), "x"), v);
  test::expect_error([] { from_string<Precision>("fp16", "--precision"); }, ErrorCode::kInvalidArgument,
                     "--precision must be one of fp32, bf16, auto, got 'fp16'");
}

TEST(ConfigMergeTest, JsonPatchesAndInputShapeKeepTheConfigConsistent) {
  Config c;
  c.train.mean = {0.5};
  c.train.std = {0.25};
  const Config merged = c.merged_with_json(R"({"model": {"embed_dim": 64}, "train": {"lr": 0.01}})");
  EXPECT_EQ(merged.model.embed_dim, 64);
  EXPECT_EQ(merged.train.lr, 0.01);
  EXPECT_EQ(merged.train.mean, c.train.mean);  // untouched keys are kept
  EXPECT_EQ(c.model.embed_dim, 500);           // the original is unchanged
  test::expect_error([&] { c.merged_with_json("{\"model\": {\"embed\": 1}}"); }, ErrorCode::kInvalidArgument,
                     "unknown key model.embed");
  c.set_input_shape(1, 32, 32);
  EXPECT_EQ(c.train.mean.size(), 1u);  // still one value per channel
  c.set_input_shape(3, 32, 32);
  EXPECT_TRUE(c.train.mean.empty() && c.train.std.empty());
  EXPECT_EQ(c.model.channels, 3);
}

TEST(ConfigLimitsTest, NumbersParseStrictlyAndSizesAreBounded) {
  test::expect_error([] { Config::from_json("{\"model\": {\"embed_dim\": 64.7}}"); }, ErrorCode::kInvalidArgument,
                     "model.embed_dim must be an integer, got 64.7");
  // Fuzz finding (fuzz_config, tests/fuzz/regressions/fuzz_config-number-overflow): a number that
  // overflows a double escaped as nlohmann's out_of_range instead of a cff::Error.
  test::expect_error([] { Config::from_json("{\"model\":  8888e8888888888888}"); }, ErrorCode::kInvalidArgument,
                     "config: not valid JSON ([json.exception.out_of_range.406] number overflow");
  test::expect_error([] { Config::from_json("{\"train\": {\"seed\": -1}}"); }, ErrorCode::kInvalidArgument,
                     "train.seed must be a non-negative integer, got -1");
  test::expect_error([] { Config::from_json("{\"train\": {\"epochs\": 18446744073709551615}}"); },
                     ErrorCode::kInvalidArgument, "train.epochs must be an integer");
  Config c;
  c.train.std = {1e-320};
  c.train.mean = {0.5};
  test::expect_error([&] { c.validate(); }, ErrorCode::kInvalidArgument, "std values must be >= 1e-06");
  c.train.std = {0.3};
  c.validate();
  c.model.embed_dim = 2000000;
  test::expect_error([&] { c.validate(); }, ErrorCode::kInvalidArgument,
                     "above the limit of 1073741824 (--max-parameters)");
  c.model.embed_dim = int64_t(1) << 40;
  test::expect_error([&] { c.validate(); }, ErrorCode::kInvalidArgument, "embed_dim must be <= 16777216");
  // The count matches the model that is built.
  Config small;
  small.model.embed_dim = 8;
  small.model.num_layers = 2;
  for (auto arch : {Architecture::kMlp, Architecture::kVit})
    for (auto algo : {Algorithm::kContrastive, Algorithm::kForwardForward}) {
      small.model.arch = arch;
      small.model.num_heads = 2;
      small.train.algorithm = algo;
      small.train.threads = 1;
      Trainer t(small);
      int64_t n = 0;
      for (const auto& [name, tensor] : t.named_tensors())
        if (name.rfind("input.", 0) != 0) n += tensor.numel();
      EXPECT_EQ(small.parameter_count(), n) << to_string(arch) << " " << to_string(algo);
    }
}

}  // namespace
}  // namespace cff
