// Spec parsing, parameter access, and the built-in entries of the loss registry.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "cff/losses.hpp"

namespace cff {

const std::string& Params::text(const std::string& name) const {
  auto it = values_.find(name);
  CFF_CHECK(it != values_.end(), "'", owner_, "' has no parameter '", name, "'");
  return it->second;
}

double Params::get_double(const std::string& name) const {
  const auto& t = text(name);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  CFF_CHECK(!t.empty() && end && *end == '\0' && std::isfinite(v), "'", owner_, "': parameter ", name,
            " must be a finite number, got '", t, "'");
  return v;
}

int64_t Params::get_int(const std::string& name) const {
  const auto& t = text(name);
  int64_t v = 0;
  const auto [end, err] = std::from_chars(t.data(), t.data() + t.size(), v);  // no saturation, no sign slack
  CFF_CHECK(!t.empty() && err == std::errc() && end == t.data() + t.size(), "'", owner_, "': parameter ", name,
            " must be a 64-bit integer, got '", t, "'");
  return v;
}

namespace {
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

constexpr const char* kBlockHelp = "rows of the similarity matrix per tile (0 = whole up to 4096 rows)";
}  // namespace

Spec Spec::parse(const std::string& text) {
  Spec spec;
  const auto colon = text.find(':');
  spec.name = trim(text.substr(0, colon));
  CFF_CHECK(!spec.name.empty(), "empty name in spec '", text, "'");
  if (colon == std::string::npos) return spec;
  std::string rest = text.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    const auto comma = rest.find(',', start);
    const std::string pair = trim(rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      CFF_CHECK(eq != std::string::npos && eq > 0, "spec '", text, "': expected key=value, got '", pair, "'");
      const std::string key = trim(pair.substr(0, eq));
      CFF_CHECK(!spec.values.count(key), "spec '", text, "': parameter '", key, "' given twice");
      spec.values[key] = trim(pair.substr(eq + 1));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return spec;
}

std::vector<Spec> Spec::parse_pipeline(const std::string& text) {
  std::vector<Spec> out;
  size_t start = 0;
  while (true) {
    const auto plus = text.find('+', start);
    out.push_back(parse(text.substr(start, plus == std::string::npos ? std::string::npos : plus - start)));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  return out;
}

LossRegistry& loss_registry() {
  static LossRegistry* registry = [] {
    auto* r = new LossRegistry();  // never destroyed: plugins may unregister during static teardown
    r->add({"supcon", "supervised contrastive loss on the L2-normalised pooled features (CFF)",
            {{"tau", "0.15", "temperature"}, {"block", "0", kBlockHelp}}},
           [](const Params& p, const LossContext&) {
             return std::make_unique<SupervisedContrastiveLoss>(p.get_double("tau"), 0.0, p.get_int("block"));
           });
    r->add({"mcl", "marginal contrastive loss: positive cosines s -> min(s + m_l, 1) (CFF+M)",
            {{"tau", "0.15", "temperature"},
             {"m0", "0.4", "margin of the first layer"},
             {"mL", "0.1", "margin of the last layer"},
             {"schedule", "linear", "linear, parabolic, cosine or exponential"},
             {"k", "1", "shape exponent of the non-linear schedules"},
             {"block", "0", kBlockHelp}}},
           [](const Params& p, const LossContext& ctx) {
             MarginSchedule s;
             s.kind = MarginSchedule::parse_kind(p.text("schedule"));
             s.m0 = p.get_double("m0");
             s.mL = p.get_double("mL");
             s.k = p.get_double("k");
             CFF_CHECK(s.k > 0, "mcl: k must be > 0");
             return std::make_unique<SupervisedContrastiveLoss>(
                 p.get_double("tau"), s.margin(ctx.layer, ctx.num_layers), p.get_int("block"));
           });
    r->add({"ff", "Forward-Forward goodness loss: softplus(theta - g+), softplus(g- - theta)",
            {{"theta", "2", "goodness threshold"}}},
           [](const Params& p, const LossContext&) { return std::make_unique<ForwardForwardLoss>(p.get_double("theta")); });
    r->add({"symba", "SymBa loss: softplus(-alpha (g+ - g-))", {{"alpha", "1", "scale of the goodness gap"}}},
           [](const Params& p, const LossContext&) { return std::make_unique<SymBaLoss>(p.get_double("alpha")); });
    return r;
  }();
  return *registry;
}

std::unique_ptr<LocalLoss> make_loss(const std::string& spec, const LossContext& ctx) {
  auto [entry, params] = loss_registry().resolve(Spec::parse(spec), "loss");
  auto loss = entry.factory(params, ctx);
  CFF_CHECK_CODE(loss != nullptr, ErrorCode::kPlugin, "loss '", entry.info.name, "' (", entry.info.origin,
                 ") returned no object");
  return loss;
}

}  // namespace cff
