#pragma once
// Internal: the host table libcff hands to every C-kind plugin's create (cff_plugin.h).
#include "cff_plugin.h"

namespace cff::detail {
/// The process-wide host table; static, never changes.
const cff_plugin_host& plugin_host();
}  // namespace cff::detail
