#include "tl/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "tl/errors.h"
#include "tl/files.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

constexpr const char* kLockName = ".lock";

// The files a run writes, in the order the "Done" line lists them.
const std::vector<std::string>& fixed_outputs() {
  static const std::vector<std::string> names{"best.pt",     "last.pt",      "last.resume.pt",
                                              "history.csv", "history.json", "curves.png",
                                              "config.json", "split.json",   "train.log",
                                              "report.html"};
  return names;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The PID written in the lock file by the process that holds it ("" when unreadable).
std::string lock_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid(buf, n > 0 ? size_t(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

RunDirectory::RunDirectory(std::string dir) : dir_(std::move(dir)) {}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string RunDirectory::file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

bool RunDirectory::has(const std::string& path) const {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool RunDirectory::is_output(const std::string& name) {
  const auto& fixed = fixed_outputs();
  if (std::find(fixed.begin(), fixed.end(), name) != fixed.end()) return true;
  return starts_with(name, "eval_") || (starts_with(name, "best_") && ends_with(name, ".pt")) ||
         (starts_with(name, "train.rank") && ends_with(name, ".log"));
}

void RunDirectory::check_startable(RunStart start) const {
  if (start != RunStart::Fresh) return;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().filename() != kLockName)
      throw UsageError("run directory " + dir_ +
                       " is not empty; pass --resume to continue it, --overwrite to start afresh, or set train.out");
}

void RunDirectory::prepare(RunStart start) {
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
    throw IoError(dir_ + ": exists and is not a directory; set train.out");
  fs::create_directories(dir_, ec);
  if (ec)
    throw IoError(dir_ + ": cannot create the run directory (" + ec.message() + "); set train.out to a writable place");
  try {
    write_file_atomic(file(".write-test"), "ok");
    fs::remove(file(".write-test"), ec);
  } catch (const IoError& e) {
    throw IoError(dir_ + ": the run directory is not writable (" + e.what() + "); set train.out to a writable place");
  }
  lock_fd_ = ::open(file(kLockName).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw IoError(file(kLockName) + ": cannot create the lock file: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = lock_holder(lock_fd_);
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw UsageError("run directory " + dir_ + " is in use by another tl-train process" +
                     (holder.empty() ? "" : " (PID " + holder + ")") + "; wait for it to finish or set train.out");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0)
    spdlog::warn("{}: cannot record this process's PID in the lock file", file(kLockName));
  const int stale = remove_stale_temp_files(dir_);
  if (stale) spdlog::info("Removed {} temporary file(s) left by an interrupted run in {}", stale, dir_);
  if (start != RunStart::Overwrite) return;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (is_output(entry.path().filename().string())) fs::remove_all(entry.path(), ec);
}

std::vector<std::string> RunDirectory::present_outputs() const {
  std::vector<std::string> present;
  for (const auto& name : fixed_outputs())
    if (has(file(name))) present.push_back(name);
  std::error_code ec;
  std::vector<std::string> others;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (is_output(name) && std::find(present.begin(), present.end(), name) == present.end())
      others.push_back(name + (entry.is_directory(ec) ? "/" : ""));
  }
  std::sort(others.begin(), others.end());
  present.insert(present.end(), others.begin(), others.end());
  return present;
}

}  // namespace tl
