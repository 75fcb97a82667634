// The Loader: every image once per epoch, seeded order, independent of the worker count, bounded
// prefetch, errors surface in next(); fit() over a source equals fit() over the same Dataset.
#include <set>

#include "data_util.hpp"

namespace cff::test {
namespace {

class LoaderTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<ImageFolder> folder(int per_class = 7) {
    write_folder(dir.file("f"), {"a", "b", "c"}, per_class);
    return std::make_shared<ImageFolder>(dir.file("f"));
  }
};

std::vector<int64_t> pass(Loader& loader, std::vector<torch::Tensor>* images = nullptr) {
  std::vector<int64_t> seen;
  for (LoaderBatch b; loader.next(b);) {
    EXPECT_EQ(b.images.size(0), b.labels.size(0));
    for (int64_t i = 0; i < b.indices.size(0); ++i) seen.push_back(b.indices[i].item<int64_t>());
    if (images) images->push_back(b.images);
  }
  return seen;
}

TEST_F(LoaderTest, EveryImageOncePerEpochInSeededOrder) {
  auto src = folder();
  for (int64_t workers : {0, 1, 3}) {
    Loader loader(src, {4, workers, 2, "", 42});
    loader.start_epoch(0);
    EXPECT_EQ(loader.batches(), 6);  // 21 images in batches of 4
    const auto e0 = pass(loader);
    EXPECT_EQ(e0, loader.epoch_order(0)) << workers;
    EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 21u);
    loader.start_epoch(1);
    const auto e1 = pass(loader);
    EXPECT_EQ(std::set<int64_t>(e1.begin(), e1.end()).size(), 21u);
    EXPECT_NE(e0, e1);  // reshuffled per epoch
  }
  Loader a(src, {4, 2, 2, "", 1}), b(src, {4, 0, 2, "", 1}), c(src, {4, 2, 2, "", 2});
  EXPECT_EQ(a.epoch_order(3), b.epoch_order(3));
  EXPECT_NE(a.epoch_order(3), c.epoch_order(3));
}

TEST_F(LoaderTest, LabelsAndPixelsMatchTheSource) {
  auto src = folder(3);
  Loader loader(src, {2, 2, 1, "", 0});
  loader.start_epoch(0);
  for (LoaderBatch b; loader.next(b);)
    for (int64_t i = 0; i < b.indices.size(0); ++i) {
      const int64_t idx = b.indices[i].item<int64_t>();
      EXPECT_EQ(b.labels[i].item<int64_t>(), src->label(idx));
      std::vector<uint8_t> px(64);
      src->read(idx, px.data());
      EXPECT_TRUE(torch::equal(b.images[i], torch::from_blob(px.data(), {1, 8, 8}, torch::kUInt8)));
    }
}

TEST_F(LoaderTest, AugmentationIsSeededPerBatchNotPerThread) {
  auto src = folder();
  auto run = [&](int64_t workers) {
    Loader loader(src, {5, workers, 3, "crop:padding=2+hflip", 9});
    loader.start_epoch(0);
    std::vector<torch::Tensor> images;
    pass(loader, &images);
    return torch::cat(images);
  };
  const auto x0 = run(0), x2 = run(2);
  EXPECT_EQ(x0.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(x0, x2));
}

TEST_F(LoaderTest, BadFileIsLeftOutOfItsBatchOrFails) {
  write_folder(dir.file("f"), {"a", "b"}, 4, 16, 16);
  auto bytes = read_bytes(dir.file("f/b/img2.png"));
  bytes.resize(bytes.size() / 2);
  write_bytes(dir.file("f/b/img2.png"), bytes);
  ImageFolderOptions o;
  o.report_skipped = false;
  auto skip = std::make_shared<ImageFolder>(dir.file("f"), o);
  Loader loader(skip, {3, 2, 2, "", 0});
  loader.start_epoch(0);
  EXPECT_EQ(pass(loader).size(), 7u);
  EXPECT_EQ(skip->bad_files().size(), 1u);
  o.bad_files = BadFilePolicy::kFail;
  Loader failing(std::make_shared<ImageFolder>(dir.file("f"), o), {3, 2, 2, "", 0});
  failing.start_epoch(0);
  expect_error([&] { pass(failing); }, ErrorCode::kFormat, "b/img2.png: cannot decode");
}

TEST_F(LoaderTest, StoppingMidPassJoinsCleanly) {
  auto src = folder(20);
  Loader loader(src, {2, 2, 1, "", 0});
  loader.start_epoch(0);
  LoaderBatch b;
  ASSERT_TRUE(loader.next(b));
  loader.start_epoch(1);  // abandons the first pass
  EXPECT_EQ(pass(loader).size(), 60u);
}

TEST_F(LoaderTest, FitOverAFolderEqualsFitOverTheDecodedSet) {
  auto src = folder(12);
  const auto data = to_dataset(*src, 2);
  auto config = tiny_mlp(3);
  config.train.epochs = 2;
  config.train.head_epochs = 1;
  Trainer a(config), b(config);
  FitHooks hooks;
  hooks.workers = 2;
  hooks.prefetch = 2;
  const auto ra = a.fit(src, hooks);
  const auto rb = b.fit(data);
  ASSERT_EQ(ra.history.size(), rb.history.size());
  for (size_t i = 0; i < ra.history.size(); ++i) {
    EXPECT_EQ(ra.history[i].train_loss, rb.history[i].train_loss);
    EXPECT_EQ(ra.history[i].val_loss, rb.history[i].val_loss);
  }
  EXPECT_TRUE(torch::equal(a.predict(data.images).scores, b.predict(data.images).scores));
}

}  // namespace
}  // namespace cff::test
