// Image decoding through libcff's own loader (decode_image(): the limits, stb_image, resizing,
// channel conversion), as read_image() and image folders use it. The first byte picks the
// channels and target size.
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cff::fuzz::scratch();
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const int64_t channels = std::array<int64_t, 4>{0, 1, 3, 4}[mode & 3];
  const int64_t side = (mode >> 2) & 3 ? 4 * ((mode >> 2) & 3) : 0;
  const auto resize = (mode >> 4) & 1 ? cff::ResizeMode::kStretch : cff::ResizeMode::kCrop;
  CFF_FUZZ_EXPECTING_ERRORS({
    const auto t = cff::decode_image("fuzz", data + 1, size - 1, channels, side, side, resize);
    if (t.dim() != 3) std::abort();
  });
  return 0;
}
