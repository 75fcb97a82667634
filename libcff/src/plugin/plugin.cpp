// Plugin loading (Boost.DLL), validation of descriptors, the wrappers that make C-ABI and C++
// providers look like built-ins, discovery (with the registries' miss hook), and the record of the
// plugins a model uses. See cff_plugin.h (the SDK header) for the contract.
#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>
#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "cff/augment.hpp"
#include "cff/error.hpp"
#include "cff/log.hpp"
#include "cff/losses.hpp"
#include "cff/plugin_sdk.hpp"
#include "cff/runtime.hpp"
#include "cff/plugins.hpp"
#include "cff/version.hpp"
#include "host.hpp"

namespace cff {
namespace fs = std::filesystem;

int plugin_abi_version() { return CFF_PLUGIN_ABI_VERSION; }

namespace {

constexpr size_t kMessageSize = 1024;
constexpr int64_t kGuard = 64;             // floats after every buffer a plugin writes
constexpr uint32_t kCanaryBits = 0x7FC0DEADu;  // a quiet NaN no arithmetic produces by chance
constexpr uint32_t kMaxEntries = 4096;

// One loaded file. Shared by the registry entries and by every object created from it, so the
// library is unloaded only after the last of them is gone.
struct Library {
  boost::dll::shared_library lib;
  std::string path;
  const cff_plugin_descriptor* desc = nullptr;
};
using LibraryPtr = std::shared_ptr<const Library>;

struct Loaded {
  LibraryPtr library;
  PluginInfo info;
  std::string hash;  // file_hash() of the file when it was loaded: the code that runs
};

struct LoaderState {
  std::recursive_mutex mutex;
  std::vector<Loaded> loaded;  // load order
};
LoaderState& loader() {
  static auto* state = new LoaderState();  // never destroyed: plugin objects may outlive static teardown
  return *state;
}

[[noreturn]] void fail(const std::string& path, const std::string& what, ErrorCode code = ErrorCode::kPlugin) {
  detail::throw_error(code, "plugin ", path, ": ", what);
}

std::string message_text(const char* buffer) {
  std::string m(buffer, strnlen(buffer, kMessageSize - 1));
  return m.empty() ? std::string("(no message)") : m;
}

void fill_guard(float* p) {
  for (int64_t i = 0; i < kGuard; ++i) std::memcpy(p + i, &kCanaryBits, sizeof kCanaryBits);
}
bool guard_intact(const float* p) {
  for (int64_t i = 0; i < kGuard; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    if (bits != kCanaryBits) return false;
  }
  return true;
}

bool valid_name(const char* name) {
  if (!name || !*name) return false;
  for (const char* c = name; *c; ++c)
    if (!(std::isalnum(static_cast<unsigned char>(*c)) || *c == '_' || *c == '-' || *c == '.')) return false;
  return true;
}

const char* type_name(int32_t type) {
  switch (type) {
    case CFF_PLUGIN_PARAM_NUMBER: return "number";
    case CFF_PLUGIN_PARAM_INTEGER: return "integer";
    case CFF_PLUGIN_PARAM_STRING: return "string";
  }
  return "?";
}

// Parses one parameter's text by its declared type; false if it does not parse.
bool parse_value(int32_t type, const std::string& text, cff_plugin_value& out) {
  out = {text.c_str(), 0.0, 0};
  if (type == CFF_PLUGIN_PARAM_STRING) return true;
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  if (type == CFF_PLUGIN_PARAM_INTEGER) {
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE) return false;
    out.integer = v;
    out.number = static_cast<double>(v);
    return true;
  }
  const double v = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  out.number = v;
  return true;
}

// The parsed values of `params` in declared order; kInvalidArgument naming the file if one does
// not parse. The texts point into `given`, which must outlive the result.
std::vector<cff_plugin_value> parse_values(const Library& lib, const char* kind, const char* provider,
                                           const cff_plugin_param* params, uint32_t count, const Params& given) {
  std::vector<cff_plugin_value> values(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string& text = given.text(params[i].name);
    if (!parse_value(params[i].type, text, values[i]))
      fail(lib.path,
           std::string(kind) + " '" + provider + "': parameter " + params[i].name + " must be " +
               (params[i].type == CFF_PLUGIN_PARAM_INTEGER ? "an integer" : "a finite number") + ", got '" + text +
               "'",
           ErrorCode::kInvalidArgument);
  }
  return values;
}

std::vector<ParamSpec> param_specs(const cff_plugin_param* params, uint32_t count) {
  std::vector<ParamSpec> out;
  for (uint32_t i = 0; i < count; ++i)
    out.push_back({params[i].name, params[i].default_value,
                   std::string(params[i].description ? params[i].description : "") + " (" +
                       type_name(params[i].type) + ")"});
  return out;
}

// Rethrows the exception in flight with the plugin's file and provider in front of its message.
[[noreturn]] void rethrow_named(const std::string& who) {
  try {
    throw;
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kPlugin, who + ": " + e.what());
  } catch (...) {
    throw Error(ErrorCode::kPlugin, who + ": threw an unknown exception");
  }
}

