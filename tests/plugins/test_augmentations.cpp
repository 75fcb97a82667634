// The shipped augmentation plugin (RandAugment, color jitter, cutout) against hand-written
// float64 references of torchvision v2's semantics, op by op at fixed magnitudes.
#include <cmath>
#include <functional>

#include "cff/plugins.hpp"

#include "plugins/plugin_paths.hpp"
#include "test_util.hpp"

namespace cff::test {
namespace {

using Image = std::vector<std::vector<std::vector<double>>>;  // C x H x W

Image to_image(const torch::Tensor& t) {  // C x H x W
  const auto a = t.to(torch::kDouble).contiguous();
  Image img(size_t(a.size(0)), std::vector<std::vector<double>>(size_t(a.size(1)), std::vector<double>(size_t(a.size(2)))));
  for (int64_t c = 0; c < a.size(0); ++c)
    for (int64_t y = 0; y < a.size(1); ++y)
      for (int64_t x = 0; x < a.size(2); ++x) img[size_t(c)][size_t(y)][size_t(x)] = a[c][y][x].item<double>();
  return img;
}

torch::Tensor to_tensor(const Image& img) {
  auto t = torch::zeros({int64_t(img.size()), int64_t(img[0].size()), int64_t(img[0][0].size())}, torch::kDouble);
  for (size_t c = 0; c < img.size(); ++c)
    for (size_t y = 0; y < img[0].size(); ++y)
      for (size_t x = 0; x < img[0][0].size(); ++x) t[long(c)][long(y)][long(x)] = img[c][y][x];
  return t.to(torch::kFloat);
}

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }

// out(c, y, x) = f(c, y, x)
Image map(const Image& in, const std::function<double(size_t, size_t, size_t)>& f) {
  Image out = in;
  for (size_t c = 0; c < in.size(); ++c)
    for (size_t y = 0; y < in[0].size(); ++y)
      for (size_t x = 0; x < in[0][0].size(); ++x) out[c][y][x] = f(c, y, x);
  return out;
}

// Nearest-neighbour sample at input pixel coordinates (fx, fy), zero outside (grid_sample).
double sample(const Image& in, size_t c, double fx, double fy) {
  const double ix = std::nearbyint(fx), iy = std::nearbyint(fy);
  const double h = double(in[0].size()), w = double(in[0][0].size());
  if (ix < 0 || iy < 0 || ix >= w || iy >= h) return 0.0;
  return in[c][size_t(iy)][size_t(ix)];
}

double gray(const Image& in, size_t y, size_t x) { return 0.2989 * in[0][y][x] + 0.587 * in[1][y][x] + 0.114 * in[2][y][x]; }

// Reference ops (the sign already applied to the magnitude).
Image ref_op(const std::string& op, const Image& in, double mag) {
  const double h = double(in[0].size()), w = double(in[0][0].size());
  if (op == "identity") return in;
  if (op == "shear_x") return map(in, [&](size_t c, size_t y, size_t x) { return sample(in, c, double(x) + mag * (double(y) + 0.5), double(y)); });
  if (op == "shear_y") return map(in, [&](size_t c, size_t y, size_t x) { return sample(in, c, double(x), double(y) + mag * (double(x) + 0.5)); });
  if (op == "translate_x") return map(in, [&](size_t c, size_t y, size_t x) { return sample(in, c, double(x) - std::trunc(mag), double(y)); });
  if (op == "translate_y") return map(in, [&](size_t c, size_t y, size_t x) { return sample(in, c, double(x), double(y) - std::trunc(mag)); });
  if (op == "rotate")
    return map(in, [&](size_t c, size_t y, size_t x) {
      const double r = -mag * M_PI / 180, xc = double(x) - (w - 1) / 2, yc = double(y) - (h - 1) / 2;
      return sample(in, c, std::cos(r) * xc + std::sin(r) * yc + (w - 1) / 2, -std::sin(r) * xc + std::cos(r) * yc + (h - 1) / 2);
    });
  if (op == "brightness") return map(in, [&](size_t c, size_t y, size_t x) { return clamp01(in[c][y][x] * (1 + mag)); });
  if (op == "color")
    return map(in, [&](size_t c, size_t y, size_t x) { return clamp01((1 + mag) * in[c][y][x] - mag * gray(in, y, x)); });
  if (op == "contrast") {
    double mean = 0;
    for (size_t y = 0; y < in[0].size(); ++y)
      for (size_t x = 0; x < in[0][0].size(); ++x) mean += in.size() == 3 ? gray(in, y, x) : in[0][y][x];
    mean /= h * w;
    return map(in, [&](size_t c, size_t y, size_t x) { return clamp01((1 + mag) * in[c][y][x] - mag * mean); });
  }
  if (op == "sharpness")
    return map(in, [&](size_t c, size_t y, size_t x) {
      if (y == 0 || x == 0 || double(y) == h - 1 || double(x) == w - 1) return in[c][y][x];
      double blur = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) blur += in[c][y + size_t(dy)][x + size_t(dx)] * (dy == 0 && dx == 0 ? 5.0 : 1.0) / 13.0;
      return clamp01(in[c][y][x] + (-mag) * (blur - in[c][y][x]));
    });
  if (op == "posterize") {
    const double levels = std::pow(2.0, mag);
    return map(in, [&](size_t c, size_t y, size_t x) { return std::min(std::floor(in[c][y][x] * levels), levels - 1) / levels; });
  }
  if (op == "solarize") return map(in, [&](size_t c, size_t y, size_t x) { return in[c][y][x] >= mag ? 1 - in[c][y][x] : in[c][y][x]; });
  if (op == "autocontrast") {
    Image out = in;
    for (size_t c = 0; c < in.size(); ++c) {
      double lo = 1e9, hi = -1e9;
      for (const auto& row : in[c])
        for (double v : row) lo = std::min(lo, v), hi = std::max(hi, v);
      for (size_t y = 0; y < in[0].size(); ++y)
        for (size_t x = 0; x < in[0][0].size(); ++x)
          out[c][y][x] = hi == lo ? in[c][y][x] : clamp01((in[c][y][x] - lo) / (hi - lo));
    }
    return out;
  }
  if (op == "equalize") {  // PIL's ImageOps.equalize on x * 255.999 truncated, as torchvision v2
    Image out = in;
    for (size_t c = 0; c < in.size(); ++c) {
      std::vector<int64_t> hist(256, 0);
      // in float32, as LibTorch multiplies a float tensor by a scalar
      auto q = [&](size_t y, size_t x) { return int64_t(float(in[c][y][x]) * float(255.0 + 1.0 - 1e-3)); };
      for (size_t y = 0; y < in[0].size(); ++y)
        for (size_t x = 0; x < in[0][0].size(); ++x) ++hist[size_t(q(y, x))];
      int64_t last = 0, total = 0;
      for (size_t i = 0; i < 256; ++i)
        if (hist[i]) last = hist[i], total += hist[i];
      const int64_t step = (total - last) / 255;
      std::vector<int64_t> lut(256, 0);
      int64_t cum = 0;
      for (size_t i = 0; i < 256; ++i) {
        lut[i] = step ? std::min<int64_t>(255, (cum + step / 2) / step) : int64_t(i);
        cum += hist[i];
      }
      for (size_t y = 0; y < in[0].size(); ++y)
        for (size_t x = 0; x < in[0][0].size(); ++x) out[c][y][x] = double(lut[size_t(q(y, x))]) / 255.0;
    }
    return out;
  }
  ADD_FAILURE() << "no reference for " << op;
  return in;
}

class AugmentationPluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { load_plugin(shipped_plugin("augment")); }
};

struct OpCase {
  std::string op;
  int64_t m;
  double magnitude;  // torchvision's magnitude at bin m (of 31), before the random sign
  bool is_signed;
  int64_t channels, size;
};

TEST_F(AugmentationPluginTest, EveryRandAugmentOpMatchesItsReference) {
  const OpCase cases[] = {
      {"identity", 14, 0, false, 1, 5},       {"shear_x", 30, 0.3, true, 1, 5},
      {"shear_y", 30, 0.3, true, 1, 5},       {"translate_x", 30, 150.0 / 331.0 * 5, true, 1, 5},
      {"translate_y", 30, 150.0 / 331.0 * 5, true, 1, 5}, {"rotate", 15, 15, true, 1, 5},
      {"brightness", 10, 0.3, true, 3, 4},    {"color", 10, 0.3, true, 3, 4},
      {"contrast", 10, 0.3, true, 3, 4},      {"contrast", 20, 0.6, true, 1, 4},
      {"sharpness", 20, 0.6, true, 3, 5},     {"posterize", 30, 4, false, 3, 4},
      {"posterize", 0, 8, false, 1, 4},       {"solarize", 15, 0.5, false, 3, 4},
      {"autocontrast", 0, 0, false, 3, 4},    {"equalize", 0, 0, false, 3, 32},
  };
  for (const auto& k : cases) {
    AugmentPipeline pipeline("randaugment:n=1,m=" + std::to_string(k.m) + ",ops=" + k.op);
    auto gen = at::detail::createCPUGenerator(uint64_t(k.m) + 11);
    const auto x = torch::rand({6, k.channels, k.size, k.size}, gen) * 0.8 + 0.1;
    bool saw_plus = false, saw_minus = false;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const auto y = pipeline.apply(x, seed);
      ASSERT_EQ(y.sizes(), x.sizes());
      for (int64_t i = 0; i < x.size(0); ++i) {
        const auto in = to_image(x[i]);
        const auto plus = to_tensor(ref_op(k.op, in, k.magnitude));
        const auto minus = to_tensor(ref_op(k.op, in, -k.magnitude));
        const bool p = torch::allclose(y[i], plus, 1e-5, 1e-5), m = k.is_signed && torch::allclose(y[i], minus, 1e-5, 1e-5);
        saw_plus |= p;
        saw_minus |= m;
        EXPECT_TRUE(p || m) << k.op << " m=" << k.m << " image " << i << "\ngot\n" << y[i] << "\nexpected\n" << plus
                            << (k.is_signed ? "\nor\n" : "") << (k.is_signed ? minus : torch::Tensor());
      }
    }
    EXPECT_TRUE(saw_plus) << k.op;
    if (k.is_signed && k.magnitude != 0) EXPECT_TRUE(saw_minus) << k.op << ": the sign is never flipped";
  }
}

