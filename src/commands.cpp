#include "tl/commands.h"

#include <iostream>

#include "tl/errors.h"

namespace tl {

int run_train(const CliOptions&) { throw Error("train: not built yet", kExitFailure); }
int run_evaluate(const CliOptions&) { throw Error("evaluate: not built yet", kExitFailure); }
int run_predict(const CliOptions&) { throw Error("predict: not built yet", kExitFailure); }
int run_summary(const CliOptions&) { throw Error("summary: not built yet", kExitFailure); }

int run_command(const CliOptions& options) {
  try {
    switch (options.command) {
      case Command::Train: return run_train(options);
      case Command::Evaluate: return run_evaluate(options);
      case Command::Predict: return run_predict(options);
      case Command::Summary: return run_summary(options);
      case Command::None: break;
    }
    return kExitUsage;
  } catch (const Error& e) {
    std::cerr << "tl-train: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::cerr << "tl-train: error: " << what.substr(0, what.find('\n')) << "\n";
    return kExitFailure;
  }
}

}  // namespace tl
