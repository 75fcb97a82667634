// The augmentations of the paper's strongest setting, shipped as a C++ plugin (loaded automatically
// from the plugin folder next to libcff): RandAugment(n, m) with torchvision v2's op set and
// magnitudes, color jitter and cutout. Every op works on LibTorch tensors on the images' device,
// one image at a time, with the random choices drawn from a generator seeded by the call's seed.
#include <array>
#include <cmath>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <cff/plugin_sdk.hpp>

namespace {
using torch::Tensor;

// torchvision v2 RandAugment's op set, in its order.
enum Op {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast, kSharpness,
  kPosterize, kSolarize, kAutoContrast, kEqualize, kNumOps
};
const char* const kOpNames[kNumOps] = {"identity",   "shear_x",  "shear_y",   "translate_x", "translate_y",
                                       "rotate",     "brightness", "color",   "contrast",    "sharpness",
                                       "posterize",  "solarize", "autocontrast", "equalize"};
using torch::indexing::Slice;

Tensor blend(const Tensor& a, const Tensor& b, double ratio) {
  return a.mul(ratio).add_(b, 1.0 - ratio).clamp_(0.0, 1.0);
}

Tensor grayscale(const Tensor& img) {  // ITU-R 601-2 luma, as torchvision: 1 x H x W
  return img[0].mul(0.2989).add_(img[1], 0.587).add_(img[2], 0.114).unsqueeze(0);
}

Tensor brightness(const Tensor& img, double f) { return img.mul(f).clamp_(0.0, 1.0); }

Tensor saturation(const Tensor& img, double f) {
  if (img.size(0) != 3) return img;  // torchvision: a 1-channel image has no saturation
  return blend(img, grayscale(img), f);
}

Tensor contrast(const Tensor& img, double f) {
  const auto mean = (img.size(0) == 3 ? grayscale(img) : img).mean();
  return blend(img, mean, f);
}

Tensor sharpness(const Tensor& img, double f) {
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2);
  if (h <= 2 || w <= 2) return img;
  const double a = 1.0 / 13.0, b = 5.0 / 13.0;
  const auto kernel = torch::tensor({a, a, a, a, b, a, a, a, a}, img.options()).view({1, 1, 3, 3}).expand({c, 1, 3, 3});
  const auto blurred = torch::nn::functional::conv2d(img.unsqueeze(0), kernel, torch::nn::functional::Conv2dFuncOptions().groups(c)).squeeze(0);
  auto out = img.clone();
  auto inner = out.index({Slice(), Slice(1, -1), Slice(1, -1)});
  inner.add_(blurred.sub(inner), 1.0 - f);  // borders keep their pixels, as torchvision
  return out.clamp_(0.0, 1.0);
}

Tensor posterize(const Tensor& img, int64_t bits) {
  const double levels = double(int64_t(1) << bits);
  return img.mul(levels).floor_().clamp_(0.0, levels - 1).mul_(1.0 / levels);
}

Tensor solarize(const Tensor& img, double threshold) { return torch::where(img >= threshold, 1.0 - img, img); }

Tensor autocontrast(const Tensor& img) {
  auto lo = img.amin({1, 2}, true);
  auto hi = img.amax({1, 2}, true);
  const auto flat = hi.eq(lo);
  auto scale = hi.sub(lo);
  lo = lo.masked_fill(flat, 0.0);
  scale = scale.masked_fill(flat, 1.0);
  return img.sub(lo).div_(scale).clamp_(0.0, 1.0);
}

Tensor equalize(const Tensor& img) {
  // torchvision v2: to uint8 (x * 255.999, truncated), PIL's histogram LUT per channel, back.
  const auto q = img.mul(255.0 + 1.0 - 1e-3).to(torch::kUInt8);
  const int64_t c = img.size(0);
  const auto flat = q.view({c, -1}).to(torch::kLong);
  auto hist = torch::zeros({c, 256}, flat.options());
  hist.scatter_add_(1, flat, torch::ones_like(flat));
  auto cum = hist.cumsum(1);
  const auto last = cum.argmax(1, true);  // the last non-zero bin
  const auto step = (flat.size(1) - hist.gather(1, last)).div(255, "floor");
  const auto valid = step.ne(0);
  const auto safe = step.clamp_min(1);
  auto lut = cum.index({Slice(), Slice(0, -1)}).add(safe.div(2, "floor")).div(safe, "floor").clamp_(0, 255);
  lut = torch::cat({torch::zeros({c, 1}, lut.options()), lut}, 1);
  const auto eq = lut.gather(1, flat).view_as(q);
  const auto out = torch::where(valid.view({c, 1, 1}), eq, q.to(torch::kLong));
  return out.to(img.scalar_type()).div_(255.0);
}

