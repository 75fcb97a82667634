// cff.h: versions, statuses, strings, the runtime (threads, devices, log) and input limits.
#include "boundary.hpp"

using namespace cff_c;

extern "C" {

// ==== Versions and status ==============================================================================

const char* cff_version(void) { return CFF_VERSION_STRING; }
uint32_t cff_abi_version(void) { return CFF_ABI_VERSION; }

cff_status* cff_abi_check(uint32_t host_abi_version) {
  CFF_C_TRY
  if (host_abi_version != CFF_ABI_VERSION)
    cff::detail::throw_error(ErrorCode::kUnsupported, "libcff_c has ABI version ", CFF_ABI_VERSION,
                             " but the host was built for ABI version ", host_abi_version,
                             "; rebuild it against this library's cff.h, or use a library of its ABI");
  CFF_C_CATCH
}
const char* cff_torch_version(void) { return cff::torch_version(); }

cff_code cff_status_code(const cff_status* status) {
  if (!status) return CFF_CODE_OK;
  return live_status(status) ? status->code : CFF_CODE_INVALID_ARGUMENT;
}
const char* cff_status_message(const cff_status* status) {
  if (!status) return "";
  return live_status(status) ? status->message.c_str() : "status is not a live handle (already freed, or not made by libcff)";
}
void cff_status_free(cff_status* status) {
  if (status != &g_out_of_memory) release(status, Kind::kStatus);
}

const char* cff_code_name(cff_code code) {
  switch (enum_value(code)) {
    case CFF_CODE_OK: return "CFF_CODE_OK";
    case CFF_CODE_INVALID_ARGUMENT: return "CFF_CODE_INVALID_ARGUMENT";
    case CFF_CODE_IO: return "CFF_CODE_IO";
    case CFF_CODE_FORMAT: return "CFF_CODE_FORMAT";
    case CFF_CODE_STATE: return "CFF_CODE_STATE";
    case CFF_CODE_PLUGIN: return "CFF_CODE_PLUGIN";
    case CFF_CODE_UNSUPPORTED: return "CFF_CODE_UNSUPPORTED";
    case CFF_CODE_NUMERICS: return "CFF_CODE_NUMERICS";
    case CFF_CODE_OUT_OF_MEMORY: return "CFF_CODE_OUT_OF_MEMORY";
    case CFF_CODE_INTERNAL: return "CFF_CODE_INTERNAL";
  }
  return "CFF_CODE_UNKNOWN";
}

void cff_string_free(char* string) { std::free(string); }

// ==== Runtime ===========================================================================================

cff_status* cff_threads_set(int64_t threads) {
  CFF_C_TRY
  cff::set_threads(threads);
  CFF_C_CATCH
}

void cff_log_set(cff_log_fn fn, void* user_data) {
  try {
    if (!fn) {
      cff::set_log_handler(nullptr);
      return;
    }
    cff::set_log_handler([fn, user_data](cff::LogLevel level, const std::string& message) {
      fn(static_cast<int32_t>(level), message.c_str(), user_data);
    });
  } catch (...) {  // out of memory: the previous handler stays
  }
}

cff_status* cff_device_check(const char* device) {
  CFF_C_TRY
  cff::resolve_device(check_string(device, "device"));
  CFF_C_CATCH
}


// ==== Input limits =======================================================================================

cff_status* cff_limit_set(const char* name, int64_t value) {
  CFF_C_TRY
  cff::set_input_limit(check_string(name, "name"), value);
  CFF_C_CATCH
}

}  // extern "C"
