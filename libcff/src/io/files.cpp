// Atomic file writes (files.hpp): a temporary file in the same folder, flushed to disk and renamed
// over the target, so readers see the old file or the new one, never a partial one.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "cff/error.hpp"
#include "files.hpp"

namespace cff::detail {
namespace {
// Removes `<name>.tmp.<pid>` files beside `target` left by processes that no longer exist (a kill
// -9 or a power cut during a save). A live process's temporary file is never touched.
void remove_stale_temporaries(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string prefix = target.filename().string() + ".tmp.";
  const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    if (long(std::stol(pid)) == long(::getpid()) || !process_is_gone(std::stol(pid))) continue;
    std::error_code rm;
    fs::remove(it->path(), rm);
  }
}

// fsync of the folder holding `target`, so that the rename itself survives a power loss.
void sync_parent(const std::filesystem::path& target) {
  const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the data itself is on disk already; only the name's durability is at stake
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  remove_stale_temporaries(target);
  const fs::path tmp = target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  CFF_CHECK_CODE(f != nullptr, ErrorCode::kIo, path, ": cannot write (", std::strerror(errno), ")");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw_error(ErrorCode::kIo, path, ": write failed (", std::strerror(saved_errno), ")");
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw_error(ErrorCode::kIo, path, ": cannot replace (", std::strerror(e), ")");
  }
  sync_parent(target);
}

}  // namespace cff::detail
