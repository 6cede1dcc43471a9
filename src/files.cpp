#include "tl/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <streambuf>
#include <vector>

#include "tl/errors.h"
#include "tl/fault_injection.h"

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

// A failed write leaves the previous file as it was; say so, and what to do.
IoError write_failure(const std::string& path, int error) {
  const char* fix = error == EFBIG ? "raise the file-size limit (ulimit -f)" : "free some space";
  return IoError(path + ": write failed: " + std::strerror(error) + " (any previous version is kept); " + fix +
                 " and run again (train: with --resume)");
}

// An output buffer over a file descriptor that never reports a failure to the stream's user: the
// first write error is remembered (error()) and later data is dropped.
class QuietFileBuf : public std::streambuf {
 public:
  explicit QuietFileBuf(int fd) : fd_(fd), buffer_(1 << 20) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    flush_buffer();
    if (!traits_type::eq_int_type(c, traits_type::eof())) sputc(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    if (epptr() - pptr() >= n) {
      traits_type::copy(pptr(), data, static_cast<size_t>(n));
      pbump(static_cast<int>(n));
      return n;
    }
    flush_buffer();
    write_all(data, static_cast<size_t>(n));
    return n;
  }
  int sync() override {
    flush_buffer();
    return 0;
  }

 private:
  void flush_buffer() {
    write_all(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  void write_all(const char* data, size_t size) {
    for (size_t done = 0; done < size && !error_;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        error_ = errno;
      else
        done += static_cast<size_t>(n);
    }
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

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
    fault_before_rename();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw IoError(path + ": cannot replace: " + std::strerror(errno));
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

void copy_file_atomic(const std::string& from, const std::string& to) {
  write_atomic_with(to, [&](const std::string& tmp) {
    std::error_code error;
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, error);
    if (error) throw IoError(to + ": cannot copy " + from + " there: " + error.message());
  });
}

void write_file_atomic(const std::string& path, const std::string& data) {
  write_stream_atomic(path,
                      [&](std::ostream& out) { out.write(data.data(), static_cast<std::streamsize>(data.size())); });
}

void write_file_atomic(const std::string& path, const std::vector<unsigned char>& data) {
  write_stream_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  });
}

void write_stream_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  write_atomic_with(path, [&](const std::string& tmp) {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw IoError(path + ": cannot create a file beside it: " + std::strerror(errno));
    QuietFileBuf buffer(fd);
    std::ostream out(&buffer);
    try {
      write(out);
      out.flush();
    } catch (...) {
      ::close(fd);
      throw;
    }
    const int error = buffer.error();
    if (::close(fd) != 0 && !error) throw IoError(path + ": close failed: " + std::strerror(errno));
    if (error) throw write_failure(path, error);
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

void create_output_folder(const std::string& dir, const std::string& flag) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    throw IoError(dir + ": cannot create the output folder (" + (ec ? ec.message() : "not a directory") +
                  "); pass a writable place with " + flag);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tl
