// tl-train evaluate: scores a checkpoint on a split of the data it was trained on. The split is the
// run's own (split.json beside the checkpoint), so the numbers cannot drift from training.
#include <filesystem>
#include <iostream>
#include <optional>

#include "command_helpers.h"
#include "tl/checkpoint.h"
#include "tl/commands.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/evaluation_files.h"
#include "tl/logging.h"
#include "tl/split_record.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& c : v) s += (s.empty() ? "" : ", ") + printable(c);
  return s;
}

// Evaluating a checkpoint needs the classes it was trained on.
void check_same_classes(const DatasetIndex& data, const std::vector<std::string>& trained) {
  if (data.classes == trained) return;
  throw DataError("the dataset at " + printable(data.root) + " has classes [" + joined(data.classes) +
                  "] but the checkpoint was trained on [" + joined(trained) +
                  "]; pass the matching dataset with --data");
}

// The run's recorded split when split.json is beside the checkpoint (under --data when given);
// else the folder, split again by the recorded settings.
DatasetIndex evaluation_data(const CheckpointInfo& info, const CliOptions& o) {
  DataConfig data = info.config.data;
  std::optional<DatasetIndex> moved;  // --data: the folder must still be a dataset of the same classes
  if (!o.data_root.empty()) {
    data.root = o.data_root;
    moved = scan_dataset(data);
    check_same_classes(*moved, info.classes);
  }
  const std::string record_path = (fs::path(o.checkpoint).parent_path() / "split.json").string();
  if (!fs::exists(record_path)) {
    spdlog::warn(
        "no split.json beside {}: the splits are made again from {} (they match training only if the folder "
        "has not changed)",
        o.checkpoint, printable(data.root));
    return scan_dataset(data);
  }
  const Json record = read_split_record(record_path);
  if (!info.split_digest.empty() && split_digest(record) != info.split_digest)
    throw DataError(record_path + " is not the split " + o.checkpoint +
                    " was trained on (another run wrote it); evaluate "
                    "the checkpoint from its own run directory, or move split.json away to split the folder again");
  std::vector<std::string> current;
  try {
    current = list_dataset_files(data);
  } catch (const DataError&) {  // the folder moved or changed shape: only the recorded files count
  }
  RecordedSplit split = split_from_record(record, data.root, current);
  const size_t found = split.index.train.size() + split.index.val.size() + split.index.test.size();
  if (found == 0 && !o.data_root.empty()) {
    spdlog::info("none of the run's files are under {}: it is split as a dataset of its own", printable(data.root));
    return std::move(*moved);
  }
  if (found == 0)
    throw DataError("none of the files of the split in " + record_path + " exist under " + printable(data.root) +
                    "; pass the dataset's current location with --data");
  report_recorded_split(split, record_path);
  return std::move(split.index);
}

}  // namespace

int run_evaluate(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet || o.json);
  use_plain_jit_executor();
  LoadedCheckpoint ckpt = load_checkpoint(o.checkpoint, torch::kCPU);
  const torch::Device device = resolve_device(o.device.empty() ? ckpt.info.config.device : o.device);
  configure_threads(ckpt.info.config.threads);
  ckpt.model.to(device);
  const DatasetIndex data = evaluation_data(ckpt.info, o);
  check_same_classes(data, ckpt.info.classes);
  const std::vector<Sample>& samples = data.split(o.split);
  if (samples.empty())
    throw DataError("the " + o.split + " split of " + printable(data.root) + " is empty; choose another with --split");
  const std::string out_dir =
      o.out_dir.empty() ? (fs::path(o.checkpoint).parent_path() / ("eval_" + o.split)).string() : o.out_dir;
  const EvalResult result = score_checkpoint(ckpt, samples, o.batch, device);
  const Json about{{"checkpoint", o.checkpoint}, {"epoch", ckpt.info.epoch}, {"split", o.split}};
  write_evaluation_files(out_dir, result, samples, about);
  if (o.json) {
    Json metrics = eval_to_json(result);
    for (const auto& item : about.items()) metrics[item.key()] = item.value();
    std::cout << dump_json(metrics) << std::endl;
  } else {
    std::cout << "Checkpoint " << o.checkpoint << " (epoch " << ckpt.info.epoch << ") on the " << o.split
              << " split of " << printable(data.root) << "\n\n"
              << evaluation_text(result)
              << "\nWrote confusion_matrix.csv, confusion_matrix.png, metrics.json, misclassified.csv to " << out_dir
              << "\n";
  }
  return kExitOk;
}

}  // namespace tl
