// c10d for fit(): TCPStore rendezvous, a Gloo process group, and errors that name what failed.
#include "group.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "cff/error.hpp"

#ifdef CFF_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace cff::parallel {

std::pair<int64_t, int64_t> shard_of(int64_t n, int64_t parts, int64_t part) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t first = part * base + std::min(part, extra);
  return {first, base + (part < extra ? 1 : 0)};
}

std::vector<int64_t> shard_sizes(int64_t n, int64_t parts) {
  std::vector<int64_t> out;
  for (int64_t p = 0; p < parts; ++p) out.push_back(shard_of(n, parts, p).second);
  return out;
}

#ifndef CFF_HAVE_GLOO

struct Group::Impl {};
Group::Group(std::unique_ptr<Impl> impl, int64_t rank, int64_t size) : impl_(std::move(impl)), rank_(rank), size_(size) {}
Group::~Group() = default;
std::unique_ptr<Group> Group::connect(const LaunchEnvironment&, double) {
  detail::throw_error(ErrorCode::kUnsupported,
                      "distributed training needs c10d's Gloo, and this libcff was built without it "
                      "(install libgloo-dev and rebuild; the in-process pipeline works without it)");
}
#define CFF_NO_GLOO_BODY detail::throw_error(ErrorCode::kUnsupported, "built without c10d Gloo")
std::unique_ptr<Group> Group::subgroup(const std::vector<int64_t>&, const std::string&) { CFF_NO_GLOO_BODY; }
std::vector<std::string> Group::exchange(const std::string&, const std::string&) { CFF_NO_GLOO_BODY; }
void Group::send(std::vector<torch::Tensor>, int64_t, int) { CFF_NO_GLOO_BODY; }
void Group::wait_sends() {}
void Group::recv(std::vector<torch::Tensor>&, int64_t, int) { CFF_NO_GLOO_BODY; }
std::shared_ptr<Group::Pending> Group::allreduce_async(std::vector<torch::Tensor>) { CFF_NO_GLOO_BODY; }
void Group::allreduce(std::vector<torch::Tensor>) { CFF_NO_GLOO_BODY; }
void Group::broadcast(std::vector<torch::Tensor>, int64_t) { CFF_NO_GLOO_BODY; }
std::string Group::broadcast_bytes(const std::string&, int64_t) { CFF_NO_GLOO_BODY; }
torch::Tensor Group::all_gather_rows(const torch::Tensor&, const std::vector<int64_t>&) { CFF_NO_GLOO_BODY; }

#else

namespace {
using Millis = std::chrono::milliseconds;

std::string first_line(const std::string& s) {
  const auto end = s.find('\n');
  return s.substr(0, end);
}

// One line naming the rank, what it was doing, and why c10d gave up.
[[noreturn]] void fail(int64_t rank, double timeout, const std::string& what, const std::string& raw) {
  const std::string msg = first_line(raw);
  auto has = [&](const char* s) { return msg.find(s) != std::string::npos; };
  std::ostringstream why;
  if (has("Connection closed") || has("Connection reset") || has("Broken pipe") || has("EOF"))
    why << "a peer rank stopped (it exited or was killed)";
  else if (has("imed out") || has("imeout"))
    why << "no answer within " << timeout << " s (a peer rank hung, died or is slower than the timeout)";
  else
    why << "c10d failed";
  detail::throw_error(ErrorCode::kIo, "rank ", rank, ": ", what, ": ", why.str(), " [", msg, "]");
}

template <typename F>
auto guarded(int64_t rank, double timeout, const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail(rank, timeout, what, e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(rank, timeout, what, e.what());
  }
}

// c10d logs its retries and failures through glog to stderr (a LibTorch built with glog, as
// Debian's); libcff reports them as one error instead, so glog keeps to FATAL while c10d
// connects. Found at run time: LibTorch builds without glog have no such flag.
class QuietGlog {
 public:
  QuietGlog() : level_(static_cast<int*>(dlsym(RTLD_DEFAULT, "_ZN3fLI17FLAGS_minloglevelE"))) {
    if (level_) {
      saved_ = *level_;
      *level_ = 3;
    }
  }
  ~QuietGlog() {
    if (level_) *level_ = saved_;
  }

 private:
  int* level_;
  int saved_ = 0;
};

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

torch::Tensor host(const torch::Tensor& t) { return t.detach().to(torch::kCPU).contiguous(); }
}  // namespace

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> options;
  double timeout = 60;
  std::vector<c10::intrusive_ptr<c10d::Work>> sends;
  int64_t send_to = 0;  // the world rank of the sends in flight
  std::vector<torch::Tensor> send_buffers;
  std::vector<int64_t> world_ranks;  // this group's members as world ranks
  int64_t world_rank = 0;
};

