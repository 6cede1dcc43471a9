#pragma once
// Ctrl-C and SIGTERM: the first asks training to stop cleanly after the current step (the trainer
// is handed stop_signal() as its stop check); a second one ends the process at once (every file on
// disk is still whole: all writes are atomic).
namespace tl {

void install_interrupt_handlers();
int stop_signal();  // SIGINT or SIGTERM once one arrived, else 0

}  // namespace tl
