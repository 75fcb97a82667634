// Checkpoint files: a small checked envelope around a LibTorch archive.
//
//   bytes 0..7    magic "CFFCKPT\0"
//   bytes 8..11   format version (uint32, little endian)
//   bytes 12..19  payload size in bytes (uint64, little endian)
//   bytes 20..23  CRC-32 of the payload (uint32, little endian)
//   bytes 24..    payload: torch::serialize archive (config JSON, weights, optimizer states, ...)
//
// The envelope catches truncation and corruption before LibTorch parses anything; the zip
// directory, pickles and TorchScript source of the payload are walked before LibTorch reads them.
// This file knows the format only: what a trainer stores in it is train/persist.cpp's business.
#include <zlib.h>

#include <cstring>
#include <sstream>
#include <regex>
#include <tuple>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <nlohmann/json.hpp>

#include "cff/error.hpp"
#include "cff/limits.hpp"
#include "files.hpp"
#include "checkpoint.hpp"

namespace cff {
namespace {
constexpr char kMagic[8] = {'C', 'F', 'F', 'C', 'K', 'P', 'T', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 24;

template <typename T>
void put_le(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(char((uint64_t(v) >> (8 * i)) & 0xff));
}
template <typename T>
T get_le(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
  return T(v);
}

uint32_t crc32_of(const char* p, size_t left) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (left > 0) {
    const uInt chunk = uInt(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    left -= chunk;
  }
  return uint32_t(crc);
}

// ---- the archive's TorchScript source, checked before LibTorch compiles it ----------------------
//
// A LibTorch archive carries TorchScript source (code/*.py) that torch::jit compiles while it loads
// the file; crafted source crashes LibTorch 1.13's compiler (fuzz finding: SEGV in
// ScriptTypeParser). An archive that OutputArchive writes holds only class declarations of a fixed
// shape, so every line of every code record must have one of these shapes, and the records must
// be the ones an OutputArchive writes, before load_from() sees the payload.
struct MemoryReader : caffe2::serialize::ReadAdapterInterface {
  const char* data;
  size_t length;
  MemoryReader(const char* d, size_t n) : data(d), length(n) {}
  size_t size() const override { return length; }
  size_t read(uint64_t pos, void* buf, size_t n, const char*) const override {
    if (pos >= length) return 0;
    n = std::min<size_t>(n, length - size_t(pos));
    std::memcpy(buf, data + pos, n);
    return n;
  }
};

bool is_declaration_line(const std::string& line) {
  static const std::string name = R"([A-Za-z_][A-Za-z0-9_]*)", quoted = R"("[^"\\]{0,256}")";
  static const std::string simple = R"((Tensor|str|int|float|bool|__torch__(\.___torch_mangle_[0-9]+)?\.Module))";
  static const std::string type = simple + "|Tuple\\[" + simple + "(, " + simple + ")*\\]|List\\[" + simple + "\\]";
  static const std::regex shapes("|class Module\\(Module\\):"
                                 "|  __(parameters|buffers)__ = \\[(" + quoted + ", )*\\]"
                                 "|  __annotations__ = \\[\\]"
                                 "|  __annotations__\\[" + quoted + "\\] = (" + type + ")"
                                 "|  " + name + " : (" + type + ")");
  return line.size() <= 4096 && std::regex_match(line, shapes);
}

// Walks a pickle (protocol 2, as LibTorch writes data.pkl, constants.pkl and the debug tables)
// opcode by opcode and refuses any whose declared length runs past the record: LibTorch 1.13's
// unpickler reserves the length a string opcode declares before reading it (fuzz finding: a
// 4 GB allocation from a 36 KB file) and resizes its memo table to the largest memo index it
// sees. Unknown opcodes are refused too.
void check_pickle(const std::string& record, const uint8_t* p, size_t n) {
  auto fail = [&](size_t at, const char* what) {
    detail::throw_error(ErrorCode::kFormat, "archive record ", record, ": ", what, " at byte ", at);
  };
  auto le = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= uint64_t(p[at + size_t(k)]) << (8 * k);
    return v;
  };
  size_t i = 0;
  while (i < n) {
    const uint8_t op = p[i];
    const size_t at = i++;
    auto need = [&](uint64_t len) {
      if (len > n - i) fail(at, "pickle length past the end of the record");
      i += size_t(len);
    };
    auto counted = [&](int bytes) {
      need(uint64_t(bytes));
      need(le(i - size_t(bytes), bytes));
    };
    auto line = [&] {
      const void* nl = std::memchr(p + i, '\n', n - i);
      if (!nl) fail(at, "pickle line without an end");
      i = size_t(static_cast<const uint8_t*>(nl) - p) + 1;
    };
    switch (op) {
      case '.': return;  // STOP
      case '(': case ')': case ']': case '}': case 't': case 'e': case 's': case 'u': case 'a': case 'R':
      case 'b': case 'N': case 0x88: case 0x89: case 0x85: case 0x86: case 0x87: case '0': case '1': case '2':
      case 'Q': case 0x81: case 0x94: case 0x93: case 'd': case 'l': case 'o': break;
      case 'K': case 'q': case 'h': case 0x80: need(1); break;
      case 'M': need(2); break;
      case 'J': need(4); break;
      case 'r': case 'j':  // LONG_BINPUT / LONG_BINGET: LibTorch sizes its memo table by the index
        need(4);          // (fuzz finding: a 25 GB resize); a real index is below the record's size
        if (le(i - 4, 4) >= n) fail(at, "pickle memo index past the record's size");
        break;
      case 'G': case 0x95: need(8); break;
      case 0x8a: counted(1); break;  // LONG1
      case 0x8b: counted(4); break;  // LONG4
      case 'X': case 'T': case 'B': counted(4); break;
      case 'U': case 'C': case 0x8c: counted(1); break;
      case 0x8d: case 0x8e: counted(8); break;
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'p': case 'g': line(); break;
      case 'c': case 'i': line(); line(); break;
      default: fail(at, "unknown pickle opcode");
    }
  }
  fail(n, "pickle without STOP");
}

// Walks the zip's central directory before LibTorch opens it: LibTorch's reader allocates the
// size a record's entry declares before reading it (fuzz finding: 3.25 GB from a 36 KB file).
// Stored records (tensors, pickles) must fit in the file; compressed ones (LibTorch deflates
// only code) may expand to 1 MiB; zip64 entries never occur in a checkpoint (< 4 GiB).
void check_zip_sizes(const char* zip, size_t size) {
  auto u16 = [&](size_t at) { return uint32_t(get_le<uint16_t>(zip + at)); };
  auto u32 = [&](size_t at) { return get_le<uint32_t>(zip + at); };
  auto fail = [](const auto&... what) { detail::throw_error(ErrorCode::kFormat, "archive: ", what...); };
  if (size < 22) fail("too short for a zip archive");
  size_t end = size - 22;  // the end-of-central-directory record, after at most a 64 KiB comment
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  while (u32(end) != 0x06054b50u) {
    if (end == lowest) fail("no end of central directory");
    --end;
  }
  const uint64_t count = u16(end + 10), cd_size = u32(end + 12), cd_offset = u32(end + 16);
  if (cd_offset + cd_size > end) fail("central directory past its end record");
  size_t at = size_t(cd_offset);
  for (uint64_t i = 0; i < count; ++i) {
    if (at + 46 > end || u32(at) != 0x02014b50u) fail("central directory entry ", i, " is damaged");
    const uint32_t method = u16(at + 10), packed = u32(at + 20), full = u32(at + 24), offset = u32(at + 42);
    const size_t name_len = u16(at + 28), next = at + 46 + name_len + u16(at + 30) + u16(at + 32);
    if (next > end) fail("central directory entry ", i, " is damaged");
    const std::string name(zip + at + 46, name_len);
    if (packed == 0xffffffffu || full == 0xffffffffu || offset == 0xffffffffu)
      fail("record ", name, " is a zip64 entry, which a checkpoint never holds");
    if (method == 0 && (full != packed || uint64_t(offset) + packed > size))
      fail("record ", name, " declares ", full, " bytes, more than the file holds");
    if (method == 8 && full > (1u << 20)) fail("compressed record ", name, " declares ", full, " bytes (limit 1 MiB)");
    if (method != 0 && method != 8) fail("record ", name, " uses zip method ", method);
    at = next;
  }
}

void check_archive_source(const char* payload, size_t size) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<MemoryReader>(payload, size));
  for (const auto& record : reader.getAllRecords()) {
    const bool code = record.rfind("code/", 0) == 0;
    const bool debug = code && record.size() > 10 && record.compare(record.size() - 10, 10, ".debug_pkl") == 0;
    const bool known = record == "data.pkl" || record == "constants.pkl" || record == "version" ||
                       record == ".data/version" || record.rfind("data/", 0) == 0 || code;
    CFF_CHECK_CODE(known, ErrorCode::kFormat, "archive record ", record, " is not one a checkpoint holds");
    const bool pickle = record == "data.pkl" || record == "constants.pkl" || debug;
    if (!code && !pickle) continue;
    auto [data, length] = reader.getRecord(record);
    if (pickle) {
      CFF_CHECK_CODE(!debug || length <= 4096, ErrorCode::kFormat, "archive record ", record, " is ", length, " bytes");
      check_pickle(record, static_cast<const uint8_t*>(data.get()), length);
      continue;
    }
    CFF_CHECK_CODE(record.size() > 3 && record.compare(record.size() - 3, 3, ".py") == 0 && length <= (1 << 20),
                   ErrorCode::kFormat, "archive record ", record, " is not a checkpoint's source record");
    const std::string text(static_cast<const char*>(data.get()), length);
    size_t start = 0, line_no = 1;
    for (size_t end; start <= text.size(); start = end + 1, ++line_no) {
      end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(start, end - start);
      CFF_CHECK_CODE(is_declaration_line(line), ErrorCode::kFormat, "archive record ", record, " line ", line_no,
                     " is not a declaration a checkpoint holds ('", nlohmann::json(line).dump(-1, ' ', true,
                     nlohmann::json::error_handler_t::replace).substr(0, 80), "')");
    }
  }
}
}  // namespace

