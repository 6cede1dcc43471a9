#pragma once
// Where the model runs and how many threads it uses.
#include <string>

#include <torch/torch.h>

namespace tl {

// "auto" (CUDA if this LibTorch has it and a GPU is present, else CPU), "cpu", "cuda", "cuda:N".
// Throws ConfigError when CUDA is asked for and not there.
torch::Device resolve_device(const std::string& spec);

// Sets LibTorch's intra-op thread count (0 = all cores) and returns the count in force. Debian's
// LibTorch starts with 1 thread on a 2-core machine (measured with Debian's libtorch 1.13).
int configure_threads(int threads);

// The BLAS library this process uses for matrix multiplies, e.g. "openblas" or "reference".
std::string blas_in_use();

// Logs a warning when the reference BLAS is in use (every Linear layer ~60x slower).
void warn_if_slow_blas();

}  // namespace tl