// ---- C-ABI losses ---------------------------------------------------------------------------------

class CLoss : public LocalLoss {
 public:
  CLoss(LibraryPtr lib, const cff_plugin_loss* entry, void* instance)
      : lib_(std::move(lib)), entry_(entry), instance_(instance) {}
  ~CLoss() override { entry_->destroy(instance_); }
  CLoss(const CLoss&) = delete;
  CLoss& operator=(const CLoss&) = delete;

  LossInputs inputs() const override {
    return entry_->inputs == CFF_PLUGIN_INPUTS_VIEWS ? LossInputs::kViews : LossInputs::kPositiveNegative;
  }

  torch::Tensor forward(const LossBatch& batch) override {
    const auto& f = batch.features;
    const bool views = entry_->inputs == CFF_PLUGIN_INPUTS_VIEWS;
    CFF_CHECK(views ? (f.size() == 1 || f.size() == 2) : f.size() == 2, who(), ": expected ",
              views ? "1 or 2 views" : "2 feature sets (positive, negative)", ", got ", f.size());
    for (const auto& t : f)
      CFF_CHECK(t.defined() && t.dim() == 2 && t.sizes() == f[0].sizes(), who(),
                ": every feature set must be N x D with the same N and D");
    CFF_CHECK(batch.labels.dim() == 1 && batch.labels.size(0) == f[0].size(0), who(), ": expected ", f[0].size(0),
              " labels, got ", batch.labels.numel());
    auto z = f.size() == 1 ? f[0] : torch::cat(f, 0);
    if (!z.is_floating_point()) z = z.to(torch::kFloat);
    const bool need = torch::GradMode::is_enabled() && z.requires_grad();
    // The plugin's analytic gradient is wired into autograd, so a C loss trains like a built-in.
    auto [value, gradient] = evaluate(z, batch.labels, static_cast<int64_t>(f.size()), need);
    return need ? with_precomputed_gradient(z, value, gradient) : value;
  }