namespace detail {

std::string history_json(const std::vector<EpochRecord>& history) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : history)
    j.push_back({{"stage", r.stage}, {"epoch", r.epoch}, {"train_loss", r.train_loss}, {"val_loss", r.val_loss},
                 {"seconds", r.seconds}, {"best", r.best}});
  return j.dump();
}

std::vector<EpochRecord> parse_history(const std::string& text) {
  std::vector<EpochRecord> out;
  for (const auto& j : nlohmann::json::parse(text)) {
    EpochRecord r;
    r.stage = j.at("stage");
    r.epoch = j.at("epoch");
    r.train_loss = j.at("train_loss").get<std::vector<double>>();
    r.val_loss = j.at("val_loss").get<std::vector<double>>();
    r.seconds = j.at("seconds");
    r.best = j.at("best");
    out.push_back(r);
  }
  return out;
}

void write_tensors(torch::serialize::OutputArchive& archive, const std::vector<torch::Tensor>& tensors) {
  archive.write("count", c10::IValue(int64_t(tensors.size())));
  for (size_t i = 0; i < tensors.size(); ++i) archive.write(std::to_string(i), tensors[i]);
}

std::vector<torch::Tensor> read_tensors(torch::serialize::InputArchive& archive, const torch::Device& device) {
  c10::IValue count;
  archive.read("count", count);
  const int64_t n = count.toInt();
  CFF_CHECK_CODE(n >= 0 && n <= 1000000, ErrorCode::kFormat, "bad tensor count ", n);
  std::vector<torch::Tensor> out(static_cast<size_t>(n));
  for (size_t i = 0; i < out.size(); ++i) {
    archive.read(std::to_string(i), out[i]);
    out[i] = out[i].to(device);
  }
  return out;
}

