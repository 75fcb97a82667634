// Config JSON: parse, validate, and the round trip to_json -> from_json of what validated.
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cff::fuzz::scratch();
  const std::string text(reinterpret_cast<const char*>(data), size);
  CFF_FUZZ_EXPECTING_ERRORS({
    const auto c = cff::Config::from_json(text);
    c.validate();
    if (cff::Config::from_json(c.to_json()).to_json() != c.to_json()) std::abort();
  });
  return 0;
}
