#pragma once
// Command-line parsing into one plain struct. Tests feed argv vectors and check the fields.
#include <ostream>
#include <string>
#include <vector>

namespace tl {

enum class Command { None, Train, Evaluate, Predict, Summary, CheckData, LrFind, Report };

struct CliOptions {
  Command command = Command::None;
  // train / summary / check-data
  std::string config_path;             // --config
  std::vector<std::string> overrides;  // --set key=value, in order (a later one wins)
  bool resume = false;                 // --resume: continue from RUN/last.resume.pt
  bool overwrite = false;              // --overwrite: reuse a non-empty run directory
  // train: data parallel (torchrun's names; the environment's RANK, WORLD_SIZE, ... win)
  int nproc = 0;                        // --nproc: worker processes on this host (0: one process, no group)
  int nnodes = 1;                       // --nnodes: hosts
  int node_rank = 0;                    // --node-rank: this host's index
  std::string master_addr = "127.0.0.1";  // --master-addr: where rank 0 listens
  int master_port = 29500;              // --master-port
  std::string local_addr;               // --local-addr: this host's address for Gloo (default: see docs)
  // evaluate / predict
  std::string checkpoint;           // --checkpoint
  std::string data_root;            // --data: dataset root (default: the one recorded in the checkpoint)
  std::string split = "test";       // --split test|val|train
  std::string out_dir;              // --out (evaluate: output folder; summary: where config.json goes)
  std::vector<std::string> inputs;  // predict: images or directories
  int top_k = 5;                    // --top-k
  int batch = 0;                    // --batch (0 = the training batch size)
  std::string tta = "none";         // --tta none|flip
  std::string device;               // --device (overrides the config/checkpoint)
  bool json = false;                // --json: machine-readable stdout
  bool quiet = false;               // --quiet: warnings and errors only
  // predict: Grad-CAM
  std::string explain_dir;    // --explain: write overlays here
  std::string explain_layer;  // --explain-layer (default: the backbone's last convolutional stage)
  // lr-find
  double lr_start = 1e-7, lr_end = 10;  // --start-lr, --end-lr
  int lr_steps = 100;                   // --steps
  // report
  std::string run_dir;  // the run directory
};

struct CliParse {
  bool run = false;   // false: nothing to run (help/version printed, or an error)
  int exit_code = 0;  // meaningful when run is false
  CliOptions options;
};

// Parses arguments (argv[0] excluded). Help and --version go to `out`, errors (one line) to `err`.
// `tl-train --config X` is shorthand for `tl-train train --config X`.
CliParse parse_command_line(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tl
