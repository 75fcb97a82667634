// Layer diagnostics, the report files, and the PyTorch exports (state dict, TorchScript).
#include <torch/script.h>

#include <fstream>

#include "data_util.hpp"

namespace cff::test {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class DiagnosticsTest : public ::testing::Test {
 protected:
  TempDir dir;
};

TEST_F(DiagnosticsTest, SeparatedClassesScoreHigherAfterTraining) {
  const auto data = blobs(256, 4, 1, 8, 8, 1, 0.3);
  auto config = tiny_mlp(4);
  config.model.class_names = {"w", "x", "y", "z"};
  Trainer trainer(config);
  const auto before = diagnose(trainer, data);
  trainer.fit(data);
  const auto after = diagnose(trainer, data);
  ASSERT_EQ(after.layers.size(), 2u);
  EXPECT_EQ(after.samples, 256);
  EXPECT_EQ(after.class_names, config.model.class_names);
  for (const auto& d : after.layers) {
    EXPECT_TRUE(std::isfinite(d.fisher));
    EXPECT_GT(d.cos_same, d.cos_diff);
    EXPECT_GE(d.band_share, 0.0);
    EXPECT_LE(d.band_share, 1.0);
    EXPECT_EQ(d.projection.sizes(), (std::vector<int64_t>{256, 2}));
    EXPECT_GE(d.explained[0], d.explained[1]);
  }
  EXPECT_GT(after.layers.back().fisher, before.layers.back().fisher);
  // CFF+M linear schedule 0.4 -> 0.1 over 2 layers.
  EXPECT_NEAR(after.layers[0].margin, 0.4, 1e-9);
  EXPECT_NEAR(after.layers[1].margin, 0.1, 1e-9);
}

TEST_F(DiagnosticsTest, RidgeAndSampleLimit) {
  // S_W + lambda I grows with lambda, so tr((S_W + lambda I)^-1 S_B) can only fall.
  const auto data = blobs(128, 3, 1, 8, 8, 2);
  Trainer trainer(tiny_mlp(3));
  DiagnosticsOptions small, large;
  small.ridge = 1e-4;
  large.ridge = 1.0;
  EXPECT_GE(diagnose(trainer, data, small).layers[0].fisher, diagnose(trainer, data, large).layers[0].fisher);
  DiagnosticsOptions few;
  few.max_samples = 50;
  EXPECT_EQ(diagnose(trainer, data, few).samples, 50);
}

TEST_F(DiagnosticsTest, ReportFilesParse) {
  const auto data = blobs(96, 3, 1, 8, 8, 3);
  auto config = tiny_mlp(3);
  config.model.class_names = {"a<b", "c,d", "e"};
  Trainer trainer(config);
  trainer.fit(data);
  const auto diag = diagnose(trainer, data);
  const auto out = dir.file("report");
  write_report(out, diag, trainer.history(), config, "test report");
  const auto layers = slurp(out + "/layers.csv");
  EXPECT_EQ(layers.rfind("layer,fisher,margin,band_share,cos_same,cos_diff", 0), 0u);
  EXPECT_EQ(std::count(layers.begin(), layers.end(), '\n'), 3);  // header + 2 layers
  const auto history = slurp(out + "/history.csv");
  // 2 stage-1 epochs x 2 layers + 3 head epochs, plus the header.
  EXPECT_EQ(std::count(history.begin(), history.end(), '\n'), 1 + 4 + 3);
  const auto proj = slurp(out + "/projection.csv");
  EXPECT_EQ(std::count(proj.begin(), proj.end(), '\n'), 1 + 2 * 96);
  EXPECT_NE(proj.find("\"c,d\""), std::string::npos);
  const auto html = slurp(out + "/report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(std::count(html.begin(), html.end(), '<') - std::count(html.begin(), html.end(), '>'), 0);
  size_t svgs = 0;
  for (size_t p = 0; (p = html.find("<svg", p)) != std::string::npos; ++p) ++svgs;
  EXPECT_EQ(svgs, 2u + 3u + 2u);  // two loss plots, three per-layer plots, two PCA plots
  EXPECT_NE(html.find("a&lt;b"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external resources
  EXPECT_EQ(html.find("<script"), std::string::npos);
  for (const auto& e : std::filesystem::directory_iterator(out))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

TEST_F(DiagnosticsTest, ExportedStateDictLoadsBack) {
  auto config = tiny_vit(3);
  Trainer trainer(config);
  const auto path = dir.file("model.pt");
  export_state_dict(trainer, path);
  const auto loaded = load_state_dict(path);
  const auto expected = trainer.named_tensors();
  ASSERT_EQ(loaded.size(), expected.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].first, expected[i].first);
    EXPECT_TRUE(torch::equal(loaded[i].second, expected[i].second)) << loaded[i].first;
  }
  std::set<std::string> names;
  for (const auto& [n, t] : loaded) names.insert(n);
  EXPECT_TRUE(names.count("encoder.layers.0.embed.weight")) << *names.begin();
  EXPECT_TRUE(names.count("encoder.layers.1.attn.qkv.weight"));
  EXPECT_TRUE(names.count("head.fc.weight"));
  EXPECT_TRUE(names.count("head.norm.weight"));
  EXPECT_TRUE(names.count("input.mean"));
  // A zip archive as torch.save writes it (PK header).
  const auto bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 'P');
  EXPECT_EQ(bytes[1], 'K');
  write_bytes(dir.file("junk.pt"), {1, 2, 3});
  expect_error([&] { load_state_dict(dir.file("junk.pt")); }, ErrorCode::kFormat, "junk.pt: not a pickled state dict");
}

// The TorchScript module computes what Trainer::predict computes, for every architecture,
// pooling and algorithm whose prediction is one pass (FF through its one-pass head), from uint8
// and from float images, after training has moved the weights and the input statistics.
TEST_F(DiagnosticsTest, TorchScriptExportPredictsLikeTheTrainer) {
  struct Case {
    const char* name;
    Config config;
  };
  std::vector<Case> cases;
  cases.push_back({"mlp cff", tiny_mlp(3)});
  cases.push_back({"vit cff", tiny_vit(3)});
  Config cls = tiny_vit(3);
  cls.model.pooling = Pooling::kClassToken;
  cases.push_back({"vit cls", cls});
  Config ff = tiny_mlp(3);
  ff.train.algorithm = Algorithm::kForwardForward;
  cases.push_back({"mlp ff", ff});
  Config vff = tiny_vit(3);
  vff.train.algorithm = Algorithm::kForwardForward;
  vff.model.num_layers = 3;
  cases.push_back({"vit ff", vff});
  Config bp = tiny_mlp(3);
  bp.train.algorithm = Algorithm::kBackprop;
  cases.push_back({"mlp bp", bp});
  const auto data = blobs(96, 3, 1, 8, 8, 5);
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    c.config.train.epochs = 1;
    c.config.train.head_epochs = 1;
    Trainer trainer(c.config);
    trainer.fit(data);
    trainer.set_ff_prediction(FFPrediction::kHead);
    const auto path = dir.file(std::string(c.name) + ".ts");
    export_torchscript(trainer, path);
    auto module = torch::jit::load(path);
    const auto images = data.images.narrow(0, 0, 17);
    const auto expected = trainer.predict(images);
    for (const auto& input : {images, images.to(torch::kFloat).div(255.0)}) {
      const auto logits = module.forward({input}).toTensor();
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{17, 3}));
      EXPECT_TRUE(torch::allclose(torch::softmax(logits, 1), expected.scores, 1e-4, 1e-5))
          << (torch::softmax(logits, 1) - expected.scores).abs().max().item<double>();
      EXPECT_TRUE(torch::equal(logits.argmax(1), expected.labels));
    }
  }
}

}  // namespace
}  // namespace cff::test
