// CIFAR-10/100 binary folders written byte by byte; format detection for every format.
#include "data_util.hpp"

namespace cff::test {
namespace {

// One record: label bytes, then 3072 pixel bytes (R plane, G plane, B plane) = (i + p) % 256.
std::vector<uint8_t> records(int n, const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    for (const auto& l : labels) out.push_back(l[size_t(i)]);
    for (int p = 0; p < 3072; ++p) out.push_back(uint8_t((i + p) % 256));
  }
  return out;
}

class CifarTest : public ::testing::Test {
 protected:
  TempDir dir;
};

TEST_F(CifarTest, Cifar10BatchesAndNames) {
  const auto root = dir.file("c10");
  for (int b = 1; b <= 5; ++b) write_bytes(root + "/data_batch_" + std::to_string(b) + ".bin", records(2, {{uint8_t(b), 9}}));
  write_bytes(root + "/test_batch.bin", records(3, {{0, 1, 2}}));
  const std::string names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
  write_bytes(root + "/batches.meta.txt", std::vector<uint8_t>(names.begin(), names.end()));
  EXPECT_EQ(detect_format(root), DataFormat::kCifar10);
  EXPECT_TRUE(has_test_part(root));
  const auto train = load_cifar_folder(root, "train");
  ASSERT_EQ(train.size(), 10);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_EQ(train.labels[0].item<int64_t>(), 1);
  EXPECT_EQ(train.labels[1].item<int64_t>(), 9);
  EXPECT_EQ(train.labels[8].item<int64_t>(), 5);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.class_names.at(9), "truck");
  // Record 1 of batch 1, channel G (plane 1), pixel (2, 3): p = 1024 + 2*32 + 3.
  EXPECT_EQ(train.images[1][1][2][3].item<int>(), (1 + 1024 + 67) % 256);
  const auto test = load_cifar_folder(root, "test");
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(test.labels[2].item<int64_t>(), 2);
}

TEST_F(CifarTest, Cifar100FineAndCoarse) {
  const auto root = dir.file("c100/cifar-100-binary");
  write_bytes(root + "/train.bin", records(4, {{1, 2, 3, 19}, {10, 20, 99, 0}}));
  write_bytes(root + "/test.bin", records(1, {{5}, {55}}));
  EXPECT_EQ(detect_format(dir.file("c100")), DataFormat::kCifar100);
  const auto fine = load_cifar_folder(dir.file("c100"), "train");
  EXPECT_EQ(fine.num_classes, 100);
  EXPECT_EQ(fine.labels[2].item<int64_t>(), 99);
  const auto coarse = load_cifar_folder(dir.file("c100"), "train", true);
  EXPECT_EQ(coarse.num_classes, 20);
  EXPECT_EQ(coarse.labels[3].item<int64_t>(), 19);
  EXPECT_EQ(open_data(dir.file("c100"), "test")->label(0), 55);
}

TEST_F(CifarTest, TruncatedAndBadLabels) {
  auto bytes = records(2, {{1, 2}});
  bytes.pop_back();
  write_bytes(dir.file("t/test_batch.bin"), bytes);
  expect_error([&] { load_cifar_folder(dir.file("t"), "test"); }, ErrorCode::kFormat,
               "test_batch.bin: 6145 bytes is not a whole number of 3073-byte CIFAR records");
  write_bytes(dir.file("l/test_batch.bin"), records(2, {{1, 10}}));
  expect_error([&] { load_cifar_folder(dir.file("l"), "test"); }, ErrorCode::kFormat, "record 1 has label 10");
  expect_error([&] { load_cifar_folder(dir.file("l"), "train"); }, ErrorCode::kIo, "data_batch_1.bin: no such file");
}

TEST_F(CifarTest, IdxFolderIsDetectedAndOpened) {
  // A 2-image IDX set written byte by byte.
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
  write_bytes(dir.file("idx/t10k-images-idx3-ubyte"), images);
  write_bytes(dir.file("idx/t10k-labels-idx1-ubyte"), labels);
  EXPECT_EQ(detect_format(dir.file("idx")), DataFormat::kIdx);
  EXPECT_TRUE(has_test_part(dir.file("idx")));
  const auto src = open_data(dir.file("idx"), "test");
  ASSERT_EQ(src->size(), 2);
  EXPECT_EQ(src->label(1), 7);
  std::vector<uint8_t> px(4);
  src->read(1, px.data());
  EXPECT_EQ(px, (std::vector<uint8_t>{5, 6, 7, 8}));
  expect_error([&] { detect_format(dir.file("nothing")); }, ErrorCode::kIo, "nothing: no such file or folder");
}

TEST_F(CifarTest, HostileFoldersGiveClearErrors) {
  // test.bin a folder: an IO error naming it.
  std::filesystem::create_directories(dir.file("d/test.bin"));
  write_bytes(dir.file("d/train.bin"), records(2, {{0, 1}, {0, 1}}));
  expect_error([&] { load_cifar_folder(dir.file("d"), "test"); }, ErrorCode::kIo, "d/test.bin: is a folder");
  // One class only: refused for training (as an image folder with one class folder is).
  write_bytes(dir.file("one/data_batch_1.bin"), records(3, {{4, 4, 4}}));
  expect_error([&] { load_cifar_folder(dir.file("one"), "train"); }, ErrorCode::kFormat,
               "every training label is 4; classification needs at least two classes");
  // Above the data limit: refused from the file sizes, before reading.
  const auto saved = input_limits();
  InputLimits l = saved;
  l.max_data_bytes = 3072;
  set_input_limits(l);
  write_bytes(dir.file("two/test_batch.bin"), records(2, {{0, 1}}));
  expect_error([&] { load_cifar_folder(dir.file("two"), "test"); }, ErrorCode::kFormat,
               "holds 6.0 KiB of images, above the limit of 3.0 KiB (--max-data-size)");
  set_input_limits(saved);
  // Class names that are not UTF-8 are refused at load time, naming the file.
  write_bytes(dir.file("two/batches.meta.txt"), {'c', 'a', 't', 0xff, '\n'});
  expect_error([&] { load_cifar_folder(dir.file("two"), "test"); }, ErrorCode::kFormat,
               "batches.meta.txt: class names are not valid UTF-8");
}

}  // namespace
}  // namespace cff::test
