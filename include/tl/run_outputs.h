#pragma once
// What training writes into its run directory, and who writes it: only the writer (rank 0 of a
// data-parallel run, or the one process); every other process writes nothing.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/history.h"
#include "tl/model.h"
#include "tl/run_dir.h"

namespace tl {

class RunOutputs {
 public:
  RunOutputs(const RunDirectory& dir, bool writer) : dir_(dir), writer_(writer) {}
  const RunDirectory& dir() const { return dir_; }
  bool writer() const { return writer_; }

  void save_checkpoint(const std::string& path, TransferModel& model, const Json& meta) const;
  void copy_checkpoint(const std::string& from, const std::string& to) const;  // the same epoch's file again
  void save_resume_state(TransferModel& model, torch::optim::Optimizer& optimizer, const Json& state) const;
  // history.json, history.csv and curves.png.
  void save_history(const std::vector<EpochRecord>& history) const;

 private:
  const RunDirectory& dir_;
  bool writer_;
};

}  // namespace tl
