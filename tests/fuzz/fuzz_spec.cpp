// The spec parsers behind --loss and --augment: make_loss() and AugmentPipeline() on the
// fuzzer's text, then one evaluation of what they built on a tiny batch.
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cff::fuzz::scratch();
  if (size < 1) return 0;
  const std::string spec(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    CFF_FUZZ_EXPECTING_ERRORS({
      const cff::AugmentPipeline p(spec);
      (void)p.apply(torch::rand({2, 3, 8, 8}), 1);
    });
  } else {
    CFF_FUZZ_EXPECTING_ERRORS({
      auto loss = cff::make_loss(spec, {int64_t(data[0] >> 1) % 3, 3, 4});
      cff::LossBatch b{{torch::randn({4, 5}), torch::randn({4, 5})}, torch::tensor({0, 1, 2, 3}, torch::kLong)};
      if (loss->inputs() == cff::LossInputs::kViews && (data[0] & 2)) b.features.pop_back();
      (void)loss->forward(b);
    });
  }
  return 0;
}