Group::Group(std::unique_ptr<Impl> impl, int64_t rank, int64_t size) : impl_(std::move(impl)), rank_(rank), size_(size) {}

Group::~Group() {
  try {
    wait_sends();
  } catch (...) {  // a destructor reports nothing; the run already failed if this did
  }
}

std::unique_ptr<Group> Group::connect(const LaunchEnvironment& env, double timeout_seconds) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout_seconds;
  impl->world_rank = env.rank;
  for (int64_t r = 0; r < env.world_size; ++r) impl->world_ranks.push_back(r);
  const auto timeout = Millis(int64_t(timeout_seconds * 1000));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  QuietGlog quiet;
  guarded(env.rank, timeout_seconds,
          env.rank == 0 ? "cannot serve the rendezvous on MASTER_ADDR:MASTER_PORT " + where +
                              " (is the port in use, or the address not this host's?) or the other ranks did not join"
                        : "cannot reach the rendezvous at MASTER_ADDR:MASTER_PORT " + where,
          [&] {
            c10d::TCPStoreOptions o;
            o.port = uint16_t(env.master_port);
            o.isServer = env.rank == 0;
            o.numWorkers = size_t(env.world_size);
            o.waitWorkers = true;
            o.timeout = timeout;
            impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
          });
  guarded(env.rank, timeout_seconds, "cannot form the Gloo process group", [&] {
    impl->options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      impl->options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(env.master_addr))
      impl->options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      impl->options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl->options->threads = 2;
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("cff/world", impl->store), int(env.rank), int(env.world_size),
        impl->options);
  });
  return std::unique_ptr<Group>(new Group(std::move(impl), env.rank, env.world_size));
}

std::unique_ptr<Group> Group::subgroup(const std::vector<int64_t>& members, const std::string& name) {
  const auto it = std::find(members.begin(), members.end(), impl_->world_ranks[size_t(rank_)]);
  CFF_CHECK(it != members.end(), "subgroup ", name, " does not hold this rank");
  auto impl = std::make_unique<Impl>();
  impl->store = impl_->store;
  impl->options = impl_->options;
  impl->timeout = impl_->timeout;
  impl->world_ranks = members;
  impl->world_rank = impl_->world_rank;
  const int64_t rank = it - members.begin(), size = int64_t(members.size());
  guarded(impl_->world_rank, impl_->timeout, "cannot form process group " + name, [&] {
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("cff/" + name, impl_->store), int(rank), int(size), impl->options);
  });
  return std::unique_ptr<Group>(new Group(std::move(impl), rank, size));
}

std::vector<std::string> Group::exchange(const std::string& key, const std::string& text) {
  return guarded(impl_->world_rank, impl_->timeout, "exchanging " + key + " through the store", [&] {
    const std::string base = "cff/exchange/" + key + "/";
    impl_->store->set(base + std::to_string(rank_), bytes_of(text));
    std::vector<std::string> out;
    for (int64_t r = 0; r < size_; ++r) {
      const auto v = impl_->store->get(base + std::to_string(r));
      out.emplace_back(v.begin(), v.end());
    }
    return out;
  });
}

void Group::send(std::vector<torch::Tensor> tensors, int64_t to, int first_tag) {
  guarded(impl_->world_rank, impl_->timeout, "sending to rank " + std::to_string(impl_->world_ranks[size_t(to)]), [&] {
    for (size_t i = 0; i < tensors.size(); ++i) {
      std::vector<at::Tensor> one{host(tensors[i])};
      impl_->send_buffers.push_back(one[0]);
      impl_->sends.push_back(impl_->pg->send(one, int(to), first_tag + int(i)));
      impl_->send_to = impl_->world_ranks[size_t(to)];
    }
  });
}

void Group::wait_sends() {
  guarded(impl_->world_rank, impl_->timeout, "sending to rank " + std::to_string(impl_->send_to), [&] {
    for (auto& w : impl_->sends) w->wait();
  });
  impl_->sends.clear();
  impl_->send_buffers.clear();
}

void Group::recv(std::vector<torch::Tensor>& tensors, int64_t from, int first_tag) {
  guarded(impl_->world_rank, impl_->timeout,
          "receiving from rank " + std::to_string(impl_->world_ranks[size_t(from)]), [&] {
            for (size_t i = 0; i < tensors.size(); ++i) {
              std::vector<at::Tensor> one{tensors[i].device().is_cpu() && tensors[i].is_contiguous()
                                              ? tensors[i]
                                              : torch::empty_like(tensors[i], torch::kCPU).contiguous()};
              impl_->pg->recv(one, int(from), first_tag + int(i))->wait();
              if (one[0].data_ptr() != tensors[i].data_ptr()) tensors[i].copy_(one[0]);
            }
          });
}