// Name, shape and dtype of every tensor of `module`: what the loaded tensors must match.
TensorLayout layout_of(const torch::nn::Module& module) {
  TensorLayout out;
  for (const auto& item : module.named_parameters())
    out.emplace_back(item.key(), item.value().sizes().vec(), item.value().scalar_type());
  for (const auto& item : module.named_buffers())
    out.emplace_back(item.key(), item.value().sizes().vec(), item.value().scalar_type());
  return out;
}

std::string shape_text(c10::IntArrayRef s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

// LibTorch's Module::load replaces each tensor by the stored one whatever its shape (a 10-way
// head loads into a 3-class model): every tensor must have the shape the config's model has.
void check_layout(const torch::nn::Module& module, const TensorLayout& expected, const std::string& what) {
  const auto got = layout_of(module);
  CFF_CHECK_CODE(got.size() == expected.size(), ErrorCode::kFormat, what, " has ", got.size(), " tensors, the config's model ",
                 expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& [name, shape, dtype] = expected[i];
    CFF_CHECK_CODE(std::get<1>(got[i]) == shape && std::get<2>(got[i]) == dtype, ErrorCode::kFormat, what, " tensor ",
                   name, " is ", shape_text(std::get<1>(got[i])), " ", c10::toString(std::get<2>(got[i])),
                   ", the config's model needs ", shape_text(shape), " ", c10::toString(dtype));
  }
}

// AdamW moments must match their parameters (else the first step fails deep inside LibTorch).
void check_optimizer(torch::optim::Optimizer& opt, const std::string& what) {
  for (auto& group : opt.param_groups())
    for (auto& p : group.params()) {
      const auto it = opt.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it == opt.state().end()) continue;
      const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      for (const auto* t : {&st.exp_avg(), &st.exp_avg_sq(), &st.max_exp_avg_sq()})
        CFF_CHECK_CODE(!t->defined() || (t->sizes() == p.sizes() && t->scalar_type() == p.scalar_type()),
                       ErrorCode::kFormat, what, ": optimizer state ", shape_text(t->sizes()),
                       " does not match its parameter ", shape_text(p.sizes()));
    }
}



