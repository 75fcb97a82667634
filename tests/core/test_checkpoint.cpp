// Checkpoints: round trip, exact resume, atomic writes, and refusal of damaged files without
// touching the model being loaded into.
#include <sys/stat.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <atomic>

#include "test_util.hpp"

namespace cff {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  const Dataset train = test::blobs(256, 4, 1, 8, 8, 1);
  const Dataset probe = test::blobs(32, 4, 1, 8, 8, 9);

  Config config() const {
    Config c = test::tiny_mlp();
    c.train.epochs = 3;
    c.train.head_epochs = 2;
    return c;
  }
};

TEST_F(CheckpointTest, RoundTripKeepsPredictionsAndState) {
  Trainer a(config());
  a.fit(train);
  a.save(dir.file("m.cff"));
  Trainer b = Trainer::load(dir.file("m.cff"));
  EXPECT_TRUE(torch::equal(a.predict(probe.images).scores, b.predict(probe.images).scores));
  EXPECT_EQ(b.config().to_json(), a.config().to_json());
  EXPECT_EQ(b.stage(), 3);
  EXPECT_EQ(b.history().size(), a.history().size());
  for (const auto& entry : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(entry.path().filename(), "m.cff") << "temporary file left behind";
}

// Stop after stage-1 epoch 2, reload from the per-epoch checkpoint, continue: identical to an
// uninterrupted run (weights, optimizer moments, RNG, best-epoch snapshot all restored).
TEST_F(CheckpointTest, ResumeEqualsUninterruptedRun) {
  Trainer full(config());
  full.fit(train);

  std::atomic<bool> stop{false};
  FitHooks hooks;
  hooks.checkpoint_path = dir.file("run.cff");
  hooks.stop = &stop;
  hooks.on_epoch = [&](const EpochRecord& r) {
    if (r.stage == 1 && r.epoch == 2) stop = true;
  };
  Trainer first(config());
  EXPECT_TRUE(first.fit(train, hooks).stopped);  // stops during epoch 3, after epoch 2 was saved
  Trainer resumed = Trainer::load(dir.file("run.cff"));
  EXPECT_EQ(resumed.epoch(), 2);
  resumed.fit(train);
  ASSERT_EQ(resumed.history().size(), full.history().size());
  for (size_t i = 0; i < full.history().size(); ++i)
    EXPECT_EQ(resumed.history()[i].train_loss, full.history()[i].train_loss) << "epoch record " << i;
  EXPECT_TRUE(torch::equal(resumed.predict(probe.images).scores, full.predict(probe.images).scores));
}

// Every public method is serialised (trainer.hpp): reads of the config, device, layer count and
// history race load_state() swapping the whole state, and must only ever see a whole old or new one.
TEST_F(CheckpointTest, ReadsRaceLoadStateSafely) {
  Config small = config();
  small.train.epochs = 1;
  small.train.head_epochs = 0;
  Trainer a(small);
  a.fit(train);
  small.train.epochs = 2;  // two epochs of history on b, one on a
  Trainer b(small);
  b.fit(train);
  const auto pa = dir.file("a.cff"), pb = dir.file("b.cff");
  a.save(pa);
  b.save(pb);

  Trainer t = Trainer::load(pa);
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0}, torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto h = t.history();
        const auto c = t.config();
        if (t.num_layers() != c.model.num_layers || !t.device().is_cpu() || (h.size() != 1 && h.size() != 2)) ++torn;
        ++reads;
      }
    });
  for (int i = 0; i < 20; ++i) t.load_state(i % 2 ? pb : pa);
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(t.history().size(), 2u);  // the last load was b's
}

