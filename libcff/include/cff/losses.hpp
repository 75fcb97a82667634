#pragma once
/// @file losses.hpp
/// Local losses: the one interface every layer's objective implements (built-ins and plugins),
/// and the paper's losses. A loss sees only pooled features of one layer and the labels.

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cff/registry.hpp"

namespace cff {

/// What a loss needs from the trainer; a property of the loss, never looked up by its name.
enum class LossInputs {
  kViews,             ///< features of 1 or 2 augmented views of the same batch (CFF)
  kPositiveNegative,  ///< features of the positive pass (true label) and negative pass (FF, SymBa)
};

/// Where a loss instance sits: each layer gets its own instance.
struct LossContext {
  int64_t layer = 0;        ///< 0-based layer index l
  int64_t num_layers = 1;   ///< L
  int64_t num_classes = 10;
};

/// The input of one loss evaluation.
struct LossBatch {
  /// kViews: {z1} or {z1, z2}; kPositiveNegative: {z_pos, z_neg}. Each N x D, float32, pooled
  /// (not normalised) features of this layer.
  std::vector<torch::Tensor> features;
  torch::Tensor labels;  ///< N labels, int64, on the features' device
};

/// A layer's local objective. forward() returns a scalar with autograd to the features.
/// The trainer calls forward() inside its precision scope: with bf16 autocast, matmuls in the
/// loss may run in bf16; keep exp/log/softmax in the features' dtype (float32) as the built-ins do.
class LocalLoss {
 public:
  virtual ~LocalLoss() = default;
  virtual LossInputs inputs() const = 0;
  virtual torch::Tensor forward(const LossBatch& batch) = 0;
};

// ---- The paper's losses -------------------------------------------------------------------------

/// Supervised contrastive loss (Khosla et al.; the paper's Eq. for CFF), "sum outside the log",
/// with an optional margin m added to positive cosines before the temperature: min(s + m, 1)
/// (the paper's marginal contrastive loss, CFF+M). Anchors without positives contribute 0.
///
/// Fused: the value and its analytic gradient are computed together in one pass over row tiles
/// of the 2N x 2N similarity matrix (two products: S = Z Z^T and (G + G^T) Z); backward only
/// scales the stored gradient. `block_rows` rows of S are live at a time: 0 (default) = the
/// whole matrix up to 4096 rows, tiles of 256 rows above (extra memory O(2N x 256) instead of
/// O((2N)^2)); any other value forces tiles of that many rows. Under bf16 autocast both products
/// run in bf16; exp, log and sums stay in the features' dtype. The features' dtype may be float32
/// or float64 (then everything is float64).
class SupervisedContrastiveLoss : public LocalLoss {
 public:
  explicit SupervisedContrastiveLoss(double temperature = 0.15, double margin = 0.0, int64_t block_rows = 0);
  LossInputs inputs() const override { return LossInputs::kViews; }
  torch::Tensor forward(const LossBatch& batch) override;
  double temperature() const { return temperature_; }
  double margin() const { return margin_; }
  int64_t block_rows() const { return block_rows_; }

 private:
  double temperature_;
  double margin_;
  int64_t block_rows_;
};

/// Per-layer margins m_l for CFF+M, l = 0 .. L-1 (the authors' four schedules).
struct MarginSchedule {
  enum class Kind { kLinear, kParabolic, kCosine, kExponential };
  Kind kind = Kind::kLinear;
  double m0 = 0.4;  ///< margin of the first layer
  double mL = 0.1;  ///< margin of the last layer
  double k = 1.0;   ///< shape exponent of the non-linear schedules
  double margin(int64_t layer, int64_t num_layers) const;
  static Kind parse_kind(const std::string& name);
};

/// Hinton's FF loss: mean(softplus(theta - g+), softplus(g- - theta)), g = mean(z^2).
class ForwardForwardLoss : public LocalLoss {
 public:
  explicit ForwardForwardLoss(double threshold = 2.0) : threshold_(threshold) {}
  LossInputs inputs() const override { return LossInputs::kPositiveNegative; }
  torch::Tensor forward(const LossBatch& batch) override;

 private:
  double threshold_;
};

/// SymBa: mean(softplus(-alpha (g+ - g-))).
class SymBaLoss : public LocalLoss {
 public:
  explicit SymBaLoss(double alpha = 1.0) : alpha_(alpha) {}
  LossInputs inputs() const override { return LossInputs::kPositiveNegative; }
  torch::Tensor forward(const LossBatch& batch) override;

 private:
  double alpha_;
};

/// A scalar `value` whose gradient with respect to `input` is `gradient`, computed together
/// with it (an analytic gradient, as the fused contrastive loss and C-ABI plugin losses have):
/// the result is `value` wired into autograd, and backward multiplies `gradient` by the incoming
/// gradient. `gradient` must have input's shape; both are kept until backward runs.
torch::Tensor with_precomputed_gradient(const torch::Tensor& input, const torch::Tensor& value,
                                        const torch::Tensor& gradient);

/// Goodness g = mean(z^2) over the feature dimension: N x D -> N.
torch::Tensor goodness(const torch::Tensor& z);

// ---- Registry -----------------------------------------------------------------------------------

using LossFactory = std::function<std::unique_ptr<LocalLoss>(const Params&, const LossContext&)>;
using LossRegistry = Registry<LossFactory>;

/// The process-wide loss registry, holding the built-ins:
///  - "supcon"  (tau=0.15, block=0)                           supervised contrastive (CFF)
///  - "mcl"     (tau=0.15, m0=0.4, mL=0.1, schedule=linear, k=1, block=0) marginal contrastive (CFF+M)
///  (block: rows of the similarity matrix per tile; 0 = automatic, see SupervisedContrastiveLoss)
///  - "ff"      (theta=2)                                      Forward-Forward goodness
///  - "symba"   (alpha=1)                                      SymBa
LossRegistry& loss_registry();

/// Builds the loss of layer `ctx.layer` from a spec such as "mcl:m0=0.3,schedule=cosine".
std::unique_ptr<LocalLoss> make_loss(const std::string& spec, const LossContext& ctx);

}  // namespace cff
