// Shapes of MLP and ViT layers for odd inputs, pooling variants, FF label inputs, and the
// layer-locality of training (no gradient crosses a layer).
#include "test_util.hpp"

namespace cff {
namespace {

class ModelTest : public ::testing::Test {};

TEST_F(ModelTest, VitHandlesNonSquareImagesAndChannelCounts) {
  for (int64_t channels : {1, 3}) {
    ModelOptions o;
    o.arch = Architecture::kVit;
    o.embed_dim = 12;
    o.num_heads = 3;
    o.num_layers = 3;
    o.patch_size = 4;
    o.channels = channels;
    o.height = 8;
    o.width = 12;
    Network net(o, false);
    net->reset_parameters(1);
    auto x = net->encode_input(torch::randn({5, channels, 8, 12}));
    EXPECT_EQ(x.sizes(), torch::IntArrayRef({5, 6, channels * 16}));
    for (int64_t l = 0; l < 3; ++l) {
      x = net->forward_layer(l, x);
      EXPECT_EQ(x.sizes(), torch::IntArrayRef({5, 6, 12}));
    }
    EXPECT_EQ(net->pool(x).sizes(), torch::IntArrayRef({5, 12}));
  }
}

TEST_F(ModelTest, OneRowInferenceMatchesTheBatchedProduct) {
  // A single row without autograd takes the matrix-vector path; it must agree with the GEMM path.
  ModelOptions o;
  o.embed_dim = 50;
  o.num_layers = 2;
  Network net(o, false);
  net->reset_parameters(3);
  Head head(50, 10);
  const auto x = net->encode_input(torch::rand({2, 1, 28, 28}));
  torch::NoGradGuard no_grad;
  auto batched = x, single = x.narrow(0, 0, 1);
  for (int64_t l = 0; l < 2; ++l) {
    batched = net->forward_layer(l, batched);
    single = net->forward_layer(l, single);
  }
  EXPECT_TRUE(torch::allclose(single, batched.narrow(0, 0, 1), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(head->forward(single), head->forward(batched).narrow(0, 0, 1), 1e-5, 1e-6));
}

TEST_F(ModelTest, PatchifyKeepsEveryPixelOnce) {
  const auto img = torch::arange(2 * 3 * 4 * 8, torch::kFloat).view({2, 3, 4, 8});
  const auto p = patchify(img, 2);
  EXPECT_EQ(p.sizes(), torch::IntArrayRef({2, 8, 12}));
  // Patch (row 0, col 1), channel 1, pixel (1, 0) -> img[0][1][1][2].
  EXPECT_EQ(p[0][1][1 * 4 + 1 * 2 + 0].item<float>(), img[0][1][1][2].item<float>());
  EXPECT_TRUE(torch::equal(std::get<0>(p.flatten().sort()), std::get<0>(img.flatten().sort())));
}

TEST_F(ModelTest, ClassTokenAndFFLabelTokenArePooledCorrectly) {
  ModelOptions o;
  o.arch = Architecture::kVit;
  o.embed_dim = 8;
  o.num_heads = 2;
  o.num_layers = 2;
  o.patch_size = 4;
  o.height = o.width = 8;
  o.pooling = Pooling::kClassToken;
  Network net(o, true);  // FF label token + class token
  net->reset_parameters(3);
  auto x = net->encode_input(torch::randn({4, 1, 8, 8}), torch::tensor({0, 1, 2, -1}, torch::kLong));
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({4, 5, 16}));  // label token + 4 patches
  auto h = net->forward_layer(0, x);
  EXPECT_EQ(h.sizes(), torch::IntArrayRef({4, 6, 8}));  // + class token
  EXPECT_TRUE(torch::equal(net->pool(h), h.select(1, 1)));
  // FF normalises each sample over all of its features between layers.
  const auto next = net->between_layers(h);
  EXPECT_TRUE(torch::allclose(next.flatten(1).norm(2, 1), torch::ones({4})));
}

TEST_F(ModelTest, MlpLabelInputIsOneHotScaledToTheImageMaximum) {
  ModelOptions o;
  o.embed_dim = 6;
  o.num_layers = 1;
  o.height = o.width = 4;
  o.num_classes = 3;
  Network net(o, true);
  const auto img = torch::rand({2, 1, 4, 4});
  const auto x = net->encode_input(img, torch::tensor({2, -1}, torch::kLong));
  const auto peak0 = img[0].max().item<float>();
  EXPECT_FLOAT_EQ(x[0][2].item<float>(), peak0);
  EXPECT_FLOAT_EQ(x[0][0].item<float>(), 0.f);
  EXPECT_NEAR(x[1][0].item<float>(), img[1].max().item<float>() / 3, 1e-6);  // neutral label
  EXPECT_TRUE(torch::equal(x.narrow(1, 3, 13), img.flatten(1).narrow(1, 3, 13)));
}

TEST_F(ModelTest, PatchNotDividingTheImageIsAClearError) {
  Config c = test::tiny_vit();
  c.model.height = 10;
  test::expect_error([&] { Trainer t(c); }, ErrorCode::kInvalidArgument, "patch size 4 does not divide the image size 10x8");
}

TEST_F(ModelTest, SameSeedSameInitialisation) {
  ModelOptions o;
  Network a(o, false), b(o, false), c(o, false);
  a->reset_parameters(5);
  b->reset_parameters(5);
  c->reset_parameters(6);
  for (size_t i = 0; i < a->parameters().size(); ++i) EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i]));
  EXPECT_FALSE(torch::equal(a->parameters()[0], c->parameters()[0]));
}

// Training layer l must not change any earlier layer: no gradient crosses the boundary and no
// other optimizer steps (AdamW's weight decay would move them otherwise).
TEST_F(ModelTest, NoGradientCrossesALayer) {
  for (auto arch : {Architecture::kMlp, Architecture::kVit}) {
    Config c = arch == Architecture::kMlp ? test::tiny_mlp() : test::tiny_vit();
    c.model.num_layers = 3;
    Trainer trainer(c);
    const auto data = test::blobs(32, 4, 1, 8, 8, 1);
    auto batch = trainer.prepare(data.images, data.labels);
    trainer.train_layer(0, batch);
    const auto before0 = trainer.embed(data.images, 0);
    const auto before2 = trainer.embed(data.images, 2);
    EXPECT_FALSE(batch.streams[0].requires_grad());
    trainer.train_layer(1, batch);
    trainer.train_layer(2, batch);
    EXPECT_TRUE(torch::equal(trainer.embed(data.images, 0), before0)) << "layer 1 changed while training layers 2-3";
    EXPECT_FALSE(torch::equal(trainer.embed(data.images, 2), before2));
  }
}

}  // namespace
}  // namespace cff
