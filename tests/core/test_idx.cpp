// The IDX reader on files written byte by byte: plain and gzip'd, and every malformed case.
#include <zlib.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace cff {
namespace {

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::string s = be32(magic) + be32(n) + be32(rows) + be32(cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) s.push_back(char(i % 251));
  return s;
}

std::string idx_labels(uint32_t n) {
  std::string s = be32(0x801) + be32(n);
  for (uint32_t i = 0; i < n; ++i) s.push_back(char(i % 10));
  return s;
}

void write_plain(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

class IdxTest : public ::testing::Test {
 protected:
  test::TempDir dir;
};

TEST_F(IdxTest, ReadsPlainAndGzipFolders) {
  write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_images(7, 3, 4));
  write_gzip(dir.file("train-labels-idx1-ubyte.gz"), idx_labels(7));
  write_plain(dir.file("t10k-images-idx3-ubyte"), idx_images(2, 3, 4));
  write_plain(dir.file("t10k-labels-idx1-ubyte"), idx_labels(2));
  const auto train = load_idx_folder(dir.path.string(), "train");
  EXPECT_EQ(train.images.sizes(), torch::IntArrayRef({7, 1, 3, 4}));
  EXPECT_EQ(train.images[1][0][0][1].item<uint8_t>(), 13);  // byte 12 + 1 of the data
  EXPECT_EQ(train.labels[6].item<int64_t>(), 6);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(load_idx_folder(dir.path.string(), "test").size(), 2);
}