std::array<double, 6> inverse_affine(double cx, double cy, double angle_deg, double tx, double ty, double shear_x_deg,
                                     double shear_y_deg) {
  // torchvision's _get_inverse_affine_matrix (scale 1)
  const double rot = angle_deg * M_PI / 180.0, sx = shear_x_deg * M_PI / 180.0, sy = shear_y_deg * M_PI / 180.0;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

Tensor affine_nearest(const Tensor& img, const std::array<double, 6>& m) {
  // torchvision's _gen_affine_grid + grid_sample(nearest, zeros, align_corners=False)
  const int64_t h = img.size(1), w = img.size(2);
  const auto opts = img.options();
  const auto theta = torch::tensor({m[0], m[1], m[2], m[3], m[4], m[5]}, opts).view({1, 2, 3});
  auto base = torch::empty({1, h, w, 3}, opts);
  base.select(3, 0).copy_(torch::linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, w, opts));
  base.select(3, 1).copy_(torch::linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, h, opts).unsqueeze(-1));
  base.select(3, 2).fill_(1.0);
  const auto rescaled = theta.transpose(1, 2) / torch::tensor({0.5 * w, 0.5 * h}, opts);
  const auto grid = base.view({1, h * w, 3}).bmm(rescaled).view({1, h, w, 2});
  return torch::grid_sampler(img.unsqueeze(0), grid, /*nearest*/ 1, /*zeros*/ 0, false).squeeze(0);
}

Tensor shear_x(const Tensor& img, double magnitude) {  // about the top-left corner
  const double h = img.size(1), w = img.size(2);
  return affine_nearest(img, inverse_affine(-w * 0.5, -h * 0.5, 0, 0, 0, std::atan(magnitude) * 180 / M_PI, 0));
}
Tensor shear_y(const Tensor& img, double magnitude) {
  const double h = img.size(1), w = img.size(2);
  return affine_nearest(img, inverse_affine(-w * 0.5, -h * 0.5, 0, 0, 0, 0, std::atan(magnitude) * 180 / M_PI));
}
Tensor translate(const Tensor& img, int64_t dx, int64_t dy) {
  return affine_nearest(img, inverse_affine(0, 0, 0, double(dx), double(dy), 0, 0));
}
Tensor rotate(const Tensor& img, double degrees) {  // counter-clockwise about the centre
  return affine_nearest(img, inverse_affine(0, 0, -degrees, 0, 0, 0, 0));
}

Tensor rgb_to_hsv(const Tensor& img) {
  const auto r = img[0], g = img[1];
  const auto maxc = std::get<0>(img.max(0)), minc = std::get<0>(img.min(0));
  const auto eqc = maxc.eq(minc);
  const auto range = maxc - minc;
  const auto ones = torch::ones_like(maxc);
  const auto s = range / torch::where(eqc, ones, maxc);
  const auto divisor = torch::where(eqc, ones, range).unsqueeze(0);
  const auto rgbc = (maxc.unsqueeze(0) - img) / divisor;
  const auto rc = rgbc[0], gc = rgbc[1], bc = rgbc[2];
  const auto neq_r = maxc.ne(r), eq_g = maxc.eq(g);
  const auto hg = (rc + 2.0 - bc) * eq_g.logical_and(neq_r);
  const auto hr = (bc - gc) * neq_r.logical_not();
  const auto hb = (gc + 4.0 - rc) * neq_r.logical_and(eq_g.logical_not());
  const auto hue = (hr + hg + hb).mul(1.0 / 6.0).add(1.0).fmod(1.0);
  return torch::stack({hue, s, maxc}, 0);
}

