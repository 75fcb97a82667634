// The checkpoint loader. First byte even: the rest is the file as it is (the envelope's checks).
// Odd: the rest is a payload wrapped in a valid envelope (size and CRC-32 fixed up), so the
// fuzzer reaches LibTorch's archive, the config and the shape checks behind the envelope. A
// loaded model must predict (finite or a kNumerics refusal) without crashing.
#include <zlib.h>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cff::fuzz::scratch();
  if (size < 1) return 0;
  std::string bytes;
  if (data[0] & 1) {
    const char magic[8] = {'C', 'F', 'F', 'C', 'K', 'P', 'T', '\0'};
    bytes.assign(magic, 8);
    auto put = [&](uint64_t v, int n) {
      for (int i = 0; i < n; ++i) bytes.push_back(char((v >> (8 * i)) & 0xff));
    };
    put(1, 4);
    put(size - 1, 8);
    put(crc32(crc32(0L, Z_NULL, 0), data + 1, uInt(size - 1)), 4);
    bytes.append(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    bytes.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  }
  const auto path = cff::fuzz::write_file("m.cff", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  CFF_FUZZ_EXPECTING_ERRORS({
    auto t = cff::Trainer::load(path, "cpu");
    const auto m = t.config().model;
    const auto x = torch::zeros({2, m.channels, m.height, m.width}, torch::kUInt8);
    (void)t.predict(x);
  });
  return 0;
}
