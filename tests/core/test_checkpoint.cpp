// Checkpoints: round trip, exact resume, atomic writes, and refusal of damaged files without
// touching the model being loaded into.
#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace cff
