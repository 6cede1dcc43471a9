// tl-train summary: the model a config builds, layer by layer, without training anything.
#include <iostream>

#include "tl/commands.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/json.h"
#include "tl/logging.h"
#include "tl/model.h"

namespace tl {

int run_summary(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet || o.json);
  const Config config = load_config(o.config_path, o.overrides);
  int64_t num_classes = config.model.num_classes;
  if (num_classes <= 0) {
    if (config.data.root.empty())
      throw ConfigError(o.config_path +
                        ": 'model.num_classes' is not set and there is no data.root to count classes; set one of them");
    num_classes = static_cast<int64_t>(scan_dataset(config.data).classes.size());
  }
  configure_threads(config.threads);
  TransferModel model = TransferModel::create(config.model, num_classes, config.train.seed);
  const ModelSummary summary = model.summary(config.model.input_size);
  if (!o.out_dir.empty()) {
    Json resolved = config.resolved;
    resolved["model"]["num_classes"] = num_classes;
    create_output_folder(o.out_dir);
    write_file_atomic(o.out_dir + "/config.json", dump_json(resolved, 2));
  }
  if (o.json) {
    std::cout << dump_json(summary.to_json()) << std::endl;
  } else {
    std::cout << "Model: " << config.model.backbone << ", input " << config.model.input_size << "x"
              << config.model.input_size << ", " << num_classes << " classes, freeze \"" << config.model.freeze
              << "\"\n"
              << summary.to_text();
  }
  return kExitOk;
}

}  // namespace tl