  // Calls the plugin on host copies; returns the loss (a float32 scalar) and its gradient
  // (undefined unless needed), both on z's device.
  std::pair<torch::Tensor, torch::Tensor> evaluate(const torch::Tensor& z, const torch::Tensor& labels, int64_t sets,
                                                   bool need_gradient) const {
    const auto zc = z.detach().to(torch::kCPU, torch::kFloat).contiguous();
    const auto lc = labels.detach().to(torch::kCPU, torch::kLong).contiguous();
    const int64_t n = zc.size(0) / sets, d = zc.size(1), total = zc.numel();
    auto grad = torch::zeros({total + kGuard}, torch::kFloat);
    fill_guard(grad.data_ptr<float>() + total);
    cff_plugin_loss_batch in{zc.data_ptr<float>(), sets, n, d, lc.data_ptr<int64_t>(), need_gradient ? 1 : 0};
    cff_plugin_loss_output out{0.0, grad.data_ptr<float>(), total, -1};
    char message[kMessageSize] = {0};
    const int32_t status = entry_->forward(instance_, &in, &out, message, sizeof message);
    if (!guard_intact(grad.data_ptr<float>() + total))
      fail(lib_->path, "loss '" + std::string(entry_->name) + "' wrote past the end of its gradient buffer (" +
                           std::to_string(total) + " floats)");
    if (status != 0)
      fail(lib_->path, "loss '" + std::string(entry_->name) + "' failed (status " + std::to_string(status) +
                           "): " + message_text(message));
    if (!std::isfinite(out.value))
      fail(lib_->path, "loss '" + std::string(entry_->name) + "' returned a non-finite loss (" +
                           std::to_string(out.value) + ")");
    torch::Tensor g;
    if (need_gradient) {
      if (out.gradient_size != total)
        fail(lib_->path, "loss '" + std::string(entry_->name) + "' returned a gradient of " +
                             (out.gradient_size < 0 ? std::string("unreported size")
                                                    : std::to_string(out.gradient_size) + " floats") +
                             ", expected " + std::to_string(sets) + " x " + std::to_string(n) + " x " +
                             std::to_string(d) + " = " + std::to_string(total));
      g = grad.narrow(0, 0, total).view({sets * n, d});
      if (!torch::isfinite(g).all().item<bool>())
        fail(lib_->path, "loss '" + std::string(entry_->name) + "' returned a non-finite gradient");
      g = g.to(z.device(), z.scalar_type());
    }
    // The loss and gradient come back in the features' dtype (float32 from the trainer; float64
    // in the gradient check), though the plugin always sees float32.
    auto value = torch::tensor(out.value, torch::TensorOptions().dtype(torch::kDouble));
    return {value.to(z.device(), z.scalar_type()), g};
  }

 private:
  std::string who() const { return "plugin " + lib_->path + ": loss '" + entry_->name + "'"; }

  LibraryPtr lib_;  // declared first: released last, after the instance is destroyed
  const cff_plugin_loss* entry_;
  void* instance_;
};

// ---- C-ABI augmentations -------------------------------------------------------------------------

class CAugmentation : public Augmentation {
 public:
  CAugmentation(LibraryPtr lib, const cff_plugin_augmentation* entry, void* instance)
      : lib_(std::move(lib)), entry_(entry), instance_(instance) {}
  ~CAugmentation() override { entry_->destroy(instance_); }
  CAugmentation(const CAugmentation&) = delete;
  CAugmentation& operator=(const CAugmentation&) = delete;

  torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const override {
    CFF_CHECK(images.defined() && images.dim() == 4 && images.is_floating_point(), "plugin ", lib_->path,
              ": augmentation '", entry_->name, "': expected N x C x H x W floating-point images");
    const auto x = images.detach().to(torch::kCPU, torch::kFloat).contiguous();
    const int64_t total = x.numel();
    auto out = torch::zeros({total + kGuard}, torch::kFloat);
    fill_guard(out.data_ptr<float>() + total);
    cff_plugin_images in{x.data_ptr<float>(), x.size(0), x.size(1), x.size(2), x.size(3)};
    char message[kMessageSize] = {0};
    const int32_t status = entry_->apply(instance_, &in, seed, out.data_ptr<float>(), message, sizeof message);
    const std::string who = "augmentation '" + std::string(entry_->name) + "'";
    if (!guard_intact(out.data_ptr<float>() + total))
      fail(lib_->path, who + " wrote past the end of its output buffer (" + std::to_string(total) + " floats)");
    if (status != 0) fail(lib_->path, who + " failed (status " + std::to_string(status) + "): " + message_text(message));
    auto result = out.narrow(0, 0, total).view(x.sizes());
    if (!torch::isfinite(result).all().item<bool>()) fail(lib_->path, who + " wrote non-finite pixels");
    return result.to(images.device(), images.scalar_type());
  }

