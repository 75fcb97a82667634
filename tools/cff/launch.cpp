// cff train --nproc N: local ranks with torchrun's environment (launch.hpp).
#include "launch.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "cff/error.hpp"

namespace cff::tool {

std::vector<std::string> g_argv;

namespace {
std::vector<pid_t> g_children;
volatile sig_atomic_t g_forwarded = 0;

void forward(int sig) {
  g_forwarded = sig;
  for (pid_t p : g_children) ::kill(p, sig);
}

// A port no one listens on now (the kernel's pick on 127.0.0.1); rank 0 binds it next.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CFF_CHECK_CODE(fd >= 0, ErrorCode::kIo, "--nproc: cannot open a socket (", std::strerror(errno), ")");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  CFF_CHECK_CODE(ok, ErrorCode::kIo, "--nproc: cannot find a free port on 127.0.0.1 (", std::strerror(errno), ")");
  return ntohs(addr.sin_port);
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
}  // namespace

bool is_reporting_rank() {
  const char* child = std::getenv("CFF_NPROC_CHILD");
  const char* rank = std::getenv("RANK");
  return child == nullptr || rank == nullptr || std::string(rank) == "0";
}

int launch_local_ranks(int64_t nproc, const std::vector<std::string>& args) {
  CFF_CHECK(nproc >= 1 && nproc <= 256, "--nproc must be in 1..256, got ", nproc);
  const int port = free_port();
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  struct sigaction sa {};
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  for (int64_t r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    CFF_CHECK_CODE(pid >= 0, ErrorCode::kIo, "--nproc: cannot start rank ", r, " (", std::strerror(errno), ")");
    if (pid == 0) {
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("CFF_NPROC_CHILD", "1", 1);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "cff: error: --nproc: cannot run %s (%s)\n", args[0].c_str(), std::strerror(errno));
      ::_exit(127);
    }
    g_children.push_back(pid);
  }
  // Wait for every rank; after the first failure the others have a grace period, then are killed.
  using Clock = std::chrono::steady_clock;
  int first_failure = 0;
  Clock::time_point failed_at;
  size_t running = g_children.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --running;
      for (auto& c : g_children)
        if (c == pid) c = -1;  // never signal a reaped pid
      const int code = exit_code(status);
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        failed_at = Clock::now();
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (first_failure != 0 && Clock::now() - failed_at > std::chrono::seconds(10))
      for (pid_t c : g_children)
        if (c > 0) ::kill(c, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_children.clear();
  return first_failure;
}

}  // namespace cff::tool
