#pragma once
// Console and run-log output through spdlog's default logger. Info lines print bare (Keras
// style), warnings and errors carry a "warning:" / "error:" prefix. Everything logged before the
// run's log file is known is kept, so train.log holds the whole run from its first line.
#include <string>

#include <spdlog/spdlog.h>

namespace tl {

// `to_stderr`: commands whose stdout carries data (evaluate --json, predict, summary --json) log
// to stderr. `quiet`: warnings and errors only.
void init_logging(bool to_stderr, bool quiet);

// Also append every message, time-stamped, to `path` (the run's train.log), starting with the
// ones logged so far. Failed writes to it (disk full) print one warning on stderr and do not stop
// the run.
void add_log_file(const std::string& path);

// Records the error that ends the run in the log file (if one is open); the console already got it.
void log_final_error(const std::string& message);

}  // namespace tl
