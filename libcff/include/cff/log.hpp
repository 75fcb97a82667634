#pragma once
/// @file log.hpp
/// Where libcff's messages go. The library never writes to stdout or stderr by itself: a message
/// (a skipped image file, a plugin that differs from the one a model was trained with, ...) goes
/// to the handler installed here, or nowhere when none is. The `cff` tool installs one that
/// prints "cff: <message>" to stderr; the C API's cff_log_set() installs a C callback.

#include <functional>
#include <string>

namespace cff {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

/// Receives one message (one line, no trailing newline). It may be called from any thread (data
/// loading runs on worker threads), so it must be thread-safe; calls are not serialised. It must
/// not throw and must not call back into libcff.
using LogHandler = std::function<void(LogLevel level, const std::string& message)>;

/// Installs `handler` for the whole process (an empty function: messages are dropped, the
/// default). Thread-safe; a message being delivered while the handler changes goes to either.
void set_log_handler(LogHandler handler);

/// Sends a message to the installed handler (none: nothing happens). Used by libcff and its
/// plugins; never throws (a handler that throws is ignored for that message).
void log_message(LogLevel level, const std::string& message);

}  // namespace cff