 private:
  LibraryPtr lib_;
  const cff_plugin_augmentation* entry_;
  void* instance_;
};

// ---- C++ providers ------------------------------------------------------------------------------

class CxxLoss : public LocalLoss {
 public:
  CxxLoss(LibraryPtr lib, std::unique_ptr<LocalLoss> inner, std::string who)
      : lib_(std::move(lib)), inner_(std::move(inner)), who_(std::move(who)) {}
  LossInputs inputs() const override { return inner_->inputs(); }
  torch::Tensor forward(const LossBatch& batch) override {
    torch::Tensor loss;
    try {
      loss = inner_->forward(batch);
    } catch (...) {
      rethrow_named(who_);
    }
    CFF_CHECK_CODE(loss.defined() && loss.numel() == 1, ErrorCode::kPlugin, who_, ": did not return a scalar");
    return loss;
  }

 private:
  LibraryPtr lib_;  // declared first: released after inner_, whose code lives in the library
  std::unique_ptr<LocalLoss> inner_;
  std::string who_;
};

class CxxAugmentation : public Augmentation {
 public:
  CxxAugmentation(LibraryPtr lib, std::unique_ptr<Augmentation> inner, std::string who)
      : lib_(std::move(lib)), inner_(std::move(inner)), who_(std::move(who)) {}
  torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const override {
    torch::Tensor out;
    try {
      out = inner_->apply(images, seed);
    } catch (...) {
      rethrow_named(who_);
    }
    CFF_CHECK_CODE(out.defined() && out.sizes() == images.sizes(), ErrorCode::kPlugin, who_,
                   ": changed the batch shape");
    return out;
  }

 private:
  LibraryPtr lib_;
  std::unique_ptr<Augmentation> inner_;
  std::string who_;
};

// ---- validation and registration ----------------------------------------------------------------

void check_params(const Library& lib, const std::string& provider, const cff_plugin_param* params, uint32_t count) {
  if (count > kMaxEntries || (count > 0 && !params)) fail(lib.path, provider + ": malformed parameter list");
  std::set<std::string> seen;
  for (uint32_t i = 0; i < count; ++i) {
    const auto& p = params[i];
    if (!valid_name(p.name)) fail(lib.path, provider + ": parameter " + std::to_string(i) + " has no valid name");
    if (!seen.insert(p.name).second) fail(lib.path, provider + ": parameter '" + p.name + "' declared twice");
    if (p.type < CFF_PLUGIN_PARAM_NUMBER || p.type > CFF_PLUGIN_PARAM_STRING)
      fail(lib.path, provider + ": parameter '" + p.name + "' has unknown type " + std::to_string(p.type));
    if (!p.default_value) fail(lib.path, provider + ": parameter '" + p.name + "' has no default");
    cff_plugin_value v;
    if (!parse_value(p.type, p.default_value, v))
      fail(lib.path,
           provider + ": the default of parameter '" + p.name + "' ('" + p.default_value + "') is not a " +
               type_name(p.type),
           ErrorCode::kInvalidArgument);
  }
}

