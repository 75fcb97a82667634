// A custom local loss as a C++ libcff plugin: the supervised cosine-margin loss of
// samples/loss_c, written with LibTorch tensors (autograd gives the gradient; runs on the
// features' device, no copies). Must be built with the same compiler, libcff and LibTorch as the
// libcff that loads it (libcff checks and refuses a mismatch).
//
// Build: see README.md (a three-line CMake project with find_package(cff)).
// Use:   cff train DATA --out m.cff --algo cff --plugin ./libcff-plugin-cosine_margin_cpp.so --loss cosine-margin-cpp
#include <cff/plugin_sdk.hpp>

namespace {

class CosineMarginLoss : public cff::LocalLoss {
 public:
  explicit CosineMarginLoss(double margin) : margin_(margin) {
    CFF_CHECK(margin > -1 && margin < 1, "cosine-margin-cpp: margin must be in (-1, 1), got ", margin);
  }
  cff::LossInputs inputs() const override { return cff::LossInputs::kViews; }
  torch::Tensor forward(const cff::LossBatch& batch) override {
    const auto z = torch::nn::functional::normalize(torch::cat(batch.features, 0),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
    const auto labels = batch.labels.repeat({static_cast<int64_t>(batch.features.size())});
    const auto s = torch::matmul(z, z.t());
    const auto self = torch::eye(z.size(0), torch::TensorOptions().dtype(torch::kBool).device(z.device()));
    const auto same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
    const auto pos = same.logical_and(self.logical_not()).to(s.scalar_type());
    const auto neg = same.logical_not().to(s.scalar_type());
    const auto pos_term = ((1 - s) * pos).sum() / pos.sum().clamp_min(1);
    const auto neg_term = (torch::relu(s - margin_) * neg).sum() / neg.sum().clamp_min(1);
    return pos_term + neg_term;
  }

 private:
  double margin_;
};

std::unique_ptr<cff::LocalLoss> make(const cff::Params& p, const cff::LossContext&) {
  return std::make_unique<CosineMarginLoss>(p.get_double("margin"));
}

const cff_plugin_param kParams[] = {
    {"margin", CFF_PLUGIN_PARAM_NUMBER, "0.2", "negative pairs are pushed below this cosine"},
};
const cff_plugin_loss kLosses[] = {
    cff::plugin::loss("cosine-margin-cpp", "supervised cosine-margin loss (C++ plugin, LibTorch autograd)",
                      CFF_PLUGIN_INPUTS_VIEWS, kParams, 1, make),
};

}  // namespace

CFF_PLUGIN_CXX_DEFINE("cosine-margin-cpp-sample", kLosses, 1, nullptr, 0)
