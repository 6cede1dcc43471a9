#pragma once
// Shared helpers for the tests: temporary directories, running the tl-train binary, and small
// fixtures (tiny random-weight backbones exported once per test process).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace tl::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tl_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& child = "") const { return child.empty() ? path_.string() : (path_ / child).string(); }

 private:
  fs::path path_;
};

inline void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int exit_code = -1;      // the process's exit status; -1 when it ended by a signal
  int signal = 0;          // the signal that ended it, if any
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command, capturing stdout and stderr separately.
inline RunResult run_shell(const std::string& command) {
  static int counter = 0;
  std::string base = (fs::temp_directory_path() / ("tl_run_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  int status = std::system((command + " >" + base + ".out 2>" + base + ".err").c_str());
  RunResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  // system() runs /bin/sh; a child killed by a signal shows as 128+N from the shell.
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  else if (r.exit_code > 128 && r.exit_code < 160) r.signal = r.exit_code - 128;
  r.out = read_text(base + ".out");
  r.err = read_text(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return r;
}

// Runs the tl-train binary built with these tests.
inline RunResult run_tl(const std::vector<std::string>& args) {
  std::string command = shell_quote(TL_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  return run_shell(command);
}

// The Python that has Debian's torch (the PATH's python3 may be another one).
inline std::string python_with_torch() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    if (run_shell(std::string(candidate) + " -c 'import torch, torchvision'").exit_code == 0) return candidate;
  }
  return "";
}

// A random-weight VGG16-shaped TorchScript backbone exported with scripts/export_vgg16.py.
// width_div 16 makes a tiny network for fast tests. Exports are kept in the build tree (keyed by
// the export script's content) so that CTest's one-process-per-test runs export each file once.
// Returns "" when Python with torchvision is missing (callers GTEST_SKIP with a message).
inline std::string exported_backbone(int width_div = 16, bool features_only = false, const std::string& arch = "vgg16") {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string script = std::string(TL_SOURCE_DIR) + "/scripts/export_vgg16.py";
  const size_t version = std::hash<std::string>{}(read_text(script));
  fs::path dir = fs::path(TL_FIXTURE_DIR);
  fs::create_directories(dir);
  std::string out = (dir / (arch + "_w" + std::to_string(width_div) + (features_only ? "_f" : "") + "_" +
                            std::to_string(version % 1000000007) + ".pt")).string();
  if (fs::exists(out)) return out;
  std::string python = python_with_torch();
  if (python.empty()) return "";
  // The script writes a temporary file and renames it, so concurrent test processes are safe.
  std::string command = python + " " + shell_quote(script) + " --weights random --seed 0 --arch " + arch +
                        " --width-div " + std::to_string(width_div) + (features_only ? " --features-only" : "") +
                        " --out " + shell_quote(out);
  RunResult r = run_shell(command);
  if (r.exit_code != 0) throw std::runtime_error("export failed: " + r.err);
  return out;
}

}  // namespace tl::test
