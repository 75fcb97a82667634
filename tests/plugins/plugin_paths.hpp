#pragma once
// Paths of the plugins the test suite builds (set by tests/plugins/CMakeLists.txt).
#include <string>

namespace cff::test {
inline std::string broken_plugin(const std::string& mode) {
  return std::string(CFF_TEST_BROKEN_DIR) + "/libcff-plugin-broken_" + mode + ".so";
}
inline std::string sample_plugin(const std::string& name) {
  return std::string(CFF_TEST_SAMPLES_DIR) + "/libcff-plugin-" + name + ".so";
}
inline std::string shipped_plugin(const std::string& name) {
  return std::string(CFF_TEST_PLUGIN_DIR) + "/libcff-plugin-" + name + ".so";
}
}  // namespace cff::test