TEST_F(CheckpointTest, DamagedFilesAreRefusedAndTheTargetIsUntouched) {
  Trainer a(config());
  a.fit(train);
  a.save(dir.file("good.cff"));
  std::ifstream in(dir.file("good.cff"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.file(name), std::ios::binary) << content;
    return dir.file(name);
  };
  Trainer target(config());  // an untrained model of the same shape
  const auto before = target.predict(probe.images).scores;

  auto expect_refused = [&](const std::string& path, ErrorCode code, const std::string& part) {
    test::expect_error([&] { target.load_state(path); }, code, part);
    test::expect_error([&] { Trainer::load(path); }, code, part);
    EXPECT_TRUE(torch::equal(target.predict(probe.images).scores, before)) << path;
  };
  expect_refused(dir.file("absent.cff"), ErrorCode::kIo, "cannot open");
  expect_refused(write("trunc.cff", bytes.substr(0, bytes.size() / 2)), ErrorCode::kFormat, "truncated");
  expect_refused(write("header.cff", bytes.substr(0, 10)), ErrorCode::kFormat, "not a libcff checkpoint");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  expect_refused(write("flip.cff", flipped), ErrorCode::kFormat, "checksum mismatch");
  std::string future = bytes;
  future[8] = 9;
  expect_refused(write("future.cff", future), ErrorCode::kFormat, "format version 9");
  expect_refused(write("text.cff", "hello world, not a model at all"), ErrorCode::kFormat, "not a libcff checkpoint");

  // A valid checkpoint of a different model is refused by load_state.
  Config other = config();
  other.model.embed_dim = 16;
  Trainer o(other);
  o.save(dir.file("other.cff"));
  test::expect_error([&] { target.load_state(dir.file("other.cff")); }, ErrorCode::kFormat, "different model");
  EXPECT_TRUE(torch::equal(target.predict(probe.images).scores, before));

  target.load_state(dir.file("good.cff"));
  EXPECT_TRUE(torch::equal(target.predict(probe.images).scores, a.predict(probe.images).scores));
}

TEST_F(CheckpointTest, SaveToAnUnwritablePlaceFailsCleanly) {
  Trainer a(config());
  test::expect_error([&] { a.save(dir.file("no/such/folder/m.cff")); }, ErrorCode::kIo, "cannot write");
}

// ---- hostile checkpoints -----------------------------------------------------------------------------

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Recomputes the envelope's CRC-32 (bytes 20..23) over the payload after byte 24, so that only
// the edited content is what a test's crafted checkpoint gets wrong.
std::string with_fixed_crc(std::string bytes) {
  const auto payload = bytes.substr(24);
  const uint32_t crc = uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(payload.data()),
                                      uInt(payload.size())));
  for (int i = 0; i < 4; ++i) bytes[size_t(20 + i)] = char((crc >> (8 * i)) & 0xff);
  return bytes;
}

// Rewrites `from` as `to` in the config JSON inside a checkpoint, keeping every length (the
// archive stores the JSON uncompressed with its length): indentation spaces pay for the
// difference. Then fixes the envelope's CRC, so only the config's content is what differs.
std::string patch_config(std::string bytes, const std::string& from, const std::string& to) {
  const size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return bytes;
  bytes.replace(at, from.size(), to);
  long diff = long(to.size()) - long(from.size());
  size_t pos = at + to.size();
  for (; diff > 0; --diff) {  // one indentation space fewer on each of the next lines
    pos = bytes.find("\n  ", pos);
    bytes.erase(pos + 1, 1);
    ++pos;
  }
  if (diff < 0) bytes.insert(bytes.find("\n  ", pos) + 1, size_t(-diff), ' ');
  return with_fixed_crc(bytes);
}

TEST_F(CheckpointTest, TensorsMustHaveTheShapesTheConfigDescribes) {
  Config ten = config();
  ten.model.num_classes = 10;
  Trainer a(ten);
  a.save(dir.file("ten.cff"));
  // The config says 3 classes, the head is 10-way: refused, not a model predicting class 9.
  const auto crafted = patch_config(slurp(dir.file("ten.cff")), "\"num_classes\": 10", "\"num_classes\": 3");
  std::ofstream(dir.file("three.cff"), std::ios::binary) << crafted;
  test::expect_error([&] { Trainer::load(dir.file("three.cff")); }, ErrorCode::kFormat,
                     "head tensor fc.weight is [10, 32] Float, the config's model needs [3, 32] Float");
}