Tensor hsv_to_rgb(const Tensor& hsv) {
  const auto h = hsv[0], s = hsv[1], v = hsv[2];
  const auto h6 = h * 6;
  const auto i = torch::floor(h6);
  const auto f = h6 - i;
  const auto sxf = s * f;
  const auto one_minus_s = 1.0 - s;
  const auto q = ((1.0 - sxf) * v).clamp(0.0, 1.0);
  const auto t = ((sxf + one_minus_s) * v).clamp(0.0, 1.0);
  const auto p = (one_minus_s * v).clamp(0.0, 1.0);
  const auto idx = i.to(torch::kLong).remainder(6);
  const auto vpqt = torch::stack({v, p, q, t}, 0);
  const auto table = torch::tensor({0, 2, 1, 1, 3, 0, 3, 0, 0, 2, 1, 1, 1, 1, 3, 0, 0, 2},
                                   torch::TensorOptions().dtype(torch::kLong).device(hsv.device()))
                         .view({3, 6});
  const auto select = table.index({Slice(), idx});  // 3 x H x W
  return vpqt.gather(0, select);
}

Tensor hue(const Tensor& img, double shift) {
  if (img.size(0) != 3) return img;
  auto hsv = rgb_to_hsv(img);
  hsv[0] = hsv[0].add(shift).remainder(1.0);
  return hsv_to_rgb(hsv);
}

float linspace_at(double start, double end, int64_t bins, int64_t index) {  // torch.linspace in float32
  if (bins == 1) return float(start);
  return torch::linspace(start, end, bins)[index].item<float>();
}

Tensor randaugment_op(const Tensor& img, int op, int64_t m, int64_t bins, bool negate) {
  const double sign = negate ? -1.0 : 1.0;
  const int64_t h = img.size(1), w = img.size(2);
  switch (op) {
    case kIdentity: return img;
    case kShearX: return shear_x(img, sign * linspace_at(0.0, 0.3, bins, m));
    case kShearY: return shear_y(img, sign * linspace_at(0.0, 0.3, bins, m));
    case kTranslateX: return translate(img, int64_t(sign * linspace_at(0.0, 150.0 / 331.0 * w, bins, m)), 0);
    case kTranslateY: return translate(img, 0, int64_t(sign * linspace_at(0.0, 150.0 / 331.0 * h, bins, m)));
    case kRotate: return rotate(img, sign * linspace_at(0.0, 30.0, bins, m));
    case kBrightness: return brightness(img, 1.0 + sign * linspace_at(0.0, 0.9, bins, m));
    case kColor: return saturation(img, 1.0 + sign * linspace_at(0.0, 0.9, bins, m));
    case kContrast: return contrast(img, 1.0 + sign * linspace_at(0.0, 0.9, bins, m));
    case kSharpness: return sharpness(img, 1.0 + sign * linspace_at(0.0, 0.9, bins, m));
    case kPosterize: {
      const double step = bins > 1 ? float(double(m) / ((double(bins) - 1) / 4.0)) : 0.0;
      return posterize(img, 8 - int64_t(std::nearbyint(step)));
    }
    case kSolarize: return solarize(img, linspace_at(1.0, 0.0, bins, m));
    case kAutoContrast: return autocontrast(img);
    case kEqualize: return equalize(img);
  }
  return img;
}

bool is_signed(int op) {
  return op == kShearX || op == kShearY || op == kTranslateX || op == kTranslateY || op == kRotate ||
         op == kBrightness || op == kColor || op == kContrast || op == kSharpness;
}


void check_images(const Tensor& images, const char* who) {
  CFF_CHECK(images.defined() && images.dim() == 4 && images.is_floating_point(), who,
            ": expected N x C x H x W floating-point images");
}