void check_descriptor(const Library& lib) {
  const auto* d = lib.desc;
  if (d->abi_version == 0) fail(lib.path, "declares no plugin ABI version (abi_version is 0)");
  if (d->abi_version != CFF_PLUGIN_ABI_VERSION)
    fail(lib.path, "was built for plugin ABI version " + std::to_string(d->abi_version) + ", this libcff (" +
                       version() + ") loads version " + std::to_string(CFF_PLUGIN_ABI_VERSION) +
                       " only; rebuild it against this libcff's cff_plugin.h");
  if (d->kind != CFF_PLUGIN_KIND_C && d->kind != CFF_PLUGIN_KIND_CXX)
    fail(lib.path, "declares unknown plugin kind " + std::to_string(d->kind) + " (1 = C, 2 = C++)");
  const bool cxx = d->kind == CFF_PLUGIN_KIND_CXX;
  if (cxx) {
    auto same = [&](const char* theirs, const char* ours, const char* what) {
      if (!theirs || std::strcmp(theirs, ours) != 0)
        fail(lib.path, std::string("is a C++ plugin built against ") + what + " '" + (theirs ? theirs : "(none)") +
                           "', but this libcff uses '" + ours + "'; C++ plugins must match exactly (or use the C kind)");
    };
    same(d->cff_version, CFF_VERSION_STRING, "libcff");
    same(d->torch_version, TORCH_VERSION, "LibTorch");
    same(d->cxx_abi, CFF_PLUGIN_CXX_ABI, "compiler/C++ ABI");
  }
  if (d->num_losses > kMaxEntries || (d->num_losses > 0 && !d->losses) || d->num_augmentations > kMaxEntries ||
      (d->num_augmentations > 0 && !d->augmentations))
    fail(lib.path, "malformed descriptor (provider counts and arrays disagree)");
  if (d->num_losses + d->num_augmentations == 0) fail(lib.path, "provides no loss and no augmentation");
  std::set<std::string> names;
  for (uint32_t i = 0; i < d->num_losses; ++i) {
    const auto& e = d->losses[i];
    if (!valid_name(e.name)) fail(lib.path, "loss " + std::to_string(i) + " has no valid name ([A-Za-z0-9_.-]+)");
    const std::string who = "loss '" + std::string(e.name) + "'";
    if (!names.insert(std::string("loss:") + e.name).second) fail(lib.path, who + " is declared twice");
    if (e.inputs != CFF_PLUGIN_INPUTS_VIEWS && e.inputs != CFF_PLUGIN_INPUTS_POSITIVE_NEGATIVE)
      fail(lib.path, who + " declares unknown inputs " + std::to_string(e.inputs));
    if (cxx ? !e.cxx_factory : (!e.create || !e.forward || !e.destroy))
      fail(lib.path, who + (cxx ? " has no C++ factory" : " lacks create, forward or destroy"));
    check_params(lib, who, e.params, e.num_params);
  }
  for (uint32_t i = 0; i < d->num_augmentations; ++i) {
    const auto& e = d->augmentations[i];
    if (!valid_name(e.name))
      fail(lib.path, "augmentation " + std::to_string(i) + " has no valid name ([A-Za-z0-9_.-]+)");
    const std::string who = "augmentation '" + std::string(e.name) + "'";
    if (!names.insert(std::string("augment:") + e.name).second) fail(lib.path, who + " is declared twice");
    if (cxx ? !e.cxx_factory : (!e.create || !e.apply || !e.destroy))
      fail(lib.path, who + (cxx ? " has no C++ factory" : " lacks create, apply or destroy"));
    check_params(lib, who, e.params, e.num_params);
  }
}

LossFactory loss_factory(const LibraryPtr& lib, const cff_plugin_loss* e, bool cxx) {
  return [lib, e, cxx](const Params& p, const LossContext& ctx) -> std::unique_ptr<LocalLoss> {
    const std::string who = "plugin " + lib->path + ": loss '" + e->name + "'";
    const auto values = parse_values(*lib, "loss", e->name, e->params, e->num_params, p);
    if (cxx) {
      std::unique_ptr<LocalLoss> inner;
      try {
        inner = reinterpret_cast<plugin::LossMaker>(e->cxx_factory)(p, ctx);
      } catch (...) {
        rethrow_named(who);
      }
      CFF_CHECK_CODE(inner != nullptr, ErrorCode::kPlugin, who, ": the factory returned no object");
      const auto declared =
          e->inputs == CFF_PLUGIN_INPUTS_VIEWS ? LossInputs::kViews : LossInputs::kPositiveNegative;
      CFF_CHECK_CODE(inner->inputs() == declared, ErrorCode::kPlugin, who,
                     ": the object's inputs() differ from the descriptor's");
      return std::make_unique<CxxLoss>(lib, std::move(inner), who);
    }
    const cff_plugin_loss_context c{ctx.layer, ctx.num_layers, ctx.num_classes};
    void* instance = nullptr;
    char message[kMessageSize] = {0};
    const int32_t status = e->create(&detail::plugin_host(), values.data(), &c, &instance, message, sizeof message);
    CFF_CHECK_CODE(status == 0, ErrorCode::kPlugin, who, ": create failed (status ", status,
                   "): ", message_text(message));
    return std::make_unique<CLoss>(lib, e, instance);
  };
}