TEST_F(CheckpointTest, ConfigsAreCheckedBeforeTheModelIsBuilt) {
  Trainer a(config());
  a.save(dir.file("m.cff"));
  // embed_dim 2,000,000 in a file of a few hundred KiB: refused before anything is allocated
  // (MLP[2000000 2] would be 4e12 weights; the limit is 2^30, and the file could not hold them).
  auto crafted = patch_config(slurp(dir.file("m.cff")), "\"embed_dim\": 32", "\"embed_dim\": 2000000");
  std::ofstream(dir.file("huge.cff"), std::ios::binary) << crafted;
  test::expect_error([&] { Trainer::load(dir.file("huge.cff")); }, ErrorCode::kFormat, "above the limit of 1073741824");
  // Under the parameter limit but more weights than the file holds: not this file's model.
  crafted = patch_config(slurp(dir.file("m.cff")), "\"embed_dim\": 32", "\"embed_dim\": 9000");
  std::ofstream(dir.file("big.cff"), std::ios::binary) << crafted;
  test::expect_error([&] { Trainer::load(dir.file("big.cff")); }, ErrorCode::kFormat, "weights (");
  // A fractional size is not truncated to an integer.
  crafted = patch_config(slurp(dir.file("m.cff")), "\"embed_dim\": 32", "\"embed_dim\": 32.7");
  std::ofstream(dir.file("frac.cff"), std::ios::binary) << crafted;
  test::expect_error([&] { Trainer::load(dir.file("frac.cff")); }, ErrorCode::kFormat,
                     "model.embed_dim must be an integer, got 32.7");
}

TEST_F(CheckpointTest, FoldersFifosAndDevicesAreIoErrorsNotHangs) {
  std::filesystem::create_directories(dir.file("folder.cff"));
  test::expect_error([&] { Trainer::load(dir.file("folder.cff")); }, ErrorCode::kIo, "folder.cff: is a folder");
  ASSERT_EQ(::mkfifo(dir.file("fifo.cff").c_str(), 0600), 0);
  test::expect_error([&] { Trainer::load(dir.file("fifo.cff")); }, ErrorCode::kIo, "not a regular file (a FIFO)");
  test::expect_error([&] { Trainer::load("/dev/zero"); }, ErrorCode::kIo, "not a regular file (a device)");
}

TEST_F(CheckpointTest, DivergedModelIsNeverSavedNorUsed) {
  Trainer good(config());
  good.fit(train);
  good.save(dir.file("m.cff"));
  const auto expected = good.predict(probe.images).scores;
  Config c = config();
  c.train.lr = 1e30;  // two AdamW steps make the weights infinite
  Trainer bad(c);
  FitHooks hooks;
  hooks.checkpoint_path = dir.file("m.cff");
  test::expect_error([&] { bad.fit(train, hooks); }, ErrorCode::kNumerics, "");
  EXPECT_TRUE(torch::equal(Trainer::load(dir.file("m.cff")).predict(probe.images).scores, expected))
      << "a diverged run replaced the good model";
  test::expect_error([&] { bad.save(dir.file("m.cff")); }, ErrorCode::kNumerics, "contains NaN or Inf");
  test::expect_error([&] { bad.predict(probe.images); }, ErrorCode::kNumerics, "model scores");
  Dataset d = probe;
  test::expect_error([&] { bad.evaluate(d, {1}); }, ErrorCode::kNumerics, "model scores");
  EXPECT_TRUE(torch::equal(Trainer::load(dir.file("m.cff")).predict(probe.images).scores, expected));
}

TEST_F(CheckpointTest, StaleTemporaryFilesOfDeadProcessesAreRemoved) {
  // A pid above pid_max names no process; pid 1 is always alive.
  const std::string dead = dir.file("m.cff.tmp.999999999"), alive = dir.file("m.cff.tmp.1"),
                    other = dir.file("n.cff.tmp.999999999");
  for (const auto& f : {dead, alive, other}) std::ofstream(f) << "partial";
  Trainer a(config());
  a.save(dir.file("m.cff"));
  EXPECT_FALSE(std::filesystem::exists(dead)) << "a dead process's temporary file is left";
  EXPECT_TRUE(std::filesystem::exists(alive)) << "a live process's temporary file was removed";
  EXPECT_TRUE(std::filesystem::exists(other)) << "another model's temporary file was removed";
  Trainer::load(dir.file("m.cff"));
}

