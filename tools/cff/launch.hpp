#pragma once
// cff train --nproc N: starts N local ranks of this same command with torchrun's environment
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT = a free
// port) and waits for them. SIGINT/SIGTERM reach every rank; when one rank fails, the others get
// a grace period to report their own error and are then killed: no child outlives the launcher.
#include <cstdint>
#include <string>
#include <vector>

namespace cff::tool {

/// The command line main() was given, for launchers that re-run it.
extern std::vector<std::string> g_argv;

/// False in a rank other than 0 started by launch_local_ranks() (it marks its children).
bool is_reporting_rank();

/// Runs `args` (argv[0] first; --nproc removed) as `nproc` ranks; returns the first failing
/// rank's exit code (128 + signal for a killed one), or 0.
int launch_local_ranks(int64_t nproc, const std::vector<std::string>& args);

}  // namespace cff::tool
