#pragma once
/// @file plugins.hpp
/// Loading plugins (shared libraries written against the SDK headers cff_plugin.h or
/// cff/plugin_sdk.hpp) into the loss and augmentation registries, discovering them, and listing
/// every provider, built-in or plugin. A plugin's providers are looked up exactly like built-ins
/// (by spec, through make_loss / AugmentPipeline); their ProviderInfo::origin is the file's path.
/// This module installs the registries' miss hook (registry.hpp): a spec naming an unknown
/// provider runs discover_plugins() once and then resolves again.
///
/// Every function here is thread-safe. Failures throw cff::Error with code kPlugin (the file or
/// its behaviour) or kInvalidArgument (parameters), and the message names the plugin file.

#include <string>
#include <utility>
#include <vector>

#include "cff/options.hpp"
#include "cff/registry.hpp"

namespace cff {

/// The plugin ABI version this libcff loads (CFF_PLUGIN_ABI_VERSION of its SDK header).
int plugin_abi_version();

/// What one loaded plugin file provides.
struct PluginInfo {
  std::string path;  ///< canonical absolute path of the file
  std::string name;  ///< the name the plugin gives itself
  std::string kind;  ///< "c" or "c++"
  std::vector<ProviderInfo> losses;
  std::vector<ProviderInfo> augmentations;
};

/// Loads the shared library at `path`, checks its descriptor and registers its providers (all or
/// none). Loading a file that is already loaded returns its info again. Throws kPlugin for a
/// missing or unloadable file, a missing `cff_plugin_describe`, a wrong ABI version, a C++ plugin
/// built against another libcff / LibTorch / compiler ABI, a malformed descriptor or a name that
/// is already registered (naming both files); kInvalidArgument for a default that does not parse.
/// The library stays loaded while the registry or any object it created refers to it.
PluginInfo load_plugin(const std::string& path);

/// Removes the providers of a loaded plugin from the registries. Objects already created keep
/// the library loaded until they are destroyed. Returns false if the file is not loaded.
bool unload_plugin(const std::string& path);

/// Every loaded plugin, in load order.
std::vector<PluginInfo> loaded_plugins();

/// The folders searched by discover_plugins(), in order: every entry of CFF_PLUGIN_PATH
/// (colon-separated), then `<folder of libcff.so>/cff/plugins` (the installed plugin folder,
/// ${CMAKE_INSTALL_LIBDIR}/cff/plugins; in a build tree, where the shipped plugins are built).
std::vector<std::string> plugin_search_path();

/// Result of a discovery pass: what loaded and what did not (file, reason).
struct DiscoveryReport {
  std::vector<PluginInfo> loaded;
  std::vector<std::pair<std::string, std::string>> failed;
};

/// Discovery loads only files whose names start with this (and end in ".so"), so a plugin folder
/// may hold other libraries: e.g. libcff-plugin-randaugment.so.
constexpr const char* kPluginFilePrefix = "libcff-plugin-";

/// Loads every `libcff-plugin-*.so` file (directly) in every folder of plugin_search_path(), once
/// per process; later calls return the first report. A file that fails is skipped and reported,
/// so one bad file does not hide the others; an unknown name in a spec then mentions the
/// failures. Call it to load everything up front (the C API's cff_plugins_discover()); otherwise
/// the first spec naming an unknown provider, and list_providers(), call it.
/// Set CFF_PLUGIN_AUTOLOAD=0 to disable it (explicit load_plugin still works).
const DiscoveryReport& discover_plugins();

/// Every registered provider (after discovery), built-in and plugin, sorted by name.
struct ProviderListing {
  std::vector<ProviderInfo> losses;
  std::vector<ProviderInfo> augmentations;
};
ProviderListing list_providers();

/// The plugins whose providers `loss_spec` and `augment_spec` name (built-in providers are left
/// out), as TrainOptions::plugins records them: file name, provider, kind and the file's hash.
std::vector<PluginRef> plugins_used(const std::string& loss_spec, const std::string& augment_spec);

/// Makes sure every provider `refs` names is registered, discovering plugins if one is not.
/// Throws kPlugin naming the file, the provider and how to provide it ("--plugin PATH" or a
/// folder of CFF_PLUGIN_PATH) when it is still missing. A provider found in a file whose hash
/// differs from the recorded one is used, with a warning through the log handler (log.hpp).
void require_plugins(const std::vector<PluginRef>& refs);

}  // namespace cff