TEST_F(AugmentationPluginTest, RandAugmentIsSeededAndPerImage) {
  AugmentPipeline pipeline("randaugment:n=3,m=14");
  const auto x = torch::rand({16, 3, 8, 8});
  const auto a = pipeline.apply(x, 1), b = pipeline.apply(x, 1), c = pipeline.apply(x, 2);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GE(a.min().item<double>(), 0.0);
  EXPECT_LE(a.max().item<double>(), 1.0);
  // identical images get different ops: the choice is per image
  const auto same = torch::rand({1, 3, 8, 8}).repeat({8, 1, 1, 1});
  const auto out = pipeline.apply(same, 3);
  EXPECT_FALSE(torch::equal(out[0], out[1]) && torch::equal(out[1], out[2]) && torch::equal(out[2], out[3]));
}

TEST_F(AugmentationPluginTest, RandAugmentRejectsBadParameters) {
  expect_error([] { AugmentPipeline("randaugment:m=31"); }, ErrorCode::kInvalidArgument, "m must be in 0..30");
  expect_error([] { AugmentPipeline("randaugment:ops=blur"); }, ErrorCode::kInvalidArgument, "unknown op 'blur'");
  expect_error([] { AugmentPipeline("randaugment:n=two"); }, ErrorCode::kInvalidArgument, "parameter n must be an integer");
}

TEST_F(AugmentationPluginTest, ColorJitterBrightnessScalesAndHueKeepsValueAndGray) {
  const auto x = torch::rand({8, 3, 4, 4}) * 0.5;
  const auto y = AugmentPipeline("colorjitter:brightness=0.5,contrast=0,saturation=0,hue=0").apply(x, 4);
  for (int64_t i = 0; i < 8; ++i) {
    const auto ratio = y[i] / x[i];
    EXPECT_NEAR(ratio.max().item<double>(), ratio.min().item<double>(), 1e-4);
    EXPECT_GE(ratio.min().item<double>(), 0.5 - 1e-5);
    EXPECT_LE(ratio.max().item<double>(), 1.5 + 1e-5);
  }
  AugmentPipeline hue("colorjitter:brightness=0,contrast=0,saturation=0,hue=0.5");
  const auto gray_img = torch::rand({4, 1, 4, 4}).repeat({1, 3, 1, 1});
  EXPECT_TRUE(torch::allclose(hue.apply(gray_img, 1), gray_img, 1e-5, 1e-6));
  const auto colored = torch::rand({4, 3, 4, 4});
  const auto shifted = hue.apply(colored, 1);
  EXPECT_FALSE(torch::allclose(shifted, colored, 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(std::get<0>(shifted.max(1)), std::get<0>(colored.max(1)), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(std::get<0>(shifted.min(1)), std::get<0>(colored.min(1)), 1e-5, 1e-5));
}

TEST_F(AugmentationPluginTest, CutoutZeroesOneClippedSquare) {
  const auto x = torch::ones({32, 1, 8, 8});
  const auto y = AugmentPipeline("cutout:size=3").apply(x, 5);
  for (int64_t i = 0; i < 32; ++i) {
    const auto zero = y[i][0].eq(0);
    const int64_t count = zero.sum().item<int64_t>();
    EXPECT_GE(count, 4);
    EXPECT_LE(count, 9);
    const auto rows = zero.any(1).sum().item<int64_t>(), cols = zero.any(0).sum().item<int64_t>();
    EXPECT_EQ(rows * cols, count) << "not a rectangle";
  }
  EXPECT_TRUE(torch::equal(AugmentPipeline("cutout:p=0").apply(x, 5), x));
  EXPECT_TRUE(torch::equal(y, AugmentPipeline("cutout:size=3").apply(x, 5)));
}

TEST_F(AugmentationPluginTest, SampleCNoiseAugmentation) {
  load_plugin(sample_plugin("gaussian_noise"));
  const auto x = torch::full({4, 1, 16, 16}, 0.5);
  const auto y = AugmentPipeline("gaussian-noise:sigma=0.1").apply(x, 3);
  EXPECT_NEAR((y - x).std().item<double>(), 0.1, 0.02);
  EXPECT_NEAR((y - x).mean().item<double>(), 0.0, 0.02);
  EXPECT_TRUE(torch::equal(y, AugmentPipeline("gaussian-noise:sigma=0.1").apply(x, 3)));
}

}  // namespace
}  // namespace cff::test
