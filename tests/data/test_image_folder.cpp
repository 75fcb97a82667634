// Image folders: layout, class ids, decoding of each format, size/channel rules, bad inputs.
#include <fstream>
#include <mutex>
#include <sys/stat.h>

#include "data_util.hpp"

namespace cff::test {
namespace {

class ImageFolderTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string root() const { return dir.file("images"); }
};

TEST_F(ImageFolderTest, SortedClassesLabelsAndExactPixels) {
  write_folder(root(), {"zebra", "ant", "moth"}, 3, 6, 5);
  ImageFolder f(root());
  EXPECT_EQ(f.class_names, (std::vector<std::string>{"ant", "moth", "zebra"}));
  EXPECT_EQ(f.num_classes, 3);
  ASSERT_EQ(f.size(), 9);
  EXPECT_EQ(f.channels, 1);
  EXPECT_EQ(f.height, 6);
  EXPECT_EQ(f.width, 5);
  // Sorted order: ant/img0..2, moth/img0..2, zebra/img0..2; zebra was written as class 0.
  EXPECT_EQ(f.label(0), 0);
  EXPECT_EQ(f.label(8), 2);
  EXPECT_NE(f.describe(8).find("zebra/img2.png"), std::string::npos);
  std::vector<uint8_t> px(30);
  ASSERT_TRUE(f.read(8, px.data()));
  EXPECT_TRUE(torch::equal(torch::from_blob(px.data(), {1, 6, 5}, torch::kUInt8), pattern_chw(1, 6, 5, 2)));
  ASSERT_TRUE(f.read(0, px.data()));  // ant/img0 was written with seed 1*100+0
  EXPECT_TRUE(torch::equal(torch::from_blob(px.data(), {1, 6, 5}, torch::kUInt8), pattern_chw(1, 6, 5, 100)));
}

TEST_F(ImageFolderTest, EveryStbFormatDecodes) {
  const auto px = pattern(3, 4, 6, 7);
  const std::string d = root() + "/a/";
  std::filesystem::create_directories(d);
  ASSERT_TRUE(stbi_write_png((d + "x.png").c_str(), 6, 4, 3, px.data(), 18));
  ASSERT_TRUE(stbi_write_bmp((d + "x.bmp").c_str(), 6, 4, 3, px.data()));
  ASSERT_TRUE(stbi_write_tga((d + "x.tga").c_str(), 6, 4, 3, px.data()));
  ASSERT_TRUE(stbi_write_jpg((d + "x.jpg").c_str(), 6, 4, 3, px.data(), 100));
  // PNM (binary PPM) written byte by byte.
  std::vector<uint8_t> ppm = {'P', '6', '\n', '6', ' ', '4', '\n', '2', '5', '5', '\n'};
  ppm.insert(ppm.end(), px.begin(), px.end());
  write_bytes(d + "x.ppm", ppm);
  const auto expected = pattern_chw(3, 4, 6, 7);
  for (const char* ext : {"png", "bmp", "tga", "ppm"})
    EXPECT_TRUE(torch::equal(read_image(d + "x." + ext), expected)) << ext;
  // JPEG is lossy: close, not equal.
  const auto jpg = read_image(d + "x.jpg").to(torch::kFloat);
  EXPECT_LT((jpg - expected.to(torch::kFloat)).abs().mean().item<double>(), 12.0);
}

TEST_F(ImageFolderTest, ChannelRules) {
  write_png(root() + "/a/gray.png", 1, 4, 4, 1);
  write_png(root() + "/b/rgba.png", 4, 4, 4, 2);
  ImageFolder f(root());
  EXPECT_EQ(f.channels, 3);  // not every image is gray -> RGB
  std::vector<uint8_t> px(48);
  ASSERT_TRUE(f.read(0, px.data()));  // gray repeated into R, G, B
  const auto gray = pattern_chw(1, 4, 4, 1);
  const auto rgb = torch::from_blob(px.data(), {3, 4, 4}, torch::kUInt8);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(torch::equal(rgb[k], gray[0]));
  ASSERT_TRUE(f.read(1, px.data()));  // RGBA: alpha dropped
  EXPECT_TRUE(torch::equal(torch::from_blob(px.data(), {3, 4, 4}, torch::kUInt8), pattern_chw(4, 4, 4, 2).narrow(0, 0, 3)));
  ImageFolderOptions gray_opts;
  gray_opts.channels = 1;
  ImageFolder g(root(), gray_opts);
  EXPECT_EQ(g.channels, 1);
  TempDir only_gray;
  write_folder(only_gray.file("r"), {"a", "b"}, 1);
  EXPECT_EQ(ImageFolder(only_gray.file("r")).channels, 1);
}

TEST_F(ImageFolderTest, CenterCropAndStretchRules) {
  // A 4 x 8 image (h x w) whose left and right quarters are 0 and middle half is 200.
  std::vector<uint8_t> px(32, 0);
  for (int y = 0; y < 4; ++y)
    for (int x = 2; x < 6; ++x) px[size_t(y * 8 + x)] = 200;
  const std::string path = dir.file("wide.png");
  ASSERT_TRUE(stbi_write_png(path.c_str(), 8, 4, 1, px.data(), 8));
  // Crop to 4 x 4: scale 1, cut the centre 4 columns -> all 200.
  const auto crop = read_image(path, 1, 4, 4, ResizeMode::kCrop);
  EXPECT_EQ(crop.sizes(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_EQ(crop.min().item<int>(), 200);
  // Stretch to 4 x 4 keeps the dark sides.
  const auto stretch = read_image(path, 1, 4, 4, ResizeMode::kStretch);
  EXPECT_LT(stretch[0][0][0].item<int>(), 60);
  EXPECT_GT(stretch[0][0][2].item<int>(), 150);
  // Upscaling: 2 x 2 of a 4 x 8 image -> the centre, any value between
  EXPECT_EQ(read_image(path, 1, 8, 8, ResizeMode::kCrop).sizes(), (std::vector<int64_t>{1, 8, 8}));
  expect_error([&] { read_image(path, 1, 4, 4, ResizeMode::kNone); }, ErrorCode::kFormat, "image is 8x4, expected 4x4");
}

TEST_F(ImageFolderTest, TargetSizeFromOptionsResizesEveryImage) {
  write_png(root() + "/a/big.png", 1, 12, 10, 1);
  write_png(root() + "/b/small.png", 1, 6, 6, 2);
  ImageFolderOptions o;
  o.height = o.width = 8;
  ImageFolder f(root(), o);
  EXPECT_EQ(f.height, 8);
  const auto d = to_dataset(f, 2);
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
}

TEST_F(ImageFolderTest, MismatchedSizesWithoutResizing) {
  write_png(root() + "/a/1.png", 1, 8, 8, 1);
  write_png(root() + "/b/2.png", 1, 9, 8, 2);
  ImageFolderOptions o;
  o.resize = ResizeMode::kNone;
  expect_error([&] { ImageFolder f(root(), o); }, ErrorCode::kFormat, "mismatched sizes");
  expect_error([&] { ImageFolder f(root(), o); }, ErrorCode::kFormat, "b/2.png: image is 8x9, expected 8x8");
  EXPECT_NO_THROW(ImageFolder f(root()));  // the default crop rule resizes
}

TEST_F(ImageFolderTest, NonImageFileSkippedOrFatal) {
  write_folder(root(), {"a", "b"}, 2);
  write_bytes(root() + "/b/notes.txt", {'h', 'e', 'l', 'l', 'o'});
  ImageFolderOptions o;
  o.report_skipped = false;
  ImageFolder f(root(), o);
  EXPECT_EQ(f.size(), 4);
  ASSERT_EQ(f.bad_files().size(), 1u);
  EXPECT_NE(f.bad_files()[0].find("b/notes.txt: not an image"), std::string::npos) << f.bad_files()[0];
  o.bad_files = BadFilePolicy::kFail;
  expect_error([&] { ImageFolder g(root(), o); }, ErrorCode::kFormat, "notes.txt: not an image");
}

TEST_F(ImageFolderTest, SkippedFilesGoToTheLogHandlerNotToStderr) {
  write_folder(root(), {"a", "b"}, 2);
  write_bytes(root() + "/b/notes.txt", {'h', 'e', 'l', 'l', 'o'});
  std::mutex mutex;
  std::vector<std::pair<LogLevel, std::string>> got;
  set_log_handler([&](LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    got.emplace_back(level, message);
  });
  testing::internal::CaptureStderr();
  { ImageFolder f(root()); }  // report_skipped is on by default
  const std::string err = testing::internal::GetCapturedStderr();
  set_log_handler(nullptr);
  EXPECT_EQ(err, "");  // the library itself printed nothing
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, LogLevel::kWarning);
  EXPECT_NE(got[0].second.find("skipping " + root() + "/b/notes.txt: not an image"), std::string::npos) << got[0].second;
  // no handler: the message is dropped, nothing is printed
  testing::internal::CaptureStderr();
  { ImageFolder f(root()); }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST_F(ImageFolderTest, TruncatedFileSkippedOrFatal) {
  write_folder(root(), {"a", "b"}, 3, 16, 16);
  // Keep the PNG header (so the scan accepts it) but cut the pixel data.
  const std::string victim = root() + "/a/img1.png";
  auto bytes = read_bytes(victim);
  bytes.resize(bytes.size() / 2);
  write_bytes(victim, bytes);
  ImageFolderOptions o;
  o.report_skipped = false;
  auto f = std::make_shared<ImageFolder>(root(), o);
  ASSERT_EQ(f->size(), 6);
  const auto d = to_dataset(*f, 2);
  EXPECT_EQ(d.size(), 5);
  ASSERT_EQ(f->bad_files().size(), 1u);
  EXPECT_NE(f->bad_files()[0].find("a/img1.png: cannot decode"), std::string::npos) << f->bad_files()[0];
  o.bad_files = BadFilePolicy::kFail;
  ImageFolder g(root(), o);
  expect_error([&] { to_dataset(g, 2); }, ErrorCode::kFormat, "a/img1.png: cannot decode");
}

TEST_F(ImageFolderTest, StructuralErrors) {
  expect_error([&] { ImageFolder f(dir.file("absent")); }, ErrorCode::kIo, "absent: no such folder");
  write_folder(root(), {"only"}, 2);
  expect_error([&] { ImageFolder f(root()); }, ErrorCode::kFormat, "only one class folder (only)");
  std::filesystem::create_directories(root() + "/empty");
  expect_error([&] { ImageFolder f(root()); }, ErrorCode::kFormat, "empty: empty class folder");
  TempDir flat;
  write_png(flat.file("r/x.png"), 1, 4, 4, 0);
  expect_error([&] { ImageFolder f(flat.file("r")); }, ErrorCode::kFormat, "no class folders");
}

TEST_F(ImageFolderTest, ModelClassNamesFixTheLabels) {
  write_folder(root(), {"b", "c"}, 1);
  ImageFolderOptions o;
  o.class_names = {"a", "b", "c"};
  ImageFolder f(root(), o);
  EXPECT_EQ(f.num_classes, 3);
  EXPECT_EQ(f.label(0), 1);
  EXPECT_EQ(f.label(1), 2);
  o.class_names = {"a", "b"};
  expect_error([&] { ImageFolder g(root(), o); }, ErrorCode::kFormat, "class 'c' is not one of the model's classes");
}

TEST_F(ImageFolderTest, TrainAndTestSubfolders) {
  write_folder(root() + "/train", {"a", "b"}, 3);
  write_folder(root() + "/val", {"a", "b"}, 1);
  EXPECT_EQ(detect_format(root()), DataFormat::kImageFolder);
  EXPECT_TRUE(has_test_part(root()));
  EXPECT_EQ(open_data(root(), "train")->size(), 6);
  EXPECT_EQ(open_data(root(), "test")->size(), 2);
  TempDir flat;
  write_folder(flat.file("r"), {"a", "b"}, 2);
  EXPECT_FALSE(has_test_part(flat.file("r")));
  EXPECT_EQ(open_data(flat.file("r"), "train")->size(), 4);
}

// ---- hostile folders ------------------------------------------------------------------------------

// A valid 8x8 PNG whose IHDR then declares `w` x `h` (stb_image does not check chunk CRCs).
std::vector<uint8_t> png_declaring(const std::string& path, uint32_t w, uint32_t h) {
  write_png(path, 1, 8, 8, 1);
  auto bytes = read_bytes(path);
  for (int i = 0; i < 4; ++i) {
    bytes[size_t(16 + i)] = uint8_t(w >> (24 - 8 * i));
    bytes[size_t(20 + i)] = uint8_t(h >> (24 - 8 * i));
  }
  write_bytes(path, bytes);
  return bytes;
}

TEST_F(ImageFolderTest, DeclaredPixelsAreCheckedBeforeDecoding) {
  const auto bytes = png_declaring(dir.file("huge.png"), 46000, 46000);
  expect_error([&] { read_image(dir.file("huge.png")); }, ErrorCode::kFormat,
               "huge.png: image too large (46000x46000, limit 67108864 pixels; --max-image-pixels)");
  expect_error([&] { decode_image("mem", bytes.data(), bytes.size()); }, ErrorCode::kFormat, "mem: image too large");
  // In a folder the scan skips it (with the reason) or, under kFail, refuses it.
  write_folder(root(), {"a", "b"}, 2);
  png_declaring(root() + "/a/huge.png", 46000, 46000);
  ImageFolderOptions quiet;
  quiet.report_skipped = false;
  ImageFolder f(root(), quiet);
  EXPECT_EQ(f.size(), 4);
  ASSERT_EQ(f.bad_files().size(), 1u);
  EXPECT_NE(f.bad_files()[0].find("image too large (46000x46000"), std::string::npos) << f.bad_files()[0];
  ImageFolderOptions fail;
  fail.bad_files = BadFilePolicy::kFail;
  expect_error([&] { ImageFolder(root(), fail); }, ErrorCode::kFormat, "huge.png: image too large");
  // A target size above the limit is refused too.
  ImageFolderOptions big;
  big.height = big.width = 10000;
  expect_error([&] { read_image(root() + "/a/img0.png", 1, 10000, 10000); }, ErrorCode::kFormat, "target size");
  expect_error([&] { ImageFolder(root(), big); }, ErrorCode::kInvalidArgument, "target size 10000x10000 is above");
}

TEST_F(ImageFolderTest, LinksFifosAndDevicesAreSkippedWithTheirPath) {
  namespace fs = std::filesystem;
  write_folder(root(), {"a", "b"}, 2);
  fs::create_symlink("loop", root() + "/a/loop");                 // a symlink loop
  fs::create_symlink("absent.png", root() + "/a/dangling.png");   // a dangling link
  fs::create_directory_symlink("..", root() + "/b/up");           // a folder link (a loop if followed)
  ASSERT_EQ(::mkfifo((root() + "/b/fifo.png").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", root() + "/b/zero.png");        // a device
  ImageFolderOptions o;
  o.report_skipped = false;
  ImageFolder f(root(), o);
  EXPECT_EQ(f.size(), 4);
  const auto bad = f.bad_files();
  ASSERT_EQ(bad.size(), 5u) << ::testing::PrintToString(bad);
  auto has = [&](const std::string& part) {
    for (const auto& b : bad)
      if (b.find(part) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("a/loop: dangling or looping symbolic link"));
  EXPECT_TRUE(has("a/dangling.png: dangling or looping symbolic link"));
  EXPECT_TRUE(has("b/up: symbolic link to a folder (not followed)"));
  EXPECT_TRUE(has("b/fifo.png: a FIFO, not an image file"));
  EXPECT_TRUE(has("b/zero.png: a device, not an image file"));
  o.bad_files = BadFilePolicy::kFail;
  expect_error([&] { ImageFolder(root(), o); }, ErrorCode::kIo, ": dangling or looping symbolic link");
}

TEST_F(ImageFolderTest, UnreadableSubfoldersAreSkipped) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every folder";
  write_folder(root(), {"a", "b"}, 2);
  write_png(root() + "/a/locked/x.png", 1, 8, 8, 3);
  std::filesystem::permissions(root() + "/a/locked", std::filesystem::perms::none);
  ImageFolderOptions o;
  o.report_skipped = false;
  ImageFolder f(root(), o);
  std::filesystem::permissions(root() + "/a/locked", std::filesystem::perms::owner_all);
  EXPECT_EQ(f.size(), 4);
  ASSERT_EQ(f.bad_files().size(), 1u);
  EXPECT_NE(f.bad_files()[0].find("a/locked: unreadable folder"), std::string::npos) << f.bad_files()[0];
}

TEST_F(ImageFolderTest, NonUtf8ClassNamesAreRefusedAtScanTime) {
  write_folder(root(), {"a", std::string("caf\xe9")}, 2);
  expect_error([&] { (void)ImageFolder(root()); }, ErrorCode::kFormat,
               "caf\\xe9: class folder name is not valid UTF-8");
}

// Fuzz finding (fuzz_image, tests/fuzz/regressions/fuzz_image-pnm-zero-width): a PGM header
// whose width field is garbage reads as width 0; resizing it to 8x8 divided by zero inside
// stb_image_resize (UBSan: NaN converted to int).
TEST_F(ImageFolderTest, ImagesWithoutPixelsAreRefused) {
  const std::string pgm("P5\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e 4 4 255\n", 25);
  std::string bytes = pgm;
  for (int i = 0; i < 16; ++i) bytes.push_back(char(i));
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  expect_error([&] { decode_image("zero.pgm", data, bytes.size(), 1, 8, 8, ResizeMode::kStretch); },
               ErrorCode::kFormat, "zero.pgm: ");
  expect_error([&] { decode_image("zero.pgm", data, bytes.size(), 1, 8, 8, ResizeMode::kCrop); }, ErrorCode::kFormat,
               "zero.pgm: ");
}

// Fuzz finding (fuzz_image, tests/fuzz/regressions/fuzz_image-ppm16-to-rgba-overflow): a 16-bit
// PPM (maxval 2025) asked for as RGBA read past its buffer inside stb_image 2.27 (its 8-bit
// channel conversion ran on 16-bit data; ASan: heap-buffer-overflow in stbi__convert_16_to_8).
// libcff now decodes in the file's own channels and converts itself.
TEST_F(ImageFolderTest, SixteenBitPnmInAnotherChannelCount) {
  const std::string ppm("P6 2  205 2025\x06`\x07\n'", 19);
  for (int64_t c : {1, 3, 4}) {
    try {
      const auto t = decode_image("16bit.ppm", reinterpret_cast<const uint8_t*>(ppm.data()), ppm.size(), c, 4, 4,
                                  ResizeMode::kStretch);
      EXPECT_EQ(t.sizes(), (std::vector<int64_t>{c, 4, 4}));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
    }
  }
  // A well-formed 16-bit PGM decodes in any channel count, gray repeated into RGB (the 8-bit
  // values are stb_image 2.27's own: it reads PNM samples in host byte order).
  std::string pgm = "P5 2 1 65535\n";
  for (int v : {0x1234, 0xff00}) {
    pgm.push_back(char(v >> 8));
    pgm.push_back(char(v & 0xff));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(pgm.data());
  const auto gray = decode_image("ok.pgm", bytes, pgm.size(), 1);
  const auto rgb = decode_image("ok.pgm", bytes, pgm.size(), 3);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 1, 2}));
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(torch::equal(rgb[k], gray[0]));
}

// Fuzz finding (fuzz_image, tests/fuzz/regressions/fuzz_image-pnm-integer-overflow): stb_image
// 2.27 parses a PNM header's numbers into an int without an overflow check (UBSan: signed
// overflow in stbi__pnm_getinteger). Such headers are refused before stb_image reads them.
TEST_F(ImageFolderTest, PnmHeaderNumbersCannotOverflow) {
  const std::string ppm = "P6 33333333333333333333333320\n 544\n\x0b";
  expect_error([&] { decode_image("big.ppm", reinterpret_cast<const uint8_t*>(ppm.data()), ppm.size()); },
               ErrorCode::kFormat, "big.ppm: PNM header number of 26 digits");
  const std::string comment = "P5 # a comment\n 4 4 # another\n 255\n" + std::string(16, 'x');
  EXPECT_EQ(decode_image("ok.pgm", reinterpret_cast<const uint8_t*>(comment.data()), comment.size()).sizes(),
            (std::vector<int64_t>{1, 4, 4}));
  write_folder(root(), {"a", "b"}, 2);
  write_bytes(root() + "/a/big.ppm", std::vector<uint8_t>(ppm.begin(), ppm.end()));
  ImageFolderOptions quiet;
  quiet.report_skipped = false;
  ImageFolder f(root(), quiet);
  ASSERT_EQ(f.bad_files().size(), 1u);
  EXPECT_NE(f.bad_files()[0].find("big.ppm: PNM header number of 26 digits"), std::string::npos) << f.bad_files()[0];
}

// Fuzz finding (fuzz_image, tests/fuzz/regressions/fuzz_image-png-empty-idat): stb_image 2.27
// appends an empty first IDAT chunk to its still-NULL buffer (NULL + 0, UBSan). Refused first.
TEST_F(ImageFolderTest, PngWithAnEmptyFirstIdatChunkIsRefused) {
  std::ifstream in(std::string(CFF_FUZZ_REGRESSIONS) + "/fuzz_image-png-empty-idat", std::ios::binary);
  const std::vector<uint8_t> input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(input.size(), 9u);
  expect_error([&] { decode_image("empty-idat.png", input.data() + 1, input.size() - 1); }, ErrorCode::kFormat,
               "empty-idat.png: corrupt PNG (an empty IDAT chunk before the image data)");
}

}  // namespace
}  // namespace cff::test