class RandAugment : public cff::Augmentation {
 public:
  RandAugment(int64_t n, int64_t m, int64_t bins, const std::string& ops) : n_(n), m_(m), bins_(bins) {
    if (ops == "all") {
      for (int op = 0; op < kNumOps; ++op) ops_.push_back(op);
    } else {
      size_t start = 0;
      while (start <= ops.size()) {
        const auto slash = ops.find('/', start);
        const auto name = ops.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        int found = -1;
        for (int op = 0; op < kNumOps; ++op)
          if (name == kOpNames[op]) found = op;
        CFF_CHECK(found >= 0, "randaugment: unknown op '", name, "' in ops (identity, shear_x, shear_y, translate_x, "
                  "translate_y, rotate, brightness, color, contrast, sharpness, posterize, solarize, autocontrast, "
                  "equalize, or all)");
        ops_.push_back(found);
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
    }
    CFF_CHECK(n >= 0 && n <= 64, "randaugment: n must be in 0..64, got ", n);
    CFF_CHECK(bins >= 1, "randaugment: bins must be >= 1, got ", bins);
    CFF_CHECK(m >= 0 && m < bins, "randaugment: m must be in 0..", bins - 1, ", got ", m);
  }
  Tensor apply(const Tensor& images, uint64_t seed) const override {
    check_images(images, "randaugment");
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, ops_.size() - 1);
    std::bernoulli_distribution coin(0.5);
    auto out = images.clone();
    for (int64_t i = 0; i < images.size(0); ++i) {
      auto img = images[i];
      for (int64_t k = 0; k < n_; ++k) {
        const int op = ops_[pick(rng)];
        const bool negate = is_signed(op) && coin(rng);
        img = randaugment_op(img, op, m_, bins_, negate);
      }
      out[i].copy_(img);
    }
    return out;
  }

 private:
  int64_t n_, m_, bins_;
  std::vector<int> ops_;
};

class ColorJitter : public cff::Augmentation {
 public:
  ColorJitter(double b, double c, double s, double h, double p) : b_(b), c_(c), s_(s), h_(h), p_(p) {
    CFF_CHECK(b >= 0 && c >= 0 && s >= 0, "colorjitter: brightness, contrast and saturation must be >= 0");
    CFF_CHECK(h >= 0 && h <= 0.5, "colorjitter: hue must be in [0, 0.5], got ", h);
    CFF_CHECK(p >= 0 && p <= 1, "colorjitter: p must be in [0, 1], got ", p);
  }
  Tensor apply(const Tensor& images, uint64_t seed) const override {
    check_images(images, "colorjitter");
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto factor = [&](double amount) { return std::max(0.0, 1.0 - amount) + unit(rng) * (1.0 + amount - std::max(0.0, 1.0 - amount)); };
    auto out = images.clone();
    for (int64_t i = 0; i < images.size(0); ++i) {
      if (unit(rng) >= p_) continue;
      std::array<int, 4> order = {0, 1, 2, 3};
      std::shuffle(order.begin(), order.end(), rng);  // torchvision applies the four in random order
      const double fb = factor(b_), fc = factor(c_), fs = factor(s_), fh = -h_ + unit(rng) * 2 * h_;
      auto img = images[i];
      for (int op : order) {
        if (op == 0 && b_ > 0) img = brightness(img, fb);
        if (op == 1 && c_ > 0) img = contrast(img, fc);
        if (op == 2 && s_ > 0) img = saturation(img, fs);
        if (op == 3 && h_ > 0) img = hue(img, fh);
      }
      out[i].copy_(img);
    }
    return out;
  }

 private:
  double b_, c_, s_, h_, p_;
};

class Cutout : public cff::Augmentation {
 public:
  Cutout(int64_t size, int64_t holes, double p, double fill) : size_(size), holes_(holes), p_(p), fill_(fill) {
    CFF_CHECK(size >= 1, "cutout: size must be >= 1, got ", size);
    CFF_CHECK(holes >= 1, "cutout: holes must be >= 1, got ", holes);
    CFF_CHECK(p >= 0 && p <= 1, "cutout: p must be in [0, 1], got ", p);
  }
  Tensor apply(const Tensor& images, uint64_t seed) const override {
    check_images(images, "cutout");
    const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::uniform_int_distribution<int64_t> ys(0, h - 1), xs(0, w - 1);
    auto out = images.clone();
    for (int64_t i = 0; i < n; ++i) {
      if (unit(rng) >= p_) continue;
      for (int64_t k = 0; k < holes_; ++k) {  // DeVries & Taylor: a square centred anywhere, clipped
        const int64_t cy = ys(rng), cx = xs(rng);
        const int64_t y0 = std::max<int64_t>(0, cy - size_ / 2), y1 = std::min(h, cy - size_ / 2 + size_);
        const int64_t x0 = std::max<int64_t>(0, cx - size_ / 2), x1 = std::min(w, cx - size_ / 2 + size_);
        if (y0 < y1 && x0 < x1)
          out[i].index({torch::indexing::Slice(), torch::indexing::Slice(y0, y1), torch::indexing::Slice(x0, x1)})
              .fill_(fill_);
      }
    }
    return out;
  }