// Fuzz finding (fuzz_checkpoint, tests/fuzz/regressions/fuzz_checkpoint-torchscript-source-segv):
// a LibTorch archive carries TorchScript source that LibTorch compiles while loading; digits
// written over a class declaration crashed LibTorch 1.13's type parser (SEGV). The source is
// now checked line by line before LibTorch sees it.
TEST_F(CheckpointTest, ArchiveSourceIsCheckedBeforeLibTorchCompilesIt) {
  Trainer a(config());
  a.save(dir.file("m.cff"));
  std::string bytes = slurp(dir.file("m.cff"));
  const std::string decl = "class Module(Module):\n  __parameters__ = [\"weight\", \"bias\", ]";
  const size_t at = bytes.find(decl);
  ASSERT_NE(at, std::string::npos);
  const std::string digits = "35921488756 15950337885137849221 2778181576553077756 12784999";
  bytes.replace(at, decl.size(), digits.substr(0, decl.size()));
  std::ofstream(dir.file("src.cff"), std::ios::binary) << with_fixed_crc(bytes);
  test::expect_error([&] { Trainer::load(dir.file("src.cff")); }, ErrorCode::kFormat,
                     "line 1 is not a declaration a checkpoint holds");
}

// Fuzz finding (fuzz_checkpoint, tests/fuzz/regressions/fuzz_checkpoint-unpickler-4gb-string):
// LibTorch's unpickler reserves the length a string opcode declares before reading it, so a
// 36 KB file made it allocate 4 GB. Every pickle record is now walked first.
TEST_F(CheckpointTest, PickleLengthsAreCheckedBeforeLibTorchReadsThem) {
  Trainer a(config());
  a.save(dir.file("m.cff"));
  std::string bytes = slurp(dir.file("m.cff"));
  const size_t json = bytes.find("{\n  \"model\"");
  ASSERT_NE(json, std::string::npos);
  ASSERT_EQ(bytes[json - 5], 'X');  // BINUNICODE: 'X', 4-byte length, the config's text
  for (int i = 0; i < 4; ++i) bytes[json - 4 + size_t(i)] = char(i == 3 ? 0xf0 : 0);
  std::ofstream(dir.file("pkl.cff"), std::ios::binary) << with_fixed_crc(bytes);
  test::expect_error([&] { Trainer::load(dir.file("pkl.cff")); }, ErrorCode::kFormat,
                     "archive record data.pkl: pickle length past the end of the record");
}

// A fuzz_checkpoint input as the target loads it: a flag byte, then an archive the target wraps
// in a valid envelope (size and CRC fixed up). Written to `path`.
void write_fuzz_checkpoint(const std::string& input_name, const std::string& path) {
  const std::string input = slurp(std::string(CFF_FUZZ_REGRESSIONS) + "/" + input_name);
  ASSERT_GT(input.size(), 1u) << input_name;
  const std::string payload = input.substr(1);
  std::string bytes("CFFCKPT", 8);
  auto put = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(char((v >> (8 * i)) & 0xff));
  };
  put(1, 4);              // format version
  put(payload.size(), 8);
  put(0, 4);              // CRC, filled in below
  std::ofstream(path, std::ios::binary) << with_fixed_crc(bytes + payload);
}

// Fuzz finding (fuzz_checkpoint, tests/fuzz/regressions/fuzz_checkpoint-unpickler-memo-25gb):
// LibTorch's unpickler resizes its memo table to the index a LONG_BINPUT names, so four bytes
// of a 36 KB file asked for 25 GB. Memo indices past the record's size are refused first.
TEST_F(CheckpointTest, PickleMemoIndicesAreCheckedBeforeLibTorchReadsThem) {
  write_fuzz_checkpoint("fuzz_checkpoint-unpickler-memo-25gb", dir.file("memo.cff"));
  test::expect_error([&] { Trainer::load(dir.file("memo.cff")); }, ErrorCode::kFormat,
                     "pickle memo index past the record's size");
}

// Fuzz finding (fuzz_checkpoint, tests/fuzz/regressions/fuzz_checkpoint-zip-record-3gb): LibTorch's
// archive reader allocates the size a zip entry declares (3.25 GB from a 36 KB file). The
// central directory is walked first; no record may declare more than the file can hold.
TEST_F(CheckpointTest, ZipRecordSizesAreCheckedBeforeLibTorchReadsThem) {
  write_fuzz_checkpoint("fuzz_checkpoint-zip-record-3gb", dir.file("zip.cff"));
  test::expect_error([&] { Trainer::load(dir.file("zip.cff")); }, ErrorCode::kFormat,
                     "archive: compressed record archive/code/__torch__/___torch_mangle_14.py declares 3254780239 bytes");
  // A real checkpoint passes the same walk.
  Trainer a(config());
  a.save(dir.file("ok.cff"));
  EXPECT_NO_THROW(Trainer::load(dir.file("ok.cff")));
}

}  // namespace
}  // namespace cff
