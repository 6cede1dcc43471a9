#pragma once
// Deterministic faults for the kill and signal tests, chosen by the environment variable
// TL_TEST_FAULT (never set in normal use; then nothing here does anything):
//   "INT@E:B", "TERM@E:B", "KILL@E:B"  raise that signal right after training batch B of epoch E
//   "PARENT_INT@E:B"                   send SIGINT to the parent (the --nproc launcher) instead, and
//                                      wait until the launcher has passed it back
//   "KILL@write:N"                     SIGKILL during the N-th atomic file write of the process,
//                                      after its temporary file is written, before the rename
// With TL_TEST_FAULT_RANK=R as well, only the data-parallel worker whose RANK is R has the fault.
#include <cstdint>

namespace tl {

void fault_after_batch(int epoch, int64_t batch);
void fault_before_rename();

}  // namespace tl
