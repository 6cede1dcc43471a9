#pragma once
// Typed errors thrown by the library. main() catches them once, prints one line and returns the
// exit code that belongs to the kind (documented in the README, "Failure behaviour").
#include <stdexcept>
#include <string>

namespace tl {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // unexpected internal error
  kExitUsage = 2,        // bad command line
  kExitConfig = 3,       // bad configuration file or --set override
  kExitData = 4,         // dataset problems: missing root, empty split, bad image with on_bad_image=fail
  kExitModel = 5,        // backbone / checkpoint cannot be used
  kExitIo = 6,           // cannot write outputs (disk full, permissions)
  kExitTraining = 7,     // training diverged (NaN/Inf loss)
  kExitPredict = 8,      // predict: some inputs could not be classified
  kExitDistributed = 9,  // data parallel: another process died, never joined, or disagrees
  kExitInterrupted = 130,  // SIGINT (128 + 2)
  kExitTerminated = 143,   // SIGTERM (128 + 15)
};

// The first line of a library's message (LibTorch's carry a C++ backtrace after it).
inline std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

struct UsageError : Error { explicit UsageError(const std::string& m) : Error(m, kExitUsage) {} };
struct ConfigError : Error { explicit ConfigError(const std::string& m) : Error(m, kExitConfig) {} };
struct DataError : Error { explicit DataError(const std::string& m) : Error(m, kExitData) {} };
struct ModelError : Error { explicit ModelError(const std::string& m) : Error(m, kExitModel) {} };
struct IoError : Error { explicit IoError(const std::string& m) : Error(m, kExitIo) {} };
struct TrainingError : Error { explicit TrainingError(const std::string& m) : Error(m, kExitTraining) {} };
struct DistError : Error { explicit DistError(const std::string& m) : Error(m, kExitDistributed) {} };

}  // namespace tl
