#pragma once
// Data parallel training on PyTorch's own engine, c10d: a Gloo process group (CPU, and CUDA
// tensors through Gloo; no NCCL path yet) behind the trainer's Parallel interface. Gradients are
// all-reduced in flattened buckets, as DDP does; LibTorch has no C++ DDP module and its Reducer
// cannot be built from Debian's headers, so the averaging is ours.
#include <memory>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/parallel.h"

namespace tl {

// A process's place in the group, as torchrun describes it.
struct DistLaunch {
  int rank = 0, world_size = 1;              // RANK, WORLD_SIZE
  int local_rank = 0, local_world_size = 1;  // LOCAL_RANK, LOCAL_WORLD_SIZE
  std::string master_addr = "127.0.0.1";     // MASTER_ADDR
  int master_port = 29500;                   // MASTER_PORT
  std::string local_addr;                    // --local-addr / TL_LOCAL_ADDR: this host's address for Gloo
  // TORCHELASTIC_USE_AGENT_STORE: torchrun's agent already hosts the store; every rank is a client
  // under the prefix "/worker/attempt_<TORCHELASTIC_RESTART_COUNT>".
  bool agent_store = false;
  std::string restart_count = "0";
};

// The launch described by the environment (RANK, WORLD_SIZE, ...); none when WORLD_SIZE is unset.
// A malformed variable is a UsageError naming it.
std::optional<DistLaunch> launch_from_environment();

// Joins the group (rank 0 hosts the store unless torchrun's agent does); every wait is bounded
// by dist.timeout_s. Errors (a port in use, an unreachable master, a rank that never joins) are
// one-line DistErrors.
std::unique_ptr<Parallel> join_process_group(const DistLaunch& launch, const DistConfig& dist,
                                             const torch::Device& device);

}  // namespace tl
