// The process-wide log handler (log.hpp).
#include "cff/log.hpp"

#include <memory>
#include <mutex>

namespace cff {
namespace {
std::mutex g_mutex;
std::shared_ptr<const LogHandler> g_handler;  // copied out under the lock, called outside it
}  // namespace

void set_log_handler(LogHandler handler) {
  auto next = handler ? std::make_shared<const LogHandler>(std::move(handler)) : nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_handler = std::move(next);
}

void log_message(LogLevel level, const std::string& message) {
  std::shared_ptr<const LogHandler> handler;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    handler = g_handler;
  }
  if (!handler) return;
  try {
    (*handler)(level, message);
  } catch (...) {  // a handler must not throw; if it does, the message is lost, not the caller
  }
}

}  // namespace cff
