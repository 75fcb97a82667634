// Built-in augmentations: exact geometry, seeding, and independence of the two views.
#include "test_util.hpp"

namespace cff {
namespace {

class AugmentTest : public ::testing::Test {};

TEST_F(AugmentTest, FlipMirrorsExactlyTheChosenImages) {
  const auto x = torch::rand({64, 2, 5, 7});
  const auto y = HorizontalFlip(0.5).apply(x, 11);
  int flipped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const bool same = torch::equal(y[i], x[i]), mirrored = torch::equal(y[i], x[i].flip({2}));
    EXPECT_TRUE(same || mirrored);
    flipped += mirrored && !same;
  }
  EXPECT_GT(flipped, 10);
  EXPECT_LT(flipped, 54);
  EXPECT_TRUE(torch::equal(HorizontalFlip(1.0).apply(x, 3), x.flip({3})));
  EXPECT_TRUE(torch::equal(HorizontalFlip(0.0).apply(x, 3), x));
}

TEST_F(AugmentTest, CropIsAWindowOfTheZeroPaddedImage) {
  const auto x = torch::rand({16, 3, 6, 5}) + 0.5;  // no zeros inside the image
  const int64_t p = 2;
  const auto y = RandomCrop(p).apply(x, 5);
  const auto padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
  for (int64_t i = 0; i < 16; ++i) {
    bool found = false;
    for (int64_t dy = 0; dy <= 2 * p && !found; ++dy)
      for (int64_t dx = 0; dx <= 2 * p && !found; ++dx)
        found = torch::equal(y[i], padded[i].narrow(1, dy, 6).narrow(2, dx, 5));
    EXPECT_TRUE(found) << "image " << i;
  }
}

// Fuzz finding (fuzz_spec, tests/fuzz/regressions/fuzz_spec-crop-padding-overflow): a padding of
// 2e53 saturated to INT64_MAX in the parameter parser, then 2 * padding overflowed (UBSan).
// Integer parameters now parse strictly and the padding is bounded.
TEST_F(AugmentTest, CropPaddingIsParsedStrictlyAndBounded) {
  test::expect_error([] { AugmentPipeline("crop:padding=200000000000000000000000000000"); },
                     ErrorCode::kInvalidArgument, "parameter padding must be a 64-bit integer");
  test::expect_error([] { AugmentPipeline("crop:padding=9223372036854775807"); }, ErrorCode::kInvalidArgument,
                     "crop: padding must be in 0..64");
  test::expect_error([] { AugmentPipeline("crop:padding=4.0"); }, ErrorCode::kInvalidArgument,
                     "must be a 64-bit integer, got '4.0'");
  EXPECT_NO_THROW(AugmentPipeline("crop:padding=64"));
}

TEST_F(AugmentTest, SeedsAreReproducibleAndViewsIndependent) {
  const auto x = torch::rand({32, 1, 8, 8});
  AugmentPipeline pipe("crop:padding=2+hflip");
  EXPECT_TRUE(torch::equal(pipe.apply(x, 42), pipe.apply(x, 42)));
  EXPECT_FALSE(torch::equal(pipe.apply(x, 42), pipe.apply(x, 43)));
  EXPECT_TRUE(AugmentPipeline("none").empty());
  test::expect_error([] { AugmentPipeline("crop:padding=-1"); }, ErrorCode::kInvalidArgument, "padding must be in 0..64, got -1");
  test::expect_error([] { AugmentPipeline("blur"); }, ErrorCode::kInvalidArgument, "unknown augmentation 'blur'");

  // The trainer draws a fresh seed per view: two CFF views of one batch differ.
  Config c = test::tiny_vit();
  c.train.augment = "crop:padding=2+hflip";
  Trainer trainer(c);
  const auto data = test::blobs(32, 4, 1, 8, 8, 2);
  const auto batch = trainer.prepare(data.images, data.labels);
  ASSERT_EQ(batch.streams.size(), 2u);
  EXPECT_FALSE(torch::equal(batch.streams[0], batch.streams[1]));
}

}  // namespace
}  // namespace cff
