// Process-wide input limits (limits.hpp) and the checked file access every reader uses.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "files.hpp"

namespace cff {
namespace {
std::mutex g_mutex;
InputLimits g_limits;
}  // namespace

InputLimits input_limits() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_limits;
}

void set_input_limits(const InputLimits& l) {
  CFF_CHECK(l.max_image_pixels >= 1, "limits: max_image_pixels must be >= 1, got ", l.max_image_pixels);
  CFF_CHECK(l.max_file_bytes >= 1, "limits: max_file_bytes must be >= 1, got ", l.max_file_bytes);
  CFF_CHECK(l.max_data_bytes >= 1, "limits: max_data_bytes must be >= 1, got ", l.max_data_bytes);
  CFF_CHECK(l.max_parameters >= 1, "limits: max_parameters must be >= 1, got ", l.max_parameters);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_limits = l;
}

void set_input_limit(const std::string& name, int64_t value) {
  InputLimits l = input_limits();
  if (name == "max_image_pixels") l.max_image_pixels = value;
  else if (name == "max_file_bytes") l.max_file_bytes = value;
  else if (name == "max_data_bytes") l.max_data_bytes = value;
  else if (name == "max_parameters") l.max_parameters = value;
  else
    detail::throw_error(ErrorCode::kInvalidArgument, "limits: unknown limit '", name,
                        "' (max_image_pixels, max_file_bytes, max_data_bytes, max_parameters)");
  set_input_limits(l);
}

namespace detail {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)bytes);
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

uint64_t check_input_file(const std::string& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw_error(ErrorCode::kIo, path, ": cannot open ", what, " (no such file)");
    throw_error(ErrorCode::kIo, path, ": cannot open ", what, " (", std::strerror(errno), ")");
  }
  if (S_ISDIR(st.st_mode)) throw_error(ErrorCode::kIo, path, ": is a folder, not a file (", what, " expected)");
  if (!S_ISREG(st.st_mode))
    throw_error(ErrorCode::kIo, path, ": not a regular file (", S_ISFIFO(st.st_mode) ? "a FIFO" :
                S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket" : "special",
                "); ", what, " files must be regular files");
  const uint64_t size = uint64_t(st.st_size);
  const auto limit = uint64_t(input_limits().max_file_bytes);
  CFF_CHECK_CODE(size <= limit, ErrorCode::kFormat, path, ": ", what, " file too large (", human_bytes(size),
                 ", limit ", human_bytes(limit), "; --max-file-size)");
  return size;
}

std::vector<uint8_t> read_input_file(const std::string& path, const char* what) {
  const uint64_t size = check_input_file(path, what);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_error(ErrorCode::kIo, path, ": cannot open ", what, " (", std::strerror(errno), ")");
  struct stat st {};
  // The file may have been swapped for another kind between stat() and open(): check the open one.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_error(ErrorCode::kIo, path, ": not a regular file");
  }
  std::vector<uint8_t> bytes(size_t(std::min<uint64_t>(size, uint64_t(st.st_size))));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int e = errno;
      ::close(fd);
      throw_error(ErrorCode::kIo, path, ": read error (", std::strerror(e), ")");
    }
    if (r == 0) break;  // shrank meanwhile: what is there is what we have
    got += size_t(r);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

bool process_is_gone(long pid) { return pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH; }

}  // namespace detail
}  // namespace cff