AugmentFactory augment_factory(const LibraryPtr& lib, const cff_plugin_augmentation* e, bool cxx) {
  return [lib, e, cxx](const Params& p) -> std::unique_ptr<Augmentation> {
    const std::string who = "plugin " + lib->path + ": augmentation '" + e->name + "'";
    const auto values = parse_values(*lib, "augmentation", e->name, e->params, e->num_params, p);
    if (cxx) {
      std::unique_ptr<Augmentation> inner;
      try {
        inner = reinterpret_cast<plugin::AugmentMaker>(e->cxx_factory)(p);
      } catch (...) {
        rethrow_named(who);
      }
      CFF_CHECK_CODE(inner != nullptr, ErrorCode::kPlugin, who, ": the factory returned no object");
      return std::make_unique<CxxAugmentation>(lib, std::move(inner), who);
    }
    void* instance = nullptr;
    char message[kMessageSize] = {0};
    const int32_t status = e->create(&detail::plugin_host(), values.data(), &instance, message, sizeof message);
    CFF_CHECK_CODE(status == 0, ErrorCode::kPlugin, who, ": create failed (status ", status,
                   "): ", message_text(message));
    return std::make_unique<CAugmentation>(lib, e, instance);
  };
}

std::string canonical_or_absolute(const std::string& path) {
  std::error_code ec;
  auto p = fs::canonical(path, ec);
  if (ec) p = fs::absolute(path, ec);
  return p.string();
}

// FNV-1a 64 of a file's bytes, 16 hex digits ("" if it cannot be read).
std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  uint64_t h = 1469598103934665603ull;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ uint8_t(buf[i])) * 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// The origin of the provider `name` in `registry` ("built-in", a file path), or "" if it has none.
template <typename Table>
std::string origin_in(const Table& registry, const std::string& name) {
  for (const auto& p : registry.list())
    if (p.name == name) return p.origin;
  return "";
}

}  // namespace

