#pragma once
/// @file error.hpp
/// The one exception type libcff throws, and the check macro that throws it.

#include <sstream>
#include <stdexcept>
#include <string>

namespace cff {

/// What kind of failure an Error reports. The values match the C API's status codes.
enum class ErrorCode : int {
  kInvalidArgument = 1,  ///< a bad option, shape, size or value passed by the caller
  kIo = 2,               ///< a file could not be opened, read or written
  kFormat = 3,           ///< a file was read but its content is corrupt, truncated or mismatched
  kState = 4,            ///< the call is not valid in the object's current state
  kPlugin = 5,           ///< a plugin failed to load or failed its own call
  kUnsupported = 6,      ///< the build or the machine lacks what the call needs (e.g. CUDA)
  kNumerics = 7,         ///< a NaN or Inf appeared in an input, a loss or a gradient
};

/// Thrown by every libcff function that fails; `what()` is a complete one-line message.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
template <typename... Args>
[[noreturn]] void throw_error(ErrorCode code, const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  throw Error(code, out.str());
}
}  // namespace detail

}  // namespace cff

/// Throws cff::Error(code, message) unless `cond` holds; the message parts are streamed together.
#define CFF_CHECK_CODE(cond, code, ...)                  \
  do {                                                   \
    if (!(cond)) ::cff::detail::throw_error(code, __VA_ARGS__); \
  } while (0)

/// Throws cff::Error(kInvalidArgument, message) unless `cond` holds.
#define CFF_CHECK(cond, ...) CFF_CHECK_CODE(cond, ::cff::ErrorCode::kInvalidArgument, __VA_ARGS__)
