#pragma once
// Shared pieces of the cff subcommands: data options, progress display, small parsers, JSON.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cff/cff.hpp"

namespace cff::tool {

using nlohmann::json;

/// A subcommand: its CLI11 app and what runs when it is chosen (returns the exit code).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// One registration function per subcommand (one file each).
Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_predict(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_info(CLI::App& app);
Command add_export(CLI::App& app);
Command add_plugins(CLI::App& app);

/// `--plugin PATH` (repeatable) for every subcommand, and loading what it named.
void add_plugin_option(CLI::App& app, std::vector<std::string>& paths);
void load_plugins(const std::vector<std::string>& paths);

/// --max-image-pixels --max-file-size --max-data-size --max-parameters (limits.hpp) for every
/// subcommand, written into `limits`.
void add_limit_options(CLI::App& app, InputLimits& limits);
/// A whole number in lo..hi, strictly: "28abc", "1e20", "4294967297" for a small range are errors
/// naming `what`.
int64_t parse_int(const std::string& text, int64_t lo, int64_t hi, const std::string& what);

/// Set by SIGINT while training.
extern std::atomic<bool> g_stop;
void on_sigint(int);

/// How DATA folders are read (image-folder rules, worker threads).
struct DataArgs {
  int64_t channels = 0;
  std::string size;            // "" (auto), "N" or "HxW"
  std::string resize = "crop";
  std::string bad_files = "skip";
  int64_t workers = 2;
  int64_t prefetch = 4;
  bool in_memory = false;
  bool quiet = false;

  /// Adds --channels --size --resize --bad-files --workers (and, with `loader`, --prefetch
  /// --in-memory) to `cmd`.
  void add_to(CLI::App* cmd, bool loader);
  /// Image-folder options; a model's shape and class names override the automatic choices.
  ImageFolderOptions folder_options(const Config* model) const;
};

/// The arguments of a subcommand that runs a saved model on data (eval, inspect): MODEL DATA
/// [--part] [--device] [--json] [--quiet] and the DataArgs options.
struct ModelDataArgs {
  std::string model, data, part, device;
  bool json_out = false;
  DataArgs data_args;

  void add_to(CLI::App* cmd);
  /// --part, or by default the test part when DATA has one, else all of DATA.
  std::string chosen_part() const;
};

/// Opens `part` of DATA; for a model, image folders follow its channels, size and class names.
std::shared_ptr<ImageSource> open_part(const std::string& data, const std::string& part, const DataArgs& args,
                                       const Config* model);
/// All of a source in memory (decoded on args.workers threads); reports skipped files.
Dataset load_all(const ImageSource& source, const DataArgs& args);
/// The test part of DATA if it has one, else DATA itself ("the data given is the test data").
std::string eval_part(const std::string& data);
/// Prints "N files skipped" (and the first few) on stderr when any were skipped.
void report_skipped(const ImageSource& source, bool quiet);

std::vector<int64_t> parse_ks(const std::string& text);
json evaluation_json(const Evaluation& e);
/// Class name of label `c` for a model (its saved names, else the number).
std::string class_name(const Config& config, int64_t c);

/// Progress on stderr: a bar with rate and ETA on a terminal, a line every few seconds otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet);
  void batch(const Progress& p);
  void epoch(const EpochRecord& r);
  /// A one-off message on its own line (clears a bar first).
  void note(const std::string& text);

 private:
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace cff::tool
