#include "tl/commands.h"

#include <iostream>

#include <c10/util/Exception.h>

#include "tl/errors.h"
#include "tl/logging.h"

namespace tl {
namespace {

// The error line(s) on stderr, each marked; the run's log file gets them too.
int report(const std::string& message, int exit_code) {
  std::string what = message;
  for (size_t at = what.find('\n'); at != std::string::npos; at = what.find('\n', at + 1))
    what.insert(at + 1, "tl-train: error: ");
  std::cerr << "tl-train: error: " << what << "\n";
  log_final_error(message);
  return exit_code;
}

}  // namespace

int run_command(const CliOptions& options) {
  try {
    switch (options.command) {
      case Command::Train:
        return run_train(options);
      case Command::Evaluate:
        return run_evaluate(options);
      case Command::Predict:
        return run_predict(options);
      case Command::Summary:
        return run_summary(options);
      case Command::CheckData:
        return run_check_data(options);
      case Command::LrFind:
        return run_lr_find(options);
      case Command::Report:
        return run_report(options);
      case Command::None:
        break;
    }
    return kExitUsage;
  } catch (const Error& e) {
    // Several problems (a config with more than one mistake) come as several lines, each marked.
    return report(e.what(), e.exit_code());
  } catch (const c10::Error& e) {
    return report(first_line(e.msg()), kExitFailure);
  } catch (const std::exception& e) {
    return report(first_line(e.what()), kExitFailure);
  }
}

}  // namespace tl
