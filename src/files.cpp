#include "tl/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tl/errors.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

void fsync_or_throw(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw IoError(path + ": cannot open for fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories; the rename is still atomic there.
  if (rc != 0 && !(directory && (saved == EINVAL || saved == EBADF)))
    throw IoError(path + ": fsync failed: " + std::strerror(saved));
}

std::string parent_dir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

void write_bytes(const std::string& path, const char* data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create: " + std::strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      throw IoError(path + ": write failed: " + std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw IoError(path + ": close failed: " + std::strerror(errno));
}

}  // namespace

std::string temp_path_for(const std::string& path) {
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
}

void write_atomic_with(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = temp_path_for(path);
  try {
    write(tmp);
    fsync_or_throw(tmp, false);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError(path + ": cannot replace: " + std::strerror(errno));
  } catch (const IoError&) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    // LibTorch's writers report ENOSPC and friends as c10::Error with a long trace: keep one line.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw IoError(path + ": cannot write: " + what + " (disk full or not writable?)");
  }
  fsync_or_throw(parent_dir(path), true);
}

void write_file_atomic(const std::string& path, const std::string& data) {
  write_atomic_with(path, [&](const std::string& tmp) { write_bytes(tmp, data.data(), data.size()); });
}

void write_file_atomic(const std::string& path, const std::vector<unsigned char>& data) {
  write_atomic_with(path, [&](const std::string& tmp) {
    write_bytes(tmp, reinterpret_cast<const char*>(data.data()), data.size());
  });
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos) {
      if (fs::remove(entry.path(), ec)) ++removed;
    }
  }
  return removed;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tl
