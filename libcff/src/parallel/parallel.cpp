// ParallelOptions, the launch environment (torchrun / srun conventions) and the stage split.
#include "cff/parallel.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "cff/error.hpp"

namespace cff {

void ParallelOptions::validate() const {
  CFF_CHECK(stages >= 0, "parallel: stages must be >= 0 (0 = automatic), got ", stages);
  CFF_CHECK(queue_depth >= 1 && queue_depth <= 1024, "parallel: queue depth must be in 1..1024, got ", queue_depth);
  CFF_CHECK(std::isfinite(timeout_seconds) && timeout_seconds > 0 && timeout_seconds <= 86400,
            "parallel: timeout must be in (0, 86400] seconds, got ", timeout_seconds);
  CFF_CHECK(!(pipeline && mode != ParallelMode::kNone),
            "parallel: the in-process pipeline and --parallel ", to_string(mode),
            " cannot be combined (use --parallel pipeline across ranks)");
  CFF_CHECK(mode != ParallelMode::kPipelineData || stages >= 1,
            "parallel: pipeline,data needs a stage count (--stages S; world size = S x replicas)");
}

bool distributed_available() {
#ifdef CFF_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

namespace {
// The first of `names` that is set, as an integer in [lo, hi]; `fallback` when none is set
// (nullopt: required).
int64_t env_int(std::initializer_list<const char*> names, int64_t lo, int64_t hi, std::optional<int64_t> fallback) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v, &end, 10);
    CFF_CHECK(errno == 0 && end != v && *end == '\0' && x >= lo && x <= hi, name, " must be an integer in ", lo, "..",
              hi, ", got '", v, "'");
    return x;
  }
  CFF_CHECK(fallback.has_value(), *names.begin(),
            " is not set: a distributed run needs the launch environment (RANK, WORLD_SIZE, MASTER_ADDR, "
            "MASTER_PORT); start it with cff train --nproc N, torchrun or srun");
  return *fallback;
}
}  // namespace

LaunchEnvironment launch_environment() {
  LaunchEnvironment env;
  env.world_size = env_int({"WORLD_SIZE", "SLURM_NTASKS"}, 1, 65536, std::nullopt);
  env.rank = env_int({"RANK", "SLURM_PROCID"}, 0, env.world_size - 1, std::nullopt);
  env.local_rank = env_int({"LOCAL_RANK", "SLURM_LOCALID"}, 0, 65535, 0);
  const char* addr = std::getenv("MASTER_ADDR");
  CFF_CHECK(addr != nullptr && *addr != '\0',
            "MASTER_ADDR is not set: a distributed run needs the host of rank 0 (127.0.0.1 on one machine); "
            "start it with cff train --nproc N, torchrun or srun");
  env.master_addr = addr;
  env.master_port = env_int({"MASTER_PORT"}, 1, 65535, std::nullopt);
  return env;
}

std::vector<std::pair<int64_t, int64_t>> split_stages(int64_t layers, int64_t stages, const std::vector<double>& costs) {
  CFF_CHECK(stages >= 1 && stages <= layers, "cannot split ", layers, " layer(s) into ", stages,
            " stage(s): each stage needs at least one layer");
  CFF_CHECK(costs.empty() || int64_t(costs.size()) == layers, "split_stages: ", costs.size(), " costs for ", layers,
            " layers");
  std::vector<double> c = costs.empty() ? std::vector<double>(size_t(layers), 1.0) : costs;
  for (double x : c) CFF_CHECK(std::isfinite(x) && x >= 0, "split_stages: costs must be finite and >= 0");
  std::vector<double> prefix(size_t(layers) + 1, 0.0);
  for (int64_t l = 0; l < layers; ++l) prefix[size_t(l) + 1] = prefix[size_t(l)] + c[size_t(l)];
  auto cost = [&](int64_t a, int64_t b) { return prefix[size_t(b)] - prefix[size_t(a)]; };
  // best[s][l]: the smallest largest-stage cost of layers 0..l-1 in s stages; cut[s][l] its last cut.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(size_t(stages) + 1, std::vector<double>(size_t(layers) + 1, inf));
  std::vector<std::vector<int64_t>> cut(size_t(stages) + 1, std::vector<int64_t>(size_t(layers) + 1, 0));
  best[0][0] = 0;
  for (int64_t s = 1; s <= stages; ++s)
    for (int64_t l = s; l <= layers; ++l)
      for (int64_t k = l - 1; k >= s - 1; --k) {  // the last stage holds layers k..l-1; fewest layers first
        const double v = std::max(best[size_t(s) - 1][size_t(k)], cost(k, l));
        if (v < best[size_t(s)][size_t(l)] - 1e-12 * std::max(1.0, v)) {
          best[size_t(s)][size_t(l)] = v;
          cut[size_t(s)][size_t(l)] = k;
        }
      }
  std::vector<std::pair<int64_t, int64_t>> out(static_cast<size_t>(stages));
  for (int64_t s = stages, l = layers; s >= 1; --s) {
    const int64_t k = cut[size_t(s)][size_t(l)];
    out[size_t(s) - 1] = {k, l};
    l = k;
  }
  return out;
}

}  // namespace cff
