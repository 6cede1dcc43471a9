#include "tl/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace tl {
namespace {

constexpr const char* kFilePattern = "[%Y-%m-%d %H:%M:%S] %*%v";
constexpr size_t kEarlyMessages = 10000;  // kept until the log file opens

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_early;
std::shared_ptr<spdlog::sinks::basic_file_sink_mt> g_file;

// "%*" in a pattern: nothing for info, "warning: " / "error: " for the levels a user must notice.
class LevelPrefix : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const char* prefix = "";
    if (msg.level == spdlog::level::warn) prefix = "warning: ";
    if (msg.level >= spdlog::level::err) prefix = "error: ";
    if (msg.level == spdlog::level::debug) prefix = "debug: ";
    dest.append(prefix, prefix + std::strlen(prefix));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelPrefix>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter(const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelPrefix>('*').set_pattern(pattern);
  return formatter;
}

}  // namespace

void init_logging(bool to_stderr, bool quiet) {
  spdlog::sink_ptr console;
  if (to_stderr)
    console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else
    console = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  console->set_formatter(make_formatter("%*%v"));
  console->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  g_early = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kEarlyMessages);
  g_early->set_formatter(make_formatter(kFilePattern));
  g_file.reset();
  auto logger = std::make_shared<spdlog::logger>("tl", spdlog::sinks_init_list{console, g_early});
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  // A log file that cannot be written (disk full) must not stop the run or repeat spdlog's
  // "[*** LOG ERROR ***]" lines on stderr: say it once.
  logger->set_error_handler([](const std::string& message) {
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) std::cerr << "tl-train: warning: " << message << " (further log errors not shown)\n";
  });
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto logger = spdlog::default_logger();
  try {
    g_file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  } catch (const spdlog::spdlog_ex& e) {
    spdlog::warn("cannot open the log file {}: {}", path, e.what());
    return;
  }
  g_file->set_formatter(make_formatter(kFilePattern));
  auto& sinks = logger->sinks();
  if (g_early) {
    // The lines logged so far, as they were formatted then (their own time stamps).
    std::string early;
    for (const auto& line : g_early->last_formatted()) early += line;
    std::FILE* raw = std::fopen(path.c_str(), "a");
    if (raw) std::fwrite(early.data(), 1, early.size(), raw), std::fclose(raw);
    sinks.erase(std::remove(sinks.begin(), sinks.end(), g_early), sinks.end());
    g_early.reset();
  }
  sinks.push_back(g_file);
}

void log_final_error(const std::string& message) {
  if (!g_file) return;
  try {
    g_file->log(spdlog::details::log_msg("tl", spdlog::level::err, message));
    g_file->flush();
  } catch (...) {  // a full disk: the console already has the error
  }
}

}  // namespace tl
