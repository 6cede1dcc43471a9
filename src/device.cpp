#include "tl/device.h"

#include <fstream>
#include <thread>

#include "tl/errors.h"
#include "tl/logging.h"

namespace tl {

torch::Device resolve_device(const std::string& spec) {
  const bool cuda_ok = torch::cuda::is_available();
  if (spec == "auto") return cuda_ok ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    if (!cuda_ok)
      throw ConfigError("device '" + spec + "': CUDA is not available (this LibTorch has no CUDA or no GPU is visible); use device \"cpu\" or \"auto\"");
    int index = 0;
    if (spec.size() > 5) {
      try {
        index = std::stoi(spec.substr(5));
      } catch (const std::exception&) {
        throw ConfigError("device '" + spec + "': expected cuda:N with a GPU number N");
      }
    }
    if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
      throw ConfigError("device '" + spec + "': there are " + std::to_string(torch::cuda::device_count()) + " GPUs");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError("device '" + spec + "': use auto, cpu, cuda or cuda:N");
}

int configure_threads(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

std::string blas_in_use() {
  // The libblas.so.3 mapped into this process tells which alternative Debian selected.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::string found = "unknown";
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) return "openblas";
    if (line.find("libmkl") != std::string::npos) return "mkl";
    if (line.find("blis") != std::string::npos) return "blis";
    if (line.find("/blas/libblas.so") != std::string::npos) found = "reference";
  }
  return found;
}

void warn_if_slow_blas() {
  if (blas_in_use() == "reference")
    spdlog::warn("the reference BLAS is in use: dense layers run ~60x slower; install libopenblas0-openmp (scripts/install_deps.sh does)");
}

}  // namespace tl
