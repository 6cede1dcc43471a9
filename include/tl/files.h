#pragma once
// Every file tl-train writes goes through here: written to a temporary file in the same
// directory, flushed and fsync'ed, renamed over the target, and the directory fsync'ed, so a
// crash, a kill or a full disk at any instant leaves either the old file or the new one.
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace tl {

// Writes `data` to `path` atomically. Throws IoError naming the path and the reason (e.g. "No
// space left on device"); the previous file is untouched and no temporary file remains.
void write_file_atomic(const std::string& path, const std::string& data);
void write_file_atomic(const std::string& path, const std::vector<unsigned char>& data);

// For writers that need a file name (torch::save, Module::save): `write(tmp_path)` writes the
// temporary file, then it is fsync'ed and renamed over `path`. Same guarantees as above.
void write_atomic_with(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// For writers that produce a stream (Module::save, OutputArchive::save_to): `write(out)` streams
// into the temporary file. A failed write (disk full, file-size limit) does not fail the stream,
// because LibTorch's zip writer then throws again from its destructor and terminates the process;
// the first error is kept and thrown as IoError once `write` returns. Same guarantees as above.
void write_stream_atomic(const std::string& path, const std::function<void(std::ostream& out)>& write);

// Puts a copy of the file `from` at `to`, with the same guarantees as above: bytes copied by the
// kernel, much cheaper than serialising a model a second time (not a hard link, so that a later
// in-place edit of one file cannot change the other).
void copy_file_atomic(const std::string& from, const std::string& to);

// The temporary name used for `path` (same directory, recognisable so a later start can remove
// leftovers): "<dir>/.<name>.tmp-<pid>".
std::string temp_path_for(const std::string& path);

// Removes temporary files left in `dir` by an earlier, killed process. Returns how many.
int remove_stale_temp_files(const std::string& dir);

std::string read_file(const std::string& path);  // throws IoError

// Creates `dir` (and its parents) for a command's --out; IoError naming it when that fails.
void create_output_folder(const std::string& dir, const std::string& flag = "--out");

}  // namespace tl
