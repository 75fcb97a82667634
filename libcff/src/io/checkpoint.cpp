// Checkpoint files: a small checked envelope around a LibTorch archive.
//
//   bytes 0..7    magic "CFFCKPT\0"
//   bytes 8..11   format version (uint32, little endian)
//   bytes 12..19  payload size in bytes (uint64, little endian)
//   bytes 20..23  CRC-32 of the payload (uint32, little endian)
//   bytes 24..    payload: torch::serialize archive (config JSON, weights, optimizer states, ...)
//
// The envelope catches truncation and corruption before LibTorch parses anything; writes go to a
// temporary file in the same folder, are flushed to disk, and are renamed over the target.
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cff/diagnostics.hpp"
#include "cff/error.hpp"
#include "../train/state.hpp"

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

uint32_t crc32_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const uInt chunk = uInt(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    left -= chunk;
  }
  return uint32_t(crc);
}

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
  std::vector<torch::Tensor> out(size_t(count.toInt()));
  for (size_t i = 0; i < out.size(); ++i) {
    archive.read(std::to_string(i), out[i]);
    out[i] = out[i].to(device);
  }
  return out;
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
}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path tmp = target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  CFF_CHECK_CODE(f != nullptr, ErrorCode::kIo, path, ": cannot write (", std::strerror(errno), ")");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    detail::throw_error(ErrorCode::kIo, path, ": write failed (", std::strerror(saved_errno), ")");
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    detail::throw_error(ErrorCode::kIo, path, ": cannot replace (", std::strerror(e), ")");
  }
}

void write_checkpoint(const Trainer::State& s, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("config", c10::IValue(s.cfg.to_json()));
  archive.write("stage", c10::IValue(s.stage));
  archive.write("epoch", c10::IValue(s.epoch));
  archive.write("best_val", c10::IValue(s.best_val));
  archive.write("best_epoch", c10::IValue(s.best_epoch));
  std::ostringstream rng_state;
  rng_state << s.rng;
  archive.write("rng", c10::IValue(rng_state.str()));
  archive.write("history", c10::IValue(history_json(s.history)));
  torch::serialize::OutputArchive net, head, head_opt, best;
  s.net->save(net);
  s.head->save(head);
  s.head_opt->save(head_opt);
  write_tensors(best, s.best_snapshot);
  archive.write("net", net);
  archive.write("head", head);
  archive.write("head_opt", head_opt);
  archive.write("best", best);
  for (size_t l = 0; l < s.layer_opt.size(); ++l) {
    torch::serialize::OutputArchive opt;
    s.layer_opt[l]->save(opt);
    archive.write("layer_opt." + std::to_string(l), opt);
  }
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();

  std::string bytes(kMagic, sizeof kMagic);
  put_le<uint32_t>(bytes, kFormatVersion);
  put_le<uint64_t>(bytes, payload.size());
  put_le<uint32_t>(bytes, crc32_of(payload));
  bytes += payload;
  write_file_atomically(path, bytes);
}

std::unique_ptr<Trainer::State> read_checkpoint(const std::string& path, const std::string& device) {
  std::ifstream in(path, std::ios::binary);
  CFF_CHECK_CODE(in.good(), ErrorCode::kIo, path, ": cannot open checkpoint");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CFF_CHECK_CODE(bytes.size() >= kHeaderSize && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0,
                 ErrorCode::kFormat, path, ": not a libcff checkpoint");
  const auto version = get_le<uint32_t>(bytes.data() + 8);
  CFF_CHECK_CODE(version == kFormatVersion, ErrorCode::kFormat, path, ": checkpoint format version ", version,
                 ", this libcff reads version ", kFormatVersion);
  const auto size = get_le<uint64_t>(bytes.data() + 12);
  CFF_CHECK_CODE(bytes.size() - kHeaderSize == size, ErrorCode::kFormat, path, ": checkpoint is ",
                 bytes.size() - kHeaderSize < size ? "truncated" : "longer than its header says", " (", size,
                 " payload bytes expected, ", bytes.size() - kHeaderSize, " present)");
  const std::string payload = bytes.substr(kHeaderSize);
  CFF_CHECK_CODE(crc32_of(payload) == get_le<uint32_t>(bytes.data() + 20), ErrorCode::kFormat, path,
                 ": checkpoint is corrupt (checksum mismatch)");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(payload.data(), payload.size(), torch::kCPU);
    Config cfg = Config::from_json(read_value<std::string>(archive, "config"));
    if (!device.empty()) cfg.train.device = device;
    auto s = std::make_unique<Trainer::State>(cfg);
    s->stage = read_value<int64_t>(archive, "stage");
    s->epoch = read_value<int64_t>(archive, "epoch");
    s->best_val = read_value<double>(archive, "best_val");
    s->best_epoch = read_value<int64_t>(archive, "best_epoch");
    std::istringstream rng_state(read_value<std::string>(archive, "rng"));
    rng_state >> s->rng;
    CFF_CHECK_CODE(!rng_state.fail(), ErrorCode::kFormat, path, ": bad RNG state");
    s->history = parse_history(read_value<std::string>(archive, "history"));
    torch::serialize::InputArchive net, head, head_opt, best;
    archive.read("net", net);
    archive.read("head", head);
    archive.read("head_opt", head_opt);
    archive.read("best", best);
    s->net->load(net);
    s->head->load(head);
    s->net->to(s->device);
    s->head->to(s->device);
    s->head_opt->load(head_opt);
    for (size_t l = 0; l < s->layer_opt.size(); ++l) {
      torch::serialize::InputArchive opt;
      archive.read("layer_opt." + std::to_string(l), opt);
      s->layer_opt[l]->load(opt);
    }
    s->best_snapshot = read_tensors(best, s->device);
    CFF_CHECK_CODE(s->best_snapshot.empty() || s->best_snapshot.size() == s->state_tensors().size(), ErrorCode::kFormat,
                   path, ": best-epoch snapshot does not match the model");
    return s;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnsupported) throw;
    detail::throw_error(ErrorCode::kFormat, path, ": ", e.what());
  } catch (const std::exception& e) {
    // LibTorch's own messages carry a C++ backtrace; the first line says what is wrong.
    std::string msg = e.what();
    msg = msg.substr(0, msg.find('\n'));
    detail::throw_error(ErrorCode::kFormat, path, ": checkpoint content does not match (", msg, ")");
  }
}

}  // namespace cff
