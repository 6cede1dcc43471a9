#pragma once
// The subcommands, each a plain function from parsed options to an exit code. Library errors
// propagate as tl::Error; run_command() turns them (and anything else) into one line on stderr.
#include "tl/cli.h"

namespace tl {

int run_train(const CliOptions& options);
int run_evaluate(const CliOptions& options);
int run_predict(const CliOptions& options);
int run_summary(const CliOptions& options);
int run_check_data(const CliOptions& options);
int run_lr_find(const CliOptions& options);
int run_report(const CliOptions& options);

// Dispatches to the command's function, catching every error: one line on stderr, a distinct
// exit code (see errors.h), never an abort trace.
int run_command(const CliOptions& options);

}  // namespace tl
