#pragma once
/// @file plugin_sdk.hpp
/// The C++ kind of libcff plugin: providers are ordinary cff::LocalLoss / cff::Augmentation
/// classes working on LibTorch tensors (with autograd, on any device, no copies). The plugin must
/// be built with the same compiler family, standard-library ABI, libcff version and LibTorch
/// version as the libcff that loads it; the descriptor records all four and libcff refuses a
/// mismatch. A sketch:
///
///     #include <cff/plugin_sdk.hpp>
///     std::unique_ptr<cff::LocalLoss> make_mine(const cff::Params& p, const cff::LossContext& ctx) {...}
///     static const cff_plugin_param kParams[] = {{"tau", CFF_PLUGIN_PARAM_NUMBER, "0.1", "temperature"}};
///     static const cff_plugin_loss kLosses[] = {
///         cff::plugin::loss("mine", "one line", CFF_PLUGIN_INPUTS_VIEWS, kParams, 1, make_mine)};
///     CFF_PLUGIN_CXX_DEFINE("my-plugin", kLosses, 1, nullptr, 0)
///
/// Factories may throw (cff::Error or any std::exception): libcff catches it and reports it with
/// the plugin's file name. Objects they return are destroyed through their virtual destructor,
/// i.e. by the plugin's own code, and libcff keeps the library loaded while any of them lives.

#include <torch/version.h>

#include <memory>

#include "cff/augment.hpp"
#include "cff/losses.hpp"
#include "cff/version.hpp"
#include "cff_plugin.h"

#define CFF_PLUGIN_STR2(x) #x
#define CFF_PLUGIN_STR(x) CFF_PLUGIN_STR2(x)

/// The compiler family and C++ standard-library ABI a C++ plugin and libcff must share.
#if defined(__clang__)
#define CFF_PLUGIN_COMPILER "clang"
#elif defined(__GNUC__)
#define CFF_PLUGIN_COMPILER "gcc"
#else
#define CFF_PLUGIN_COMPILER "other"
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define CFF_PLUGIN_CXX_ABI CFF_PLUGIN_COMPILER "/libstdc++ cxx11-abi=" CFF_PLUGIN_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define CFF_PLUGIN_CXX_ABI CFF_PLUGIN_COMPILER "/libc++ abi=" CFF_PLUGIN_STR(_LIBCPP_ABI_VERSION)
#else
#define CFF_PLUGIN_CXX_ABI CFF_PLUGIN_COMPILER "/unknown"
#endif

namespace cff::plugin {

/// A C++ loss factory: the same signature as a cff::LossFactory, as a plain function.
using LossMaker = std::unique_ptr<LocalLoss> (*)(const Params&, const LossContext&);
/// A C++ augmentation factory.
using AugmentMaker = std::unique_ptr<Augmentation> (*)(const Params&);

/// A descriptor entry for a C++ loss. `params` must be a static array.
inline cff_plugin_loss loss(const char* name, const char* description, cff_plugin_loss_inputs inputs,
                            const cff_plugin_param* params, uint32_t num_params, LossMaker make) {
  return {name, description, inputs, params, num_params, nullptr, nullptr, nullptr,
          reinterpret_cast<cff_plugin_cxx_factory_fn>(make)};
}

/// A descriptor entry for a C++ augmentation. `params` must be a static array.
inline cff_plugin_augmentation augmentation(const char* name, const char* description, const cff_plugin_param* params,
                                            uint32_t num_params, AugmentMaker make) {
  return {name, description, params, num_params, nullptr, nullptr, nullptr,
          reinterpret_cast<cff_plugin_cxx_factory_fn>(make)};
}

}  // namespace cff::plugin

/// Defines the entry point of a C++ plugin named `plugin_name` providing the static arrays
/// `losses` (num_losses entries) and `augmentations` (num_augmentations entries).
#define CFF_PLUGIN_CXX_DEFINE(plugin_name, losses, num_losses, augmentations, num_augmentations)               \
  extern "C" CFF_PLUGIN_EXPORT const cff_plugin_descriptor* cff_plugin_describe(void) {                        \
    static const cff_plugin_descriptor descriptor = {CFF_PLUGIN_ABI_VERSION, CFF_PLUGIN_KIND_CXX, plugin_name,  \
                                                     CFF_VERSION_STRING,     TORCH_VERSION,       CFF_PLUGIN_CXX_ABI, \
                                                     losses,                 num_losses,          augmentations, \
                                                     num_augmentations};                                      \
    return &descriptor;                                                                                        \
  }
