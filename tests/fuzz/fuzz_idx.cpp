// The IDX reader (images and labels, plain and gzip'd) on the fuzzer's bytes: the first byte picks
// images or labels and whether the rest is written gzip'd (zlib's gzwrite), so both paths see
// well-formed and broken headers.
#include <zlib.h>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cff::fuzz::scratch();
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string path;
  if (mode & 2) {
    path = (cff::fuzz::scratch() / "idx.gz").string();
    gzFile f = gzopen(path.c_str(), "wb1");
    if (size > 1) gzwrite(f, data + 1, unsigned(size - 1));
    gzclose(f);
  } else {
    path = cff::fuzz::write_file("idx", data + 1, size - 1);
  }
  CFF_FUZZ_EXPECTING_ERRORS({
    const auto t = mode & 1 ? cff::read_idx_labels(path) : cff::read_idx_images(path);
    if (!t.defined()) std::abort();
  });
  return 0;
}
