// A trainer's state in a checkpoint file and back: config, weights, every optimizer's state,
// progress, RNG, history and the best-epoch snapshot. The file format itself (envelope, checks) is
// io/checkpoint.cpp's.
#include <sstream>
#include <string>

#include "../io/checkpoint.hpp"
#include "../io/files.hpp"
#include "cff/error.hpp"
#include "state.hpp"

namespace cff {
using namespace detail;

void check_weights_finite(const Trainer::State& s, const std::string& what) {
  torch::NoGradGuard no_grad;
  auto check = [&](const std::string& prefix, const torch::OrderedDict<std::string, torch::Tensor>& dict) {
    for (const auto& item : dict)
      if (item.value().is_floating_point())
        CFF_CHECK_CODE(torch::isfinite(item.value()).all().item<bool>(), ErrorCode::kNumerics, what, ": weight ",
                       prefix, item.key(), " contains NaN or Inf (training diverged; lower --lr)");
  };
  check("encoder.", s.net->named_parameters());
  check("head.", s.head->named_parameters());
}

void write_checkpoint(const Trainer::State& s, const std::string& path) {
  // A diverged model is never written: `path` keeps what it held (the last good epoch).
  check_weights_finite(s, path + ": not saved");
  torch::serialize::OutputArchive archive;
  archive.write("config", c10::IValue(s.cfg.to_json()));
  archive.write("stage", c10::IValue(s.stage));
  archive.write("epoch", c10::IValue(s.epoch));
  archive.write("best_val", c10::IValue(s.best_val));
  archive.write("best_epoch", c10::IValue(s.best_epoch));
  std::ostringstream rng_state;
  rng_state << s.rng;
  archive.write("rng", c10::IValue(rng_state.str()));
  archive.write("history", c10::IValue(history_json(s.history)));
  torch::serialize::OutputArchive net, head, head_opt, best;
  s.net->save(net);
  s.head->save(head);
  s.head_opt->save(head_opt);
  write_tensors(best, s.best_snapshot);
  archive.write("net", net);
  archive.write("head", head);
  archive.write("head_opt", head_opt);
  archive.write("best", best);
  for (size_t l = 0; l < s.layer_opt.size(); ++l) {
    torch::serialize::OutputArchive opt;
    s.layer_opt[l]->save(opt);
    archive.write("layer_opt." + std::to_string(l), opt);
  }
  std::ostringstream payload;
  archive.save_to(payload);
  write_file_atomically(path, seal_checkpoint(payload.str()));
}

std::unique_ptr<Trainer::State> read_checkpoint(const std::string& path, const std::string& device) {
  const auto file = read_checkpoint_file(path);  // errors name the file already
  const uint64_t present = file.payload_size();
  try {
    torch::serialize::InputArchive archive;
    load_checkpoint_archive(file, archive);
    Config cfg = Config::from_json(read_value<std::string>(archive, "config"));
    if (!device.empty()) cfg.train.device = device;
    cfg.validate();  // sizes against the limits, before the model is built
    // Every weight is stored as 4 bytes or more: a config describing more weights than the file
    // can hold is not this file's model, and the model is not built (nor allocated) at all.
    const int64_t params = cfg.parameter_count();
    CFF_CHECK_CODE(uint64_t(params) <= present / 4, ErrorCode::kFormat, "its config describes ", params,
                   " weights (", human_bytes(uint64_t(params) * 4), "), the file holds ",
                   human_bytes(present), " in all");
    auto s = std::make_unique<Trainer::State>(cfg);
    const auto net_layout = layout_of(*s->net), head_layout = layout_of(*s->head);
    s->stage = read_value<int64_t>(archive, "stage");
    s->epoch = read_value<int64_t>(archive, "epoch");
    s->best_val = read_value<double>(archive, "best_val");
    s->best_epoch = read_value<int64_t>(archive, "best_epoch");
    std::istringstream rng_state(read_value<std::string>(archive, "rng"));
    rng_state >> s->rng;
    CFF_CHECK_CODE(!rng_state.fail(), ErrorCode::kFormat, path, ": bad RNG state");
    s->history = parse_history(read_value<std::string>(archive, "history"));
    torch::serialize::InputArchive net, head, head_opt, best;
    archive.read("net", net);
    archive.read("head", head);
    archive.read("head_opt", head_opt);
    archive.read("best", best);
    s->net->load(net);
    s->head->load(head);
    check_layout(*s->net, net_layout, "encoder");
    check_layout(*s->head, head_layout, "head");
    s->net->to(s->device);
    s->head->to(s->device);
    s->head_opt->load(head_opt);
    check_optimizer(*s->head_opt, "head");
    for (size_t l = 0; l < s->layer_opt.size(); ++l) {
      torch::serialize::InputArchive opt;
      archive.read("layer_opt." + std::to_string(l), opt);
      s->layer_opt[l]->load(opt);
      check_optimizer(*s->layer_opt[l], "layer " + std::to_string(l));
    }
    s->best_snapshot = read_tensors(best, s->device);
    const auto live = s->state_tensors();
    CFF_CHECK_CODE(s->best_snapshot.empty() || s->best_snapshot.size() == live.size(), ErrorCode::kFormat,
                   path, ": best-epoch snapshot does not match the model");
    for (size_t i = 0; i < s->best_snapshot.size(); ++i)
      CFF_CHECK_CODE(s->best_snapshot[i].sizes() == live[i].sizes() &&
                         s->best_snapshot[i].scalar_type() == live[i].scalar_type(),
                     ErrorCode::kFormat, path, ": best-epoch snapshot tensor ", i, " is ",
                     shape_text(s->best_snapshot[i].sizes()), ", the model's ", shape_text(live[i].sizes()));
    CFF_CHECK_CODE(s->stage >= 1 && s->stage <= 3 && s->epoch >= 0, ErrorCode::kFormat, path, ": bad progress (stage ",
                   s->stage, ", epoch ", s->epoch, ")");
    return s;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnsupported) throw;
    // A missing plugin stays kPlugin (the file is fine; the host lacks what it needs).
    throw_error(e.code() == ErrorCode::kPlugin ? ErrorCode::kPlugin : ErrorCode::kFormat, path, ": ", e.what());
  } catch (const std::exception& e) {
    // LibTorch's own messages carry a C++ backtrace; the first line says what is wrong.
    std::string msg = e.what();
    msg = msg.substr(0, msg.find('\n'));
    throw_error(ErrorCode::kFormat, path, ": checkpoint content does not match (", msg, ")");
  }
}


}  // namespace cff
