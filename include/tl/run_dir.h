#pragma once
// A run directory (train.out): the one list of the files a run writes there, preparing it
// (refusing a non-empty one unless resuming or overwriting), locking it against a second
// tl-train process, and removing an earlier run's outputs on --overwrite.
#include <string>
#include <vector>

namespace tl {

enum class RunStart { Fresh, Resume, Overwrite };

class RunDirectory {
 public:
  explicit RunDirectory(std::string dir);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const;  // <dir>/<name>
  std::string best() const { return file("best.pt"); }
  std::string last() const { return file("last.pt"); }
  std::string resume_state() const { return file("last.resume.pt"); }
  std::string history_csv() const { return file("history.csv"); }
  std::string history_json() const { return file("history.json"); }
  std::string curves() const { return file("curves.png"); }
  std::string config() const { return file("config.json"); }
  std::string split() const { return file("split.json"); }
  std::string log() const { return file("train.log"); }
  std::string report() const { return file("report.html"); }
  std::string eval_dir(const std::string& split) const { return file("eval_" + split); }
  // The early-stopping monitor's best epoch when it differs from train.monitor (see trainer.h).
  std::string best_for(const std::string& metric) const { return file("best_" + metric + ".pt"); }
  bool has(const std::string& path) const;

  // True for the names of files and folders tl-train writes into a run directory (best.pt,
  // history.csv, eval_test/, train.rank1.log, ...): what --overwrite removes, and nothing else.
  static bool is_output(const std::string& name);

  // Throws UsageError when `start` is Fresh and the directory holds anything but tl-train's own
  // lock file. Reads only: call it before any work.
  void check_startable(RunStart start) const;

  // Creates the directory, checks it is writable, takes its lock (UsageError naming the other
  // process's PID when one holds it; held until this object goes), removes temporary files left
  // by a killed run and, for Overwrite, every output of the earlier run.
  void prepare(RunStart start);

  // The outputs present, in the order a user reads them (for the "Done" line).
  std::vector<std::string> present_outputs() const;

 private:
  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace tl