PluginInfo load_plugin(const std::string& path_in) {
  CFF_CHECK(!path_in.empty(), "load_plugin: empty path");
  const std::string path = canonical_or_absolute(path_in);
  auto& state = loader();
  std::lock_guard<std::recursive_mutex> lock(state.mutex);
  for (const auto& l : state.loaded)
    if (l.info.path == path) return l.info;

  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "no such file");
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");

  auto lib = std::make_shared<Library>();
  lib->path = path;
  try {
    // rtld_now: an unresolved symbol fails here, with dlerror's text, not in the middle of training.
    lib->lib.load(fs::path(path), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    // Boost.DLL's text is "...load() failed (dlerror system message: <dlerror>): <errno text>";
    // the errno text is stale (often "Bad file descriptor"), so only dlerror's part is kept.
    std::string why = e.what();
    const std::string tag = "dlerror system message: ";
    const size_t from = why.find(tag), to = why.rfind("): ");
    if (from != std::string::npos && to != std::string::npos && to > from)
      why = why.substr(from + tag.size(), to - from - tag.size());
    fail(path, "not a loadable shared library: " + why);
  }
  if (!lib->lib.has(CFF_PLUGIN_ENTRY_NAME))
    fail(path, "does not export " CFF_PLUGIN_ENTRY_NAME " (not a libcff plugin, or the entry is not extern \"C\" "
               "with default visibility)");
  const auto describe = lib->lib.get<const cff_plugin_descriptor*()>(CFF_PLUGIN_ENTRY_NAME);
  lib->desc = describe();
  if (!lib->desc) fail(path, CFF_PLUGIN_ENTRY_NAME " returned NULL");
  check_descriptor(*lib);

  const auto* d = lib->desc;
  const bool cxx = d->kind == CFF_PLUGIN_KIND_CXX;
  PluginInfo info;
  info.path = path;
  info.name = d->name ? d->name : fs::path(path).stem().string();
  info.kind = cxx ? "c++" : "c";

  auto& losses = loss_registry();
  auto& augments = augment_registry();
  for (uint32_t i = 0; i < d->num_losses; ++i) {
    const auto origin = origin_in(losses, d->losses[i].name);
    if (!origin.empty())
      fail(path, std::string("duplicate loss name '") + d->losses[i].name + "': already registered by " + origin);
  }
  for (uint32_t i = 0; i < d->num_augmentations; ++i) {
    const auto origin = origin_in(augments, d->augmentations[i].name);
    if (!origin.empty())
      fail(path, std::string("duplicate augmentation name '") + d->augmentations[i].name +
                     "': already registered by " + origin);
  }

  LibraryPtr shared = lib;
  std::vector<std::string> added_losses, added_augments;
  try {
    for (uint32_t i = 0; i < d->num_losses; ++i) {
      const auto& e = d->losses[i];
      ProviderInfo p{e.name, e.description ? e.description : "", param_specs(e.params, e.num_params), path};
      losses.add(p, loss_factory(shared, &e, cxx));
      added_losses.push_back(e.name);
      info.losses.push_back(std::move(p));
    }
    for (uint32_t i = 0; i < d->num_augmentations; ++i) {
      const auto& e = d->augmentations[i];
      ProviderInfo p{e.name, e.description ? e.description : "", param_specs(e.params, e.num_params), path};
      augments.add(p, augment_factory(shared, &e, cxx));
      added_augments.push_back(e.name);
      info.augmentations.push_back(std::move(p));
    }
  } catch (const Error& e) {  // a name taken meanwhile by a caller of Registry::add: all or nothing
    for (const auto& n : added_losses) losses.remove(n);
    for (const auto& n : added_augments) augments.remove(n);
    fail(path, e.what());
  }
  state.loaded.push_back({shared, info, file_hash(path)});
  return info;
}

bool unload_plugin(const std::string& path_in) {
  const std::string path = canonical_or_absolute(path_in);
  auto& state = loader();
  std::lock_guard<std::recursive_mutex> lock(state.mutex);
  auto it = std::find_if(state.loaded.begin(), state.loaded.end(),
                         [&](const Loaded& l) { return l.info.path == path; });
  if (it == state.loaded.end()) return false;
  for (const auto& p : it->info.losses) loss_registry().remove(p.name);
  for (const auto& p : it->info.augmentations) augment_registry().remove(p.name);
  state.loaded.erase(it);  // the library closes when the last object created from it is destroyed
  return true;
}

std::vector<PluginInfo> loaded_plugins() {
  auto& state = loader();
  std::lock_guard<std::recursive_mutex> lock(state.mutex);
  std::vector<PluginInfo> out;
  for (const auto& l : state.loaded) out.push_back(l.info);
  return out;
}

std::vector<std::string> plugin_search_path() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("CFF_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      const auto colon = s.find(':', start);
      const auto part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty()) out.push_back(part);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&plugin_abi_version), &self) && self.dli_fname) {
    std::error_code ec;
    const auto lib = fs::canonical(self.dli_fname, ec);
    if (!ec) out.push_back((lib.parent_path() / "cff" / "plugins").string());
  }
  return out;
}

