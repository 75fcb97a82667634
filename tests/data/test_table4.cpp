// Label noise and limited data (the paper's Table 4): exact shares, seeded, wrong labels only.
#include <set>

#include "data_util.hpp"

namespace cff::test {
namespace {

TEST(Table4Test, LabelNoiseChangesExactlyTheShare) {
  std::vector<int64_t> labels(1000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int64_t(i % 10);
  for (double share : {0.0, 0.1, 0.25, 0.333, 1.0}) {
    const auto noisy = noisy_labels(labels, 10, share, 7);
    int64_t changed = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      ASSERT_GE(noisy[i], 0);
      ASSERT_LT(noisy[i], 10);
      changed += noisy[i] != labels[i];
    }
    EXPECT_EQ(changed, std::llround(share * 1000)) << share;
  }
  EXPECT_EQ(noisy_labels(labels, 10, 0.2, 7), noisy_labels(labels, 10, 0.2, 7));
  EXPECT_NE(noisy_labels(labels, 10, 0.2, 7), noisy_labels(labels, 10, 0.2, 8));
  // Every wrong class is used: noise is uniform over the other classes, not a fixed shift.
  const auto all = noisy_labels(std::vector<int64_t>(900, 3), 10, 1.0, 1);
  std::set<int64_t> seen(all.begin(), all.end());
  EXPECT_EQ(seen.size(), 9u);
  EXPECT_EQ(seen.count(3), 0u);
  expect_error([&] { noisy_labels(labels, 10, 1.5, 0); }, ErrorCode::kInvalidArgument, "label noise share");
}

TEST(Table4Test, LimitedDataKeepsExactlyTheRest) {
  for (double drop : {0.0, 0.5, 0.9, 0.99}) {
    const auto keep = limited_indices(1000, drop, 3);
    EXPECT_EQ(int64_t(keep.size()), 1000 - std::llround(drop * 1000)) << drop;
    EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
    EXPECT_EQ(std::set<int64_t>(keep.begin(), keep.end()).size(), keep.size());
  }
  EXPECT_EQ(limited_indices(100, 0.3, 1), limited_indices(100, 0.3, 1));
  EXPECT_NE(limited_indices(100, 0.3, 1), limited_indices(100, 0.3, 2));
  expect_error([&] { limited_indices(10, 1.0, 0); }, ErrorCode::kInvalidArgument, "drop share");
}

TEST(Table4Test, SubsetSourceCarriesReplacedLabels) {
  auto base = std::make_shared<TensorSource>(blobs(20, 4, 1, 4, 4, 0));
  const auto keep = limited_indices(20, 0.5, 0);
  std::vector<int64_t> labels;
  for (int64_t i : keep) labels.push_back(base->label(i));
  labels = noisy_labels(labels, 4, 0.2, 0);
  SubsetSource sub(base, keep, labels);
  ASSERT_EQ(sub.size(), 10);
  int64_t changed = 0;
  for (int64_t i = 0; i < 10; ++i) changed += sub.label(i) != base->label(keep[size_t(i)]);
  EXPECT_EQ(changed, 2);
  expect_error([&] { SubsetSource bad(base, {0, 1}, {0}); }, ErrorCode::kInvalidArgument, "1 labels for 2 images");
}

}  // namespace
}  // namespace cff::test
