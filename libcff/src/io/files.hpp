#pragma once
// Checked access to input files (what every reader calls before it opens a file), and atomic writes.
#include <cstdint>
#include <string>
#include <vector>

namespace cff::detail {

/// Throws kIo naming `path` unless it is an existing regular file (a folder, FIFO, device or
/// socket is refused: reading /dev/zero never ends, a FIFO blocks), and kFormat unless its size
/// is at most InputLimits::max_file_bytes. Returns the size. `what` names the input in messages
/// ("image", "checkpoint", ...).
uint64_t check_input_file(const std::string& path, const char* what);

/// check_input_file(), then the whole file. Throws kIo on a read error.
std::vector<uint8_t> read_input_file(const std::string& path, const char* what);

/// Whether `pid` names a process that no longer exists (kill(pid, 0) gives ESRCH).
bool process_is_gone(long pid);

/// Writes `bytes` to `path` through a temporary file in the same folder, fsync and rename, so
/// readers see the old file or the new one, never a partial one; first removes temporary files
/// that dead processes left beside it. Throws kIo naming the file.
void write_file_atomically(const std::string& path, const std::string& bytes);

/// "1.5 GiB"-style text for a byte count, for messages.
std::string human_bytes(uint64_t bytes);

}  // namespace cff::detail
