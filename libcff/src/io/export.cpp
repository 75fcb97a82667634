// `cff export`: the model's weights as a pickled dict PyTorch's torch.load reads, or the whole
// predictor as a TorchScript module (torch.jit.load / torch::jit::load).
#include <torch/script.h>

#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "cff/diagnostics.hpp"
#include "files.hpp"
#include "cff/error.hpp"
#include "cff/trainer.hpp"

namespace cff {

void export_state_dict(const Trainer& trainer, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : trainer.named_tensors()) dict.insert(name, tensor.contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  detail::write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

namespace {

// Every tensor of Trainer::named_tensors() becomes a module attribute; dots are not allowed there.
std::string attribute(const std::string& name) {
  std::string out = name;
  for (auto& c : out)
    if (c == '.') c = '_';
  return out;
}

// TorchScript source of the model's one-pass prediction, written out layer by layer from the same
// definitions as models/network.cpp and the head (float32, no autocast): images -> logits. Module
// source compiled in C++ sees `torch` as the ATen operators only (no torch.nn, no dtype names).
std::string torchscript_source(const Config& cfg) {
  const auto& m = cfg.model;
  const bool ff = cfg.train.algorithm == Algorithm::kForwardForward;
  const bool vit = m.arch == Architecture::kVit;
  const bool cls = vit && m.pooling == Pooling::kClassToken;
  const int64_t L = m.num_layers, special = (ff ? 1 : 0) + (cls ? 1 : 0);
  std::ostringstream o;
  auto linear = [](const std::string& x, const std::string& prefix) {
    return "torch.linear(" + x + ", self." + prefix + "_weight, self." + prefix + "_bias)";
  };
  auto norm = [](const std::string& x, const std::string& prefix, int64_t dim) {
    return "torch.layer_norm(" + x + ", [" + std::to_string(dim) + "], self." + prefix + "_weight, self." +
           prefix + "_bias, 1e-05)";
  };
  auto pool = [&](const std::string& h) {
    if (!vit) return h;
    if (cls) return h + ".select(1, " + std::to_string(special - 1) + ")";
    return h + ".narrow(1, " + std::to_string(special) + ", " + h + ".size(1) - " + std::to_string(special) + ").mean(1)";
  };
  o << "def forward(self, x: Tensor) -> Tensor:\n"
    << "    assert x.dim() == 4 and x.size(1) == " << m.channels << " and x.size(2) == " << m.height
    << " and x.size(3) == " << m.width << ", 'expected images of shape N x " << m.channels << " x " << m.height
    << " x " << m.width << "'\n"
    << "    if x.is_floating_point():\n"  // ScalarType 6 is float32
    << "        x = x.to(6)\n"
    << "    else:\n"
    << "        x = x.to(6) / 255.0\n"
    << "    x = (x - self.input_mean.view(1, -1, 1, 1)) / self.input_std.view(1, -1, 1, 1)\n";
  if (!vit) {
    o << "    h = x.flatten(1)\n";
    if (ff)  // the neutral label: 1/C of the image's peak over the first C inputs
      o << "    h = torch.cat([h.max(1, keepdim=True)[0].expand(-1, " << m.num_classes << ") / " << m.num_classes
        << ".0, h.narrow(1, " << m.num_classes << ", h.size(1) - " << m.num_classes << ")], 1)\n";
  } else {
    const int64_t p = m.patch_size, t = (m.height / p) * (m.width / p);
    o << "    n = x.size(0)\n"
      << "    h = x.reshape(n, " << m.channels << ", " << m.height / p << ", " << p << ", " << m.width / p << ", " << p
      << ").permute(0, 2, 4, 1, 3, 5).reshape(n, " << t << ", " << m.channels * p * p << ")\n";
    if (ff)
      o << "    h = torch.cat([self.encoder_label_patches.mean(0, keepdim=True).expand(n, -1).unsqueeze(1), h], 1)\n";
  }
  if (ff) o << "    parts: List[Tensor] = []\n";
  for (int64_t l = 0; l < L; ++l) {
    const std::string layer = "encoder_layers_" + std::to_string(l);
    if (!vit) {
      o << "    h = torch.relu(" << linear("h", layer + "_fc") << ")\n";
    } else {
      std::string block = layer;
      if (l == 0) {
        o << "    h = torch.relu(" << linear("h", layer + "_embed") << ")\n";
        if (cls)
          o << "    h = torch.cat([h.narrow(1, 0, " << (ff ? 1 : 0) << "), self." << layer
            << "_cls_token.expand(h.size(0), 1, h.size(2)), h.narrow(1, " << (ff ? 1 : 0) << ", h.size(1) - "
            << (ff ? 1 : 0) << ")], 1)\n";
        o << "    h = h + self." << layer << "_pos_embed\n";
        block = layer + "_block";
      }
      const int64_t e = m.embed_dim, heads = m.num_heads, d = e / heads;
      o << "    a = " << norm("h", block + "_norm1", e) << "\n"
        << "    qkv = " << linear("a", block + "_attn_qkv") << ".reshape(h.size(0), h.size(1), 3, " << heads << ", " << d
        << ").permute(2, 0, 3, 1, 4)\n"
        << "    att = torch.softmax(torch.matmul(qkv[0], qkv[1].transpose(-2, -1)) / " << std::setprecision(17)
        << std::sqrt(double(d)) << ", -1)\n"
        << "    a = torch.matmul(att, qkv[2]).transpose(1, 2).reshape(h.size(0), h.size(1), " << e << ")\n"
        << "    h = h + " << linear("a", block + "_attn_proj") << "\n"
        << "    a = " << norm("h", block + "_norm2", e) << "\n"
        << "    h = h + " << linear("torch.gelu(" + linear("a", block + "_fc1") + ")", block + "_fc2")
        << "\n";
    }
    if (ff) {
      if (l >= 1 || L == 1) o << "    parts.append(" << pool("h") << ")\n";
      o << "    f = h.flatten(1)\n"  // F.normalize: x / max(|x|, 1e-12)
        << "    h = (f / (f * f).sum(1, keepdim=True).sqrt().clamp_min(1e-12)).view(h.size())\n";
    }
  }
  o << "    z = " << (ff ? std::string("torch.cat(parts, 1)") : pool("h")) << "\n";
  const int64_t features = ff ? m.embed_dim * std::max<int64_t>(L - 1, 1) : m.embed_dim;
  o << "    return " << linear(norm("z", "head_norm", features), "head_fc") << "\n";
  return o.str();
}

}  // namespace

void export_torchscript(const Trainer& trainer, const std::string& path) {
  const Config cfg = trainer.config();
  torch::jit::Module module("CffModel");
  for (const auto& [name, tensor] : trainer.named_tensors()) {
    const bool buffer = name == "input.mean" || name == "input.std" || name.find("label_patches") != std::string::npos;
    module.register_parameter(attribute(name), tensor.contiguous(), buffer);
  }
  module.define(torchscript_source(cfg));
  module.eval();
  std::ostringstream bytes;
  module.save(bytes);
  detail::write_file_atomically(path, bytes.str());
}

std::vector<std::pair<std::string, torch::Tensor>> load_state_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CFF_CHECK_CODE(in.good(), ErrorCode::kIo, path, ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    detail::throw_error(ErrorCode::kFormat, path, ": not a pickled state dict (", msg.substr(0, msg.find('\n')), ")");
  }
  CFF_CHECK_CODE(value.isGenericDict(), ErrorCode::kFormat, path, ": holds a ", value.tagKind(), ", not a dict");
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : value.toGenericDict()) {
    CFF_CHECK_CODE(item.key().isString() && item.value().isTensor(), ErrorCode::kFormat, path,
                   ": entries must be name -> tensor");
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

}  // namespace cff
