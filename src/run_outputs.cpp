#include "tl/run_outputs.h"

#include "tl/checkpoint.h"
#include "tl/files.h"
#include "tl/report.h"

namespace tl {

void RunOutputs::save_checkpoint(const std::string& path, TransferModel& model, const Json& meta) const {
  if (writer_) model.save(path, meta);
}

void RunOutputs::copy_checkpoint(const std::string& from, const std::string& to) const {
  if (writer_) copy_file_atomic(from, to);
}

void RunOutputs::save_resume_state(TransferModel& model, torch::optim::Optimizer& optimizer, const Json& state) const {
  if (writer_) tl::save_resume_state(dir_.resume_state(), model, optimizer, state);
}

void RunOutputs::save_history(const std::vector<EpochRecord>& history) const {
  if (!writer_) return;
  write_file_atomic(dir_.history_json(), history_to_json(history).dump(2));
  write_file_atomic(dir_.history_csv(), history_to_csv(history));
  write_file_atomic(dir_.curves(), render_curves_png(history));
}

}  // namespace tl