template <typename T>
T read_value(torch::serialize::InputArchive& archive, const char* key);
template <>
int64_t read_value(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toInt();
}
template <>
double read_value(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toDouble();
}
template <>
std::string read_value(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toStringRef();
}

std::string seal_checkpoint(const std::string& payload) {
  std::string bytes(kMagic, sizeof kMagic);
  put_le<uint32_t>(bytes, kFormatVersion);
  put_le<uint64_t>(bytes, payload.size());
  put_le<uint32_t>(bytes, crc32_of(payload.data(), payload.size()));
  bytes += payload;
  return bytes;
}

CheckpointFile read_checkpoint_file(const std::string& path) {
  // A regular file within InputLimits::max_file_bytes (a folder is kIo, never "not a checkpoint").
  CheckpointFile out{read_input_file(path, "checkpoint")};
  const auto& file = out.bytes;
  const char* bytes = reinterpret_cast<const char*>(file.data());
  CFF_CHECK_CODE(file.size() >= kHeaderSize && std::memcmp(bytes, kMagic, sizeof kMagic) == 0, ErrorCode::kFormat,
                 path, ": not a libcff checkpoint");
  const auto version = get_le<uint32_t>(bytes + 8);
  CFF_CHECK_CODE(version == kFormatVersion, ErrorCode::kFormat, path, ": checkpoint format version ", version,
                 ", this libcff reads version ", kFormatVersion);
  const auto size = get_le<uint64_t>(bytes + 12);
  const uint64_t present = file.size() - kHeaderSize;
  CFF_CHECK_CODE(present == size, ErrorCode::kFormat, path, ": checkpoint is ",
                 present < size ? "truncated" : "longer than its header says", " (", size,
                 " payload bytes expected, ", present, " present)");
  const char* payload = bytes + kHeaderSize;
  CFF_CHECK_CODE(crc32_of(payload, present) == get_le<uint32_t>(bytes + 20), ErrorCode::kFormat, path,
                 ": checkpoint is corrupt (checksum mismatch)");
  return out;
}

void load_checkpoint_archive(const CheckpointFile& file, torch::serialize::InputArchive& archive) {
  check_zip_sizes(file.payload(), file.payload_size());
  check_archive_source(file.payload(), file.payload_size());
  archive.load_from(file.payload(), file.payload_size(), torch::kCPU);
}

const char* CheckpointFile::payload() const { return reinterpret_cast<const char*>(bytes.data()) + kHeaderSize; }
size_t CheckpointFile::payload_size() const { return bytes.size() - kHeaderSize; }

}  // namespace detail
}  // namespace cff
