#pragma once
/// @file diagnostics.hpp
/// Layer-wise diagnostics of a trained encoder (the paper's Sec. 4.2 and Fig. 5), a training report
/// (CSV files and one self-contained HTML page with SVG plots), and the PyTorch export.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cff/data.hpp"
#include "cff/trainer.hpp"

namespace cff {

struct DiagnosticsOptions {
  int64_t max_samples = 2000;  ///< images used: the first max_samples of the data (pairwise cost is N^2)
  /// Ridge added to the within-class scatter before solving: S_W + ridge * (tr(S_W) / D) * I.
  /// It keeps tr(S_W^-1 S_B) finite when D >= N or features are collinear (ReLU layers).
  double ridge = 1e-3;
};

/// What one layer's pooled representation z_l looks like on held-out data. Every statistic uses
/// the L2-normalised z_l (what the contrastive loss compares).
struct LayerDiagnostics {
  int64_t layer = 0;         ///< 0-based
  double fisher = 0.0;       ///< Fisher criterion tr((S_W + ridge)^-1 S_B); larger = classes better separated
  double margin = 0.0;       ///< m_l used for the band: the layer's CFF+M margin; for other losses the
                             ///< default schedule's (linear 0.4 -> 0.1)
  double band_share = 0.0;   ///< share of positive pairs (same class, i != j) with cosine >= 1 - m_l,
                             ///< i.e. saturated by min(s + m_l, 1) in the marginal loss
  double cos_same = 0.0;     ///< mean cosine over same-class pairs (i != j)
  double cos_diff = 0.0;     ///< mean cosine over different-class pairs
  torch::Tensor projection;  ///< N x 2 float32: PCA of z_l onto its two main axes (sign-fixed)
  double explained[2] = {0.0, 0.0};  ///< share of variance along each of the two axes
};

struct Diagnostics {
  std::vector<LayerDiagnostics> layers;
  torch::Tensor labels;  ///< N int64, the images used
  std::vector<std::string> class_names;
  int64_t samples = 0;
  double ridge = 0.0;
};

/// Runs the encoder on (the first max_samples images of) `data` and measures every layer.
/// Throws kInvalidArgument for an empty set or a shape the model does not take.
Diagnostics diagnose(Trainer& trainer, const Dataset& data, const DiagnosticsOptions& options = {});

/// Writes into `dir` (created if missing): layers.csv (one row per layer: the statistics above),
/// history.csv (stage, epoch, layer, train_loss, val_loss, best), projection.csv (layer, index,
/// label, x, y) and report.html (self-contained: inline SVG, no scripts or network resources).
/// Every file is written to a temporary name and renamed. `title` heads the page.
void write_report(const std::string& dir, const Diagnostics& diagnostics, const std::vector<EpochRecord>& history,
                  const Config& config, const std::string& title);

/// Writes the model's weights (Trainer::named_tensors()) as a state dict PyTorch reads with
/// `torch.load(path)`: a pickled dict of name -> tensor (torch::pickle_save), written atomically.
void export_state_dict(const Trainer& trainer, const std::string& path);

/// Writes the model's one-pass predictor as a TorchScript module (torch.jit.load in Python,
/// torch::jit::load in C++), atomically. `forward(x)` takes N x C x H x W images, uint8 (0..255)
/// or float (0..1), normalises them as the model was trained and returns N x classes logits
/// (float32; softmax gives Trainer::predict's scores). FF models export their one-pass head.
/// Weights are attributes named as in named_tensors() with '.' replaced by '_'.
void export_torchscript(const Trainer& trainer, const std::string& path);

/// Reads a file written by export_state_dict (torch::pickle_load) as (name, tensor) pairs, in order.
std::vector<std::pair<std::string, torch::Tensor>> load_state_dict(const std::string& path);

}  // namespace cff
