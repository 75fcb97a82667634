// The CIFAR binary reader on the fuzzer's bytes as a CIFAR-10 test_batch.bin or a CIFAR-100
// test.bin (first byte), with an optional class-name file (second byte: its length).
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const auto dir = cff::fuzz::scratch() / "cifar";
  if (size < 2) return 0;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const bool hundred = data[0] & 1;
  const size_t names = std::min<size_t>(data[1], size - 2);
  const auto file = (dir / (hundred ? "test.bin" : "test_batch.bin")).string();
  FILE* f = std::fopen(file.c_str(), "wb");
  std::fwrite(data + 2 + names, 1, size - 2 - names, f);
  std::fclose(f);
  if (names) {
    f = std::fopen((dir / (hundred ? "fine_label_names.txt" : "batches.meta.txt")).c_str(), "wb");
    std::fwrite(data + 2, 1, names, f);
    std::fclose(f);
  }
  CFF_FUZZ_EXPECTING_ERRORS({
    const auto d = cff::load_cifar_folder(dir.string(), "test", (data[0] & 2) != 0);
    d.validate();
  });
  return 0;
}
