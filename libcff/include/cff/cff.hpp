#pragma once
/// @file cff.hpp
/// libcff's C++ API in one include. Namespace `cff`.

#include "cff/augment.hpp"
#include "cff/data.hpp"
#include "cff/diagnostics.hpp"
#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "cff/loader.hpp"
#include "cff/log.hpp"
#include "cff/losses.hpp"
#include "cff/model.hpp"
#include "cff/options.hpp"
#include "cff/parallel.hpp"
#include "cff/plugins.hpp"
#include "cff/registry.hpp"
#include "cff/runtime.hpp"
#include "cff/trainer.hpp"
#include "cff/version.hpp"
