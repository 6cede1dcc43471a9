// tl-train report RUN: (re)writes RUN/report.html from what the run directory holds.
#include <iostream>

#include "command_helpers.h"
#include "tl/commands.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/html_report.h"
#include "tl/logging.h"

namespace tl {

int run_report(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet);
  use_plain_jit_executor();
  const torch::Device device = resolve_device(o.device.empty() ? "auto" : o.device);
  const std::string page = write_run_report(o.run_dir, device);
  if (!o.quiet) std::cout << "Wrote " << page << "\n";
  return kExitOk;
}

}  // namespace tl
