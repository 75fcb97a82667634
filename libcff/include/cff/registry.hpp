#pragma once
/// @file registry.hpp
/// Name -> provider tables for local losses and augmentations, and the `name:key=value,...` specs
/// that select them. Built-in providers and plugins register here alike; the trainer only ever
/// looks providers up by the spec it is given.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cff/error.hpp"

namespace cff {

/// One parameter a provider accepts, with its default written as text.
struct ParamSpec {
  std::string name;
  std::string default_value;
  std::string description;
};

/// Parameter values for one provider: every declared parameter is present (defaults filled in).
class Params {
 public:
  Params() = default;
  Params(std::string owner, std::map<std::string, std::string> values)
      : owner_(std::move(owner)), values_(std::move(values)) {}
  /// The raw text of a parameter; throws kInvalidArgument if it was never declared.
  const std::string& text(const std::string& name) const;
  double get_double(const std::string& name) const;  ///< throws unless the text is a finite number
  int64_t get_int(const std::string& name) const;    ///< throws unless the text is an integer
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::string owner_;
  std::map<std::string, std::string> values_;
};

/// A parsed `name:key=value,key=value` spec.
struct Spec {
  std::string name;
  std::map<std::string, std::string> values;
  /// Throws kInvalidArgument on an empty name, a pair without '=', or a repeated key.
  static Spec parse(const std::string& text);
  /// Splits a pipeline `a:x=1+b+c:y=2` at '+' and parses each part.
  static std::vector<Spec> parse_pipeline(const std::string& text);
};

/// Where a provider came from, for listings and error messages.
struct ProviderInfo {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  std::string origin = "built-in";  ///< "built-in" or the plugin file's path
};

/// A thread-safe table of named factories. `Factory` is a std::function returning a unique_ptr.
template <typename Factory>
class Registry {
 public:
  struct Entry {
    ProviderInfo info;
    Factory factory;
  };
  /// Called by resolve() for a name the table does not hold, before it fails: it may register
  /// providers (the plugin module installs one that runs plugin discovery, plugins.hpp) and
  /// returns a sentence to add to the error ("" for none). Called without the table's lock.
  using MissHook = std::function<std::string(const std::string& name)>;

  /// Installs the miss hook (an empty function removes it).
  void set_miss_hook(MissHook hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    miss_hook_ = std::move(hook);
  }

  /// Adds a provider; throws kInvalidArgument if the name is taken (naming both origins).
  void add(ProviderInfo info, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(info.name);
    CFF_CHECK(it == entries_.end(), "duplicate provider name '", info.name, "': already registered by ",
              it->second.info.origin, ", again by ", info.origin);
    std::string name = info.name;
    entries_.emplace(name, Entry{std::move(info), std::move(factory)});
  }
  /// Removes a provider (used when a plugin is unloaded); unknown names are ignored.
  void remove(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(name);
  }
  bool contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.count(name) != 0;
  }
  /// Looks a spec up and checks its parameters: unknown keys are rejected, defaults filled in.
  /// Returns a copy of the entry so the factory may be called without holding the lock.
  std::pair<Entry, Params> resolve(const Spec& spec, const char* kind) const {
    std::string hint;
    if (!contains(spec.name)) {
      MissHook hook;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        hook = miss_hook_;
      }
      if (hook) hint = hook(spec.name);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(spec.name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [name, entry] : entries_) known += (known.empty() ? "" : ", ") + name;
      detail::throw_error(ErrorCode::kInvalidArgument, "unknown ", kind, " '", spec.name, "' (available: ", known,
                          ")", hint.empty() ? "" : "; ", hint);
    }
    std::map<std::string, std::string> values;
    for (const auto& p : it->second.info.params) values[p.name] = p.default_value;
    for (const auto& [key, value] : spec.values) {
      CFF_CHECK(values.count(key), kind, " '", spec.name, "' has no parameter '", key, "'");
      values[key] = value;
    }
    return {it->second, Params(spec.name, std::move(values))};
  }
  std::vector<ProviderInfo> list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<ProviderInfo> out;
    for (const auto& [name, entry] : entries_) out.push_back(entry.info);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  MissHook miss_hook_;
};

}  // namespace cff
