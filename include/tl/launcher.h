#pragma once
// `tl-train train --nproc N`: this host's share of a data-parallel run, started by tl-train itself
// (like `torchrun --standalone`, or torchrun's static rendezvous with --nnodes): N copies of the
// same command, each with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT). The launcher waits for them; when one fails it stops the others and
// says which; Ctrl-C (SIGINT) or SIGTERM on the launcher is passed on once to every worker, which
// then stop cleanly at the same step.
#include "tl/cli.h"

namespace tl {

// Runs the workers; returns the exit code of the run (the first failing worker's).
int run_local_workers(const CliOptions& options);

}  // namespace tl