 private:
  int64_t size_, holes_;
  double p_, fill_;
};

std::unique_ptr<cff::Augmentation> make_randaugment(const cff::Params& p) {
  return std::make_unique<RandAugment>(p.get_int("n"), p.get_int("m"), p.get_int("bins"), p.text("ops"));
}
std::unique_ptr<cff::Augmentation> make_colorjitter(const cff::Params& p) {
  return std::make_unique<ColorJitter>(p.get_double("brightness"), p.get_double("contrast"),
                                       p.get_double("saturation"), p.get_double("hue"), p.get_double("p"));
}
std::unique_ptr<cff::Augmentation> make_cutout(const cff::Params& p) {
  return std::make_unique<Cutout>(p.get_int("size"), p.get_int("holes"), p.get_double("p"), p.get_double("fill"));
}

const cff_plugin_param kRandAugmentParams[] = {
    {"n", CFF_PLUGIN_PARAM_INTEGER, "2", "ops per image (the paper's strongest setting: 3)"},
    {"m", CFF_PLUGIN_PARAM_INTEGER, "9", "magnitude bin, 0..bins-1 (the paper: 14)"},
    {"bins", CFF_PLUGIN_PARAM_INTEGER, "31", "number of magnitude bins (torchvision's num_magnitude_bins)"},
    {"ops", CFF_PLUGIN_PARAM_STRING, "all", "the op set: all, or names joined by '/' (e.g. rotate/equalize)"},
};
const cff_plugin_param kColorJitterParams[] = {
    {"brightness", CFF_PLUGIN_PARAM_NUMBER, "0.4", "factor drawn from [max(0, 1-b), 1+b]"},
    {"contrast", CFF_PLUGIN_PARAM_NUMBER, "0.4", "factor drawn from [max(0, 1-c), 1+c]"},
    {"saturation", CFF_PLUGIN_PARAM_NUMBER, "0.4", "factor drawn from [max(0, 1-s), 1+s]"},
    {"hue", CFF_PLUGIN_PARAM_NUMBER, "0.1", "hue shift drawn from [-hue, hue], at most 0.5"},
    {"p", CFF_PLUGIN_PARAM_NUMBER, "1", "probability of jittering an image"},
};
const cff_plugin_param kCutoutParams[] = {
    {"size", CFF_PLUGIN_PARAM_INTEGER, "8", "side of the square, in pixels"},
    {"holes", CFF_PLUGIN_PARAM_INTEGER, "1", "squares per image"},
    {"p", CFF_PLUGIN_PARAM_NUMBER, "1", "probability of cutting an image"},
    {"fill", CFF_PLUGIN_PARAM_NUMBER, "0", "value written into the square"},
};
const cff_plugin_augmentation kAugmentations[] = {
    cff::plugin::augmentation("randaugment",
                              "RandAugment(n, m): n random ops of torchvision v2's 14 at magnitude bin m, per image",
                              kRandAugmentParams, 4, make_randaugment),
    cff::plugin::augmentation("colorjitter", "color jitter: brightness, contrast, saturation, hue in random order",
                              kColorJitterParams, 5, make_colorjitter),
    cff::plugin::augmentation("cutout", "cutout: zero a random square (clipped at the border) per image", kCutoutParams,
                              4, make_cutout),
};

}  // namespace

CFF_PLUGIN_CXX_DEFINE("augment", nullptr, 0, kAugmentations, 3)
