// The host table C-kind plugins receive (cff_plugin_host): its product and row softmax against
// float64 computations, strided buffers, beta = 0 over NaN, and its errors as status + message.
#include <cmath>
#include <string>

#include "../libcff/src/plugin/host.hpp"
#include "test_util.hpp"

namespace cff::test {
namespace {

class PluginHostTest : public ::testing::Test {
 protected:
  const cff_plugin_host& host = detail::plugin_host();
  char message[256] = {0};
};

TEST_F(PluginHostTest, DeclaresItsVersionAndSize) {
  EXPECT_EQ(host.abi_version, uint32_t(CFF_PLUGIN_ABI_VERSION));
  EXPECT_EQ(host.struct_size, sizeof(cff_plugin_host));
  EXPECT_NE(host.sgemm, nullptr);
  EXPECT_NE(host.softmax_rows, nullptr);
}

TEST_F(PluginHostTest, SgemmMatchesAFloat64ProductForEveryTransposeAndStride) {
  torch::manual_seed(11);
  const int64_t m = 7, n = 5, k = 9, pad = 3;
  for (int ta : {0, 1})
    for (int tb : {0, 1}) {
      // Stored shapes with padded rows (ld = row length + pad): A is m x k, or k x m when transposed.
      const auto a = torch::randn({ta ? k : m, (ta ? m : k) + pad}), b = torch::randn({tb ? n : k, (tb ? k : n) + pad});
      auto c = torch::randn({m, n + pad});
      const auto a_used = a.narrow(1, 0, ta ? m : k), b_used = b.narrow(1, 0, tb ? k : n);
      const auto opa = (ta ? a_used.t() : a_used).to(torch::kDouble), opb = (tb ? b_used.t() : b_used).to(torch::kDouble);
      const auto want = 0.5 * opa.mm(opb) + 2.0 * c.narrow(1, 0, n).to(torch::kDouble);
      ASSERT_EQ(host.sgemm(ta, tb, m, n, k, 0.5f, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), 2.0f,
                           c.data_ptr<float>(), c.size(1), message, sizeof message),
                0)
          << message;
      EXPECT_LT((c.narrow(1, 0, n).to(torch::kDouble) - want).abs().max().item<double>(), 1e-4) << ta << tb;
    }
}

TEST_F(PluginHostTest, SgemmWithBetaZeroDoesNotReadC) {
  const auto a = torch::ones({2, 3}), b = torch::ones({3, 2});
  auto c = torch::full({2, 2}, NAN);
  ASSERT_EQ(host.sgemm(0, 0, 2, 2, 3, 1.0f, a.data_ptr<float>(), 3, b.data_ptr<float>(), 2, 0.0f, c.data_ptr<float>(),
                       2, message, sizeof message),
            0);
  EXPECT_TRUE(c.eq(3.0).all().item<bool>());
}

TEST_F(PluginHostTest, SoftmaxRowsMatchesFloat64AndMasksMinusInfinity) {
  torch::manual_seed(12);
  auto x = torch::randn({4, 6}) * 3;
  x[1][2] = -INFINITY;
  x[3][0] = -INFINITY;
  const auto want = torch::softmax(x.to(torch::kDouble), 1);
  const auto want_lse = torch::logsumexp(x.to(torch::kDouble), 1);
  auto lse = torch::empty({4});
  ASSERT_EQ(host.softmax_rows(4, 6, x.data_ptr<float>(), 6, lse.data_ptr<float>(), message, sizeof message), 0);
  EXPECT_LT((x.to(torch::kDouble) - want).abs().max().item<double>(), 1e-6);
  EXPECT_LT((lse.to(torch::kDouble) - want_lse).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(x[1][2].item<float>(), 0.0f);
}

TEST_F(PluginHostTest, BadArgumentsReturnAStatusAndAMessage) {
  float buf[16] = {0};
  EXPECT_NE(host.sgemm(0, 0, 2, 2, 3, 1.0f, buf, 2, buf, 2, 0.0f, buf + 8, 2, message, sizeof message), 0);
  EXPECT_NE(std::string(message).find("row stride 2 is below the row length 3"), std::string::npos) << message;
  EXPECT_NE(host.sgemm(0, 0, 2, 2, 2, 1.0f, nullptr, 2, buf, 2, 0.0f, buf + 8, 2, message, sizeof message), 0);
  EXPECT_NE(std::string(message).find("A is NULL"), std::string::npos) << message;
  EXPECT_NE(host.softmax_rows(-1, 2, buf, 2, nullptr, message, sizeof message), 0);
  EXPECT_NE(std::string(message).find("host softmax_rows"), std::string::npos) << message;
  float out[4];
  EXPECT_EQ(host.sgemm(0, 0, 2, 2, 2, 1.0f, buf, 2, buf, 2, 0.0f, out, 2, nullptr, 0), 0) << "no message buffer needed";
  EXPECT_NE(host.sgemm(0, 0, 2, 2, 3, 1.0f, buf, 2, buf, 2, 0.0f, out, 2, nullptr, 0), 0);
}

}  // namespace
}  // namespace cff::test
