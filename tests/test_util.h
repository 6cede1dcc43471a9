#pragma once
// Shared helpers for the tests: temporary directories, running the tl-train binary, and small
// fixtures (tiny random-weight backbones exported once per test process).
#include <linux/capability.h>
#include <sys/syscall.h>
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
  std::string str(const std::string& child = "") const {
    return child.empty() ? path_.string() : (path_ / child).string();
  }

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
  int exit_code = -1;  // the process's exit status; -1 when it ended by a signal
  int signal = 0;      // the signal that ended it, if any
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Permission checks apply to root too while this lives: the calling thread (and threads it starts)
// loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so chmod 000 files can be tested when run as root.
class WithoutPermissionOverride {
 public:
  WithoutPermissionOverride() {
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    if (::syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct lowered[2] = {saved_[0], saved_[1]};
    lowered[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    active_ = ::syscall(SYS_capset, &header_, lowered) == 0;
  }
  ~WithoutPermissionOverride() {
    if (active_) ::syscall(SYS_capset, &header_, saved_);
  }
  WithoutPermissionOverride(const WithoutPermissionOverride&) = delete;
  WithoutPermissionOverride& operator=(const WithoutPermissionOverride&) = delete;

 private:
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
  bool active_ = false;
};

// The same for a tl-train process: a prefix for its command line when running as root.
inline std::string without_permission_override_prefix() {
  return ::geteuid() == 0 ? "setpriv --bounding-set=-dac_override,-dac_read_search " : "";
}

// Runs a shell command, capturing stdout and stderr separately.
inline RunResult run_shell(const std::string& command) {
  static int counter = 0;
  std::string base =
      (fs::temp_directory_path() / ("tl_run_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  int status =
      std::system(("{ " + command + "\n} >" + base + ".out 2>" + base + ".err").c_str());  // all of a compound command
  RunResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  // system() runs /bin/sh; a child killed by a signal shows as 128+N from the shell.
  if (WIFSIGNALED(status))
    r.signal = WTERMSIG(status);
  else if (r.exit_code > 128 && r.exit_code < 160)
    r.signal = r.exit_code - 128;
  r.out = read_text(base + ".out");
  r.err = read_text(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return r;
}

// Runs the tl-train binary built with these tests.
inline RunResult run_tl(const std::vector<std::string>& args, const std::string& prefix = "") {
  std::string command = prefix + shell_quote(TL_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  return run_shell(command);
}

// The Python that has Debian's torch (the PATH's python3 may be another one); "" when none has.
inline std::string python_with_torch() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    if (run_shell(std::string(candidate) + " -c 'import torch, torchvision'").exit_code == 0) return candidate;
  }
  return "";
}

}  // namespace tl::test
