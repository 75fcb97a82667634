// A model trained through the C API and one trained through the C++ API with the same seed and
// settings give identical predictions (CPU, one thread): with cff_model_step / Trainer::step, with
// cff_model_train_layer / Trainer::train_layer, and with the head step.
#include <cstdio>
#include <cstring>
#include <vector>

#include <torch/torch.h>

#include "cff.h"
#include "cff/cff.hpp"

namespace {
int failures = 0;
#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

void ok(cff_status* s, const char* what) {
  if (s) {
    std::fprintf(stderr, "%s: %s\n", what, cff_status_message(s));
    ++failures;
    cff_status_free(s);
  }
}

constexpr int64_t kN = 32, kSide = 8, kClasses = 3;

cff::Config config() {
  cff::Config c;
  c.model.embed_dim = 16;
  c.model.num_layers = 2;
  c.model.height = c.model.width = kSide;
  c.model.num_classes = kClasses;
  c.train.device = "cpu";
  c.train.threads = 1;
  c.train.seed = 42;
  return c;
}

cff_model* c_model() {
  cff_options* o = nullptr;
  ok(cff_options_create(&o), "options");
  ok(cff_options_set_embed_dim(o, 16), "embed_dim");
  ok(cff_options_set_num_layers(o, 2), "num_layers");
  ok(cff_options_set_input_shape(o, 1, kSide, kSide), "shape");
  ok(cff_options_set_num_classes(o, kClasses), "classes");
  ok(cff_options_set_device(o, "cpu"), "device");
  ok(cff_options_set_threads(o, 1), "threads");
  ok(cff_options_set_seed(o, 42), "seed");
  cff_model* m = nullptr;
  ok(cff_model_create(o, &m), "create");
  cff_options_free(o);
  return m;
}

}  // namespace

int main() {
  torch::manual_seed(0);
  std::vector<torch::Tensor> images, labels;
  for (int b = 0; b < 4; ++b) {
    images.push_back(torch::randint(0, 256, {kN, 1, kSide, kSide}, torch::kLong).to(torch::kUInt8));
    labels.push_back(torch::arange(kN, torch::kLong).remainder(kClasses));
  }
  auto batch = [&](int b) {
    cff_batch c = CFF_BATCH_INIT;
    c.images = images[b].data_ptr<uint8_t>();
    c.images_length = images[b].numel();
    c.labels = labels[b].data_ptr<int64_t>();
    c.labels_length = kN;
    c.count = kN;
    c.channels = 1;
    c.height = c.width = kSide;
    return c;
  };

  for (int layered = 0; layered < 2; ++layered) {
    cff::Trainer cpp(config());
    cff_model* c = c_model();
    for (int b = 0; b < 4; ++b) {
      const auto in = batch(b);
      if (!layered) {
        double losses[2];
        ok(cff_model_step(c, &in, losses, 2, nullptr), "cff_model_step");
        const auto expected = cpp.step(images[b], labels[b]);
        EXPECT(losses[0] == expected[0] && losses[1] == expected[1]);
      } else {
        cff_layer_batch* lb = nullptr;
        ok(cff_layer_batch_create(c, &in, 1, &lb), "layer batch");
        auto cpp_batch = cpp.prepare(images[b], labels[b]);
        for (int64_t l = 0; l < 2; ++l) {
          double loss = 0;
          ok(cff_model_train_layer(c, lb, l, &loss), "cff_model_train_layer");
          EXPECT(loss == cpp.train_layer(l, cpp_batch));
        }
        cff_layer_batch_free(lb);
      }
    }
    for (int b = 0; b < 4; ++b) {
      const auto in = batch(b);
      double loss = 0;
      ok(cff_model_head_step(c, &in, &loss), "cff_model_head_step");
      EXPECT(loss == cpp.head_step(images[b], labels[b]));
    }
    const auto in = batch(0);
    std::vector<float> scores(kN * kClasses);
    std::vector<int64_t> predicted(kN);
    ok(cff_model_predict(c, &in, 1, predicted.data(), kN, scores.data(), kN * kClasses, nullptr, 0), "cff_model_predict");
    const auto p = cpp.predict(images[0], 1);
    EXPECT(std::memcmp(scores.data(), p.scores.data_ptr<float>(), scores.size() * sizeof(float)) == 0);
    EXPECT(std::memcmp(predicted.data(), p.labels.data_ptr<int64_t>(), predicted.size() * sizeof(int64_t)) == 0);
    std::vector<float> z(kN * 16);
    ok(cff_model_embed(c, &in, 1, z.data(), int64_t(z.size())), "cff_model_embed");
    EXPECT(std::memcmp(z.data(), cpp.embed(images[0], 1).data_ptr<float>(), z.size() * sizeof(float)) == 0);
    cff_model_free(c);
  }
  if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
  else std::printf("C and C++ models agree bit for bit\n");
  return failures ? 1 : 0;
}