namespace {
class PendingWork : public Group::Pending {
 public:
  PendingWork(c10::intrusive_ptr<c10d::Work> work, std::vector<torch::Tensor> buffers, int64_t rank, double timeout)
      : work_(std::move(work)), buffers_(std::move(buffers)), rank_(rank), timeout_(timeout) {}
  void wait() override {
    guarded(rank_, timeout_, "reducing gradients", [&] { work_->wait(); });
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::vector<torch::Tensor> buffers_;  // alive until the work completes
  int64_t rank_;
  double timeout_;
};
}  // namespace

std::shared_ptr<Group::Pending> Group::allreduce_async(std::vector<torch::Tensor> tensors) {
  // One flat buffer in the first tensor's dtype: one message instead of one per parameter.
  if (tensors.empty()) tensors.push_back(torch::zeros({0}));
  const auto dtype = tensors.front().scalar_type();
  std::vector<torch::Tensor> flat{torch::cat([&] {
    std::vector<torch::Tensor> parts;
    for (auto& t : tensors) parts.push_back(host(t).to(dtype).flatten());
    return parts;
  }())};
  auto work = guarded(impl_->world_rank, impl_->timeout, "reducing gradients", [&] { return impl_->pg->allreduce(flat); });
  struct Unflatten : Group::Pending {
    std::shared_ptr<Group::Pending> inner;
    torch::Tensor flat;
    std::vector<torch::Tensor> out;
    void wait() override {
      inner->wait();
      int64_t at = 0;
      for (auto& t : out) {
        t.copy_(flat.narrow(0, at, t.numel()).view(t.sizes()));
        at += t.numel();
      }
    }
  };
  auto p = std::make_shared<Unflatten>();
  p->inner = std::make_shared<PendingWork>(work, flat, impl_->world_rank, impl_->timeout);
  p->flat = flat[0];
  p->out = std::move(tensors);
  return p;
}

void Group::allreduce(std::vector<torch::Tensor> tensors) { allreduce_async(std::move(tensors))->wait(); }

void Group::broadcast(std::vector<torch::Tensor> tensors, int64_t root) {
  guarded(impl_->world_rank, impl_->timeout, "broadcasting from rank " + std::to_string(impl_->world_ranks[size_t(root)]),
          [&] {
            for (auto& t : tensors) {
              std::vector<at::Tensor> one{host(t)};
              c10d::BroadcastOptions o;
              o.rootRank = root;
              impl_->pg->broadcast(one, o)->wait();
              if (one[0].data_ptr() != t.data_ptr()) {
                torch::NoGradGuard no_grad;
                t.copy_(one[0]);
              }
            }
          });
}

std::string Group::broadcast_bytes(const std::string& bytes, int64_t root) {
  auto length = torch::tensor({int64_t(bytes.size())}, torch::kLong);
  broadcast({length}, root);
  auto data = torch::empty({length.item<int64_t>()}, torch::kUInt8);
  if (rank_ == root) std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
  broadcast({data}, root);
  return std::string(reinterpret_cast<const char*>(data.data_ptr()), size_t(data.numel()));
}

// The differentiable all-gather: forward stacks every rank's rows, backward keeps this rank's.
struct GatherRows : torch::autograd::Function<GatherRows> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor local, Group* group,
                               std::vector<int64_t> rows) {
    auto& impl = *group->impl_;
    const int64_t most = *std::max_element(rows.begin(), rows.end());
    auto shape = local.sizes().vec();
    shape[0] = most;
    auto padded = torch::zeros(shape, local.options().device(torch::kCPU));
    padded.narrow(0, 0, local.size(0)).copy_(local.detach());
    std::vector<std::vector<at::Tensor>> out(1);
    for (size_t r = 0; r < rows.size(); ++r) out[0].push_back(torch::empty_like(padded));
    std::vector<at::Tensor> in{padded};
    guarded(impl.world_rank, impl.timeout, "gathering features", [&] { impl.pg->allgather(out, in)->wait(); });
    std::vector<torch::Tensor> parts;
    int64_t first = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      parts.push_back(out[0][r].narrow(0, 0, rows[r]));
      if (int64_t(r) < group->rank()) first += rows[r];
    }
    ctx->saved_data["first"] = first;
    ctx->saved_data["count"] = local.size(0);
    return torch::cat(parts, 0).to(local.device());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const int64_t first = ctx->saved_data["first"].toInt(), count = ctx->saved_data["count"].toInt();
    return {grads[0].narrow(0, first, count), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor Group::all_gather_rows(const torch::Tensor& local, const std::vector<int64_t>& rows) {
  CFF_CHECK(int64_t(rows.size()) == size_ && rows[size_t(rank_)] == local.size(0), "all_gather_rows: ",
            local.size(0), " local rows, expected ", rows[size_t(rank_)]);
  return GatherRows::apply(local, this, rows);
}

#endif  // CFF_HAVE_GLOO

}  // namespace cff::parallel
