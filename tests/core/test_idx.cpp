// The IDX reader on files written byte by byte: plain and gzip'd, and every malformed case.
#include <zlib.h>

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
  test::expect_error([&] { read_idx_images(dir.file("long")); }, ErrorCode::kFormat, "header says 48 data bytes");
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

}  // namespace
}  // namespace cff
