// Sequences of C API calls driven by the fuzzer's bytes: a byte picks the next call, the
// following bytes its arguments (sizes, labels, layers, k, pixel values, NaN). Every call must
// return NULL or a status with a known code and a message; statuses are freed; handles too.
// What the calls may never do: crash, leak, trip a sanitizer, or return an unknown code.
#include <cmath>
#include <cstring>
#include <vector>

#include "cff.h"
#include "fuzz_util.hpp"

namespace {
struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t next() {
    if (!n) return 0;
    --n;
    return *p++;
  }
};

void check(cff_status* s) {
  const cff_code c = cff_status_code(s);
  if (c < CFF_CODE_OK || c > CFF_CODE_INTERNAL || (s && !cff_status_message(s)[0])) std::abort();
  if (c == CFF_CODE_INTERNAL) std::abort();  // an unexpected failure inside the library is a finding
  cff_status_free(s);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string ckpt = (cff::fuzz::scratch() / "capi.cff").string();
  Bytes in{data, size};
  cff_options* opt = nullptr;
  check(cff_options_create(&opt));
  const int64_t classes = 2 + in.next() % 3, side = 4 * (1 + in.next() % 2), chans = in.next() % 2 ? 3 : 1;
  check(cff_options_set_input_shape(opt, chans, side, side));
  check(cff_options_set_num_classes(opt, classes));
  check(cff_options_set_embed_dim(opt, 4 + in.next() % 8));
  check(cff_options_set_num_layers(opt, 1 + in.next() % 3));
  check(cff_options_set_algorithm(opt, cff_algorithm(in.next() % 4)));  // 3 is out of range
  check(cff_options_set_arch(opt, cff_arch(in.next() % 2)));
  check(cff_options_set_num_heads(opt, 1 + in.next() % 3));
  check(cff_options_set_patch_size(opt, 1 + in.next() % 4));
  check(cff_options_set_threads(opt, 1));
  check(cff_options_set_device(opt, "cpu"));
  cff_model* model = nullptr;
  check(cff_model_create(opt, &model));
  cff_options_free(opt);
  if (!model) return 0;
  std::vector<cff_layer_batch*> batches;
  for (int op = 0; op < 12 && in.n; ++op) {
    const uint8_t what = in.next();
    const int64_t count = 1 + in.next() % 4;
    const int64_t c = in.next() % 5 == 0 ? chans + 1 : chans;  // sometimes the wrong shape
    std::vector<uint8_t> u8(static_cast<size_t>(count * c * side * side));
    std::vector<float> f32(u8.size());
    for (size_t i = 0; i < u8.size(); ++i) {
      u8[i] = in.next();
      f32[i] = float(u8[i]) / 255.0f;
    }
    if (!f32.empty() && (what & 0x80)) f32[0] = (what & 0x40) ? NAN : 300.0f;
    std::vector<int64_t> labels(static_cast<size_t>(count));
    for (auto& l : labels) l = int64_t(in.next() % (classes + 1));  // sometimes out of range
    cff_batch b = CFF_BATCH_INIT;
    b.dtype = (what & 0x20) ? CFF_DTYPE_FLOAT32 : CFF_DTYPE_UINT8;
    b.layout = (what & 0x10) ? CFF_LAYOUT_NHWC : CFF_LAYOUT_NCHW;
    b.images = b.dtype == CFF_DTYPE_FLOAT32 ? static_cast<const void*>(f32.data()) : u8.data();
    b.images_length = int64_t(u8.size()) + (in.next() % 8 == 0 ? 1 : 0);  // sometimes the wrong length
    b.labels = labels.data();
    b.labels_length = count;
    b.count = count;
    b.channels = c;
    b.height = side;
    b.width = side;
    double losses[4];
    int64_t written = 0;
    switch (what % 9) {
      case 0: check(cff_model_step(model, &b, losses, 4, &written)); break;
      case 1: check(cff_model_head_step(model, &b, nullptr)); break;
      case 2: {
        std::vector<int64_t> out(static_cast<size_t>(count));
        std::vector<float> scores(static_cast<size_t>(count * classes));
        check(cff_model_predict(model, &b, 1 + in.next() % classes, out.data(), count, scores.data(), count * classes,
                          nullptr, 0));
        break;
      }
      case 3: {
        cff_layer_batch* lb = nullptr;
        check(cff_layer_batch_create(model, &b, in.next() & 1, &lb));
        if (lb) batches.push_back(lb);
        break;
      }
      case 4:
        if (!batches.empty()) {
          auto* lb = batches[in.next() % batches.size()];
          check(cff_model_train_layer(model, lb, int64_t(in.next() % 4), nullptr));
        }
        break;
      case 5: check(cff_model_save(model, ckpt.c_str())); break;
      case 6: {
        cff_model* loaded = nullptr;
        check(cff_model_load(ckpt.c_str(), nullptr, &loaded));
        cff_model_free(loaded);
        break;
      }
      case 7: {
        int64_t e = 0;
        check(cff_model_embed_dim(model, &e));
        std::vector<float> emb(static_cast<size_t>(count * e));
        check(cff_model_embed(model, &b, int64_t(in.next() % 4), emb.data(), int64_t(emb.size())));
        break;
      }
      case 8: {
        const int64_t ks[2] = {1, 1 + in.next() % (classes + 1)};
        double acc[2];
        check(cff_model_evaluate(model, &b, ks, 2, acc));
        break;
      }
    }
  }
  for (auto* lb : batches) cff_layer_batch_free(lb);
  cff_model_free(model);
  std::remove(ckpt.c_str());
  return 0;
}