const DiscoveryReport& discover_plugins() {
  static DiscoveryReport* report = [] {
    auto* r = new DiscoveryReport();
    const char* autoload = std::getenv("CFF_PLUGIN_AUTOLOAD");
    if (autoload && std::string(autoload) == "0") return r;
    for (const auto& dir : plugin_search_path()) {
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(kPluginFilePrefix, 0) == 0 && entry.path().extension() == ".so")
          files.push_back(entry.path().string());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        try {
          r->loaded.push_back(load_plugin(f));
        } catch (const std::exception& e) {
          r->failed.emplace_back(f, e.what());
        }
      }
    }
    return r;
  }();
  return *report;
}

ProviderListing list_providers() {
  discover_plugins();
  ProviderListing out{loss_registry().list(), augment_registry().list()};
  return out;  // Registry::list() is sorted by name (a std::map)
}

namespace {
// If `name` is still unknown to the registry of `kind` after discovery, a sentence listing the
// discovery failures (empty if none): the registries' miss hook.
// The origin of a registered provider of `kind` ("loss" or "augmentation"), or "".
std::string origin_of(const std::string& kind, const std::string& provider) {
  return kind == "loss" ? origin_in(loss_registry(), provider) : origin_in(augment_registry(), provider);
}

std::string plugin_hint(const char* kind, const std::string& name) {
  const auto& report = discover_plugins();
  if (!origin_of(kind, name).empty() || report.failed.empty()) return "";
  std::string out = std::to_string(report.failed.size()) + " plugin file(s) failed to load:";
  for (const auto& [file, why] : report.failed) out += " [" + why + "]";
  return out;
}

// The registries know nothing of plugins: this module tells them what to do with an unknown name.
[[maybe_unused]] const bool g_miss_hooks_installed = [] {
  loss_registry().set_miss_hook([](const std::string& name) { return plugin_hint("loss", name); });
  augment_registry().set_miss_hook([](const std::string& name) { return plugin_hint("augmentation", name); });
  return true;
}();

// The hash the loaded plugin file at `path` had when it was loaded ("" if it is not loaded).
std::string loaded_hash(const std::string& path) {
  auto& state = loader();
  std::lock_guard<std::recursive_mutex> lock(state.mutex);
  for (const auto& l : state.loaded)
    if (l.info.path == path) return l.hash;
  return "";
}
}  // namespace

std::vector<PluginRef> plugins_used(const std::string& loss_spec, const std::string& augment_spec) {
  std::vector<std::pair<std::string, std::string>> named;  // kind, provider
  if (!loss_spec.empty()) named.emplace_back("loss", Spec::parse(loss_spec).name);
  if (!augment_spec.empty() && augment_spec != "none")
    for (const auto& s : Spec::parse_pipeline(augment_spec)) named.emplace_back("augmentation", s.name);
  std::vector<PluginRef> out;
  for (const auto& [kind, provider] : named) {
    const std::string origin = origin_of(kind, provider);
    if (origin.empty() || origin == "built-in") continue;
    out.push_back({fs::path(origin).filename().string(), provider, kind, loaded_hash(origin)});
  }
  return out;
}

void require_plugins(const std::vector<PluginRef>& refs) {
  for (const auto& ref : refs) {
    std::string origin = origin_of(ref.kind, ref.provider);
    if (origin.empty()) {
      discover_plugins();
      origin = origin_of(ref.kind, ref.provider);
    }
    CFF_CHECK_CODE(!origin.empty(), ErrorCode::kPlugin, "the model was trained with plugin ", ref.file, " (", ref.kind,
                   " '", ref.provider, "'), which is not loaded: load it (cff --plugin PATH, cff::load_plugin, "
                   "cff_plugin_load) or put it in a folder of CFF_PLUGIN_PATH");
    if (origin != "built-in" && !ref.hash.empty() && loaded_hash(origin) != ref.hash)
      log_message(LogLevel::kWarning, ref.kind + " '" + ref.provider + "' comes from " + origin +
                                          ", which differs from the " + ref.file + " the model was trained with");
  }
}

}  // namespace cff