TEST_F(IdxTest, RejectsBadMagicTruncationAndMismatchedCounts) {
  write_plain(dir.file("magic"), idx_images(2, 2, 2, 0x0c03));
  test::expect_error([&] { read_idx_images(dir.file("magic")); }, ErrorCode::kFormat, "bad IDX magic");
  write_plain(dir.file("labels-as-images"), idx_labels(4));
  test::expect_error([&] { read_idx_images(dir.file("labels-as-images")); }, ErrorCode::kFormat, "bad IDX magic");
  auto bytes = idx_images(3, 4, 4);
  write_plain(dir.file("short"), bytes.substr(0, bytes.size() - 5));
  test::expect_error([&] { read_idx_images(dir.file("short")); }, ErrorCode::kFormat, "(truncated)");
  write_plain(dir.file("long"), bytes + "xx");
  test::expect_error([&] { read_idx_images(dir.file("long")); }, ErrorCode::kFormat,
                     "trailing data after the 48 data bytes the header declares");
  write_plain(dir.file("tiny"), "ab");
  test::expect_error([&] { read_idx_labels(dir.file("tiny")); }, ErrorCode::kFormat, "too short");
  test::expect_error([&] { read_idx_labels(dir.file("absent")); }, ErrorCode::kIo, "no such file");

  // A gzip stream cut in half.
  write_gzip(dir.file("whole.gz"), idx_images(50, 8, 8));
  std::ifstream in(dir.file("whole.gz"), std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_plain(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
  try {
    read_idx_images(dir.file("cut.gz"));
    ADD_FAILURE() << "a truncated gzip file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
    EXPECT_NE(std::string(e.what()).find("cut.gz"), std::string::npos);
  }

  write_plain(dir.file("train-images-idx3-ubyte"), idx_images(5, 2, 2));
  write_plain(dir.file("train-labels-idx1-ubyte"), idx_labels(4));
  test::expect_error([&] { load_idx_folder(dir.path.string(), "train"); }, ErrorCode::kFormat, "5 images but 4 labels");
  test::expect_error([&] { load_idx_folder(dir.path.string(), "test"); }, ErrorCode::kIo, "no t10k-images-idx3-ubyte");
}

// Hostile headers: sizes are checked (overflow-free) against the limit before any allocation,
// and a gzip stream is decompressed only up to the size its header declares.
class IdxLimitsTest : public IdxTest {
 protected:
  InputLimits saved = input_limits();
  void TearDown() override { set_input_limits(saved); }
};

TEST_F(IdxLimitsTest, DimensionProductsNeverWrap) {
  // 16 x 2^30 x 2^30 = 2^64 wraps to 0 in 64 bits: the message must not claim 0 bytes.
  write_plain(dir.file("wrap"), be32(0x803) + be32(16) + be32(1u << 30) + be32(1u << 30));
  test::expect_error([&] { read_idx_images(dir.file("wrap")); }, ErrorCode::kFormat,
                     "16 x 1073741824 x 1073741824 = at least 2^64 bytes of data, above the limit");
  // (2^32-1)^3 bytes: the exact product would overflow too; the message names the dimensions.
  write_plain(dir.file("max"), be32(0x803) + be32(0xffffffffu) + be32(0xffffffffu) + be32(0xffffffffu));
  test::expect_error([&] { read_idx_images(dir.file("max")); }, ErrorCode::kFormat,
                     "4294967295 x 4294967295 x 4294967295 = at least 2^64");
  write_plain(dir.file("big"), be32(0x803) + be32(2) + be32(65536) + be32(65536));
  test::expect_error([&] { read_idx_images(dir.file("big")); }, ErrorCode::kFormat,
                     "2 x 65536 x 65536 = 8589934592 bytes of data, above the limit of 4.0 GiB (--max-data-size)");
}

TEST_F(IdxLimitsTest, GzipStopsAtTheDeclaredSize) {
  InputLimits l = saved;
  l.max_data_bytes = 1 << 20;  // 1 MiB
  set_input_limits(l);
  // A header declaring 64 MiB is refused before anything is decompressed.
  write_gzip(dir.file("declared.gz"), be32(0x803) + be32(64) + be32(1024) + be32(1024));
  test::expect_error([&] { read_idx_images(dir.file("declared.gz")); }, ErrorCode::kFormat,
                     "declared.gz: header declares 64 x 1024 x 1024 = 67108864 bytes of data, above the limit of 1.0 MiB");
  // A header declaring 4 bytes followed by 32 MiB of zeros (a 32 KiB file): the reader stops
  // after the 4 bytes and one more, it never holds the 32 MiB.
  std::string bomb = be32(0x803) + be32(1) + be32(2) + be32(2) + std::string(4, 'x');
  bomb += std::string(size_t(32) << 20, '\0');
  write_gzip(dir.file("bomb.gz"), bomb);
  EXPECT_LT(std::filesystem::file_size(dir.file("bomb.gz")), size_t(1) << 20);
  test::expect_error([&] { read_idx_images(dir.file("bomb.gz")); }, ErrorCode::kFormat,
                     "bomb.gz: trailing data after the 4 data bytes");
}

TEST_F(IdxLimitsTest, NonRegularFilesAreRefusedWithoutReading) {
  std::filesystem::create_directories(dir.file("train-images-idx3-ubyte"));
  test::expect_error([&] { read_idx_images(dir.file("train-images-idx3-ubyte")); }, ErrorCode::kIo,
                     "train-images-idx3-ubyte: is a folder, not a file");
  test::expect_error([&] { read_idx_images("/dev/zero"); }, ErrorCode::kIo, "/dev/zero: not a regular file (a device)");
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  test::expect_error([&] { read_idx_images(dir.file("fifo")); }, ErrorCode::kIo, "fifo: not a regular file (a FIFO)");
}

TEST_F(IdxLimitsTest, ClassesComeFromTheLabelsAndTheFormat) {
  write_plain(dir.file("train-images-idx3-ubyte"), idx_images(4, 2, 2));
  // A stray 255 among labels 0..2 is an error, not 256 classes.
  write_plain(dir.file("train-labels-idx1-ubyte"), be32(0x801) + be32(4) + std::string({0, 1, 2, char(255)}));
  test::expect_error([&] { load_idx_folder(dir.path.string(), "train"); }, ErrorCode::kFormat,
                     "label 255 occurs but 252 smaller labels never do (the first is 3)");
  // EMNIST-style: every class 0..11 present gives 12 classes.
  write_plain(dir.file("train-images-idx3-ubyte"), idx_images(12, 2, 2));
  std::string labels = be32(0x801) + be32(12);
  for (char c = 0; c < 12; ++c) labels.push_back(c);
  write_plain(dir.file("train-labels-idx1-ubyte"), labels);
  EXPECT_EQ(load_idx_folder(dir.path.string(), "train").num_classes, 12);
  // One class only: refused for training, as an image folder with one class folder is.
  write_plain(dir.file("train-images-idx3-ubyte"), idx_images(3, 2, 2));
  write_plain(dir.file("train-labels-idx1-ubyte"), be32(0x801) + be32(3) + std::string(3, char(4)));
  test::expect_error([&] { load_idx_folder(dir.path.string(), "train"); }, ErrorCode::kFormat,
                     "every training label is 4; classification needs at least two classes");
}

}  // namespace
}  // namespace cff
