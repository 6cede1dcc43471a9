#include "tl/c10d_parallel.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "tl/errors.h"
#include "tl/gradient_reducer.h"

namespace tl {
namespace {

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < lo || value > hi)
    throw UsageError(std::string("environment variable ") + name + "='" + text + "' must be an integer from " +
                     std::to_string(lo) + " to " + std::to_string(hi));
  return int(value);
}

bool is_loopback(const std::string& address) { return address.rfind("127.", 0) == 0 || address == "localhost"; }

// Where this process's Gloo pairs listen: the interfaces in GLOO_SOCKET_IFNAME (as PyTorch reads
// it), else the loopback address when the master is on loopback (a one-host run never leaves it),
// else the address the host name resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const DistLaunch& launch) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names && *names) {
    std::stringstream list(names);
    for (std::string name; std::getline(list, name, ',');)
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (!launch.local_addr.empty()) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(launch.local_addr));
  } else if (is_loopback(launch.master_addr)) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(launch.master_addr));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}

class ProcessGroupParallel : public Parallel {
 public:
  ProcessGroupParallel(c10::intrusive_ptr<c10d::ProcessGroup> group, int rank, int world, double bucket_mb,
                       double timeout_s)
      : group_(std::move(group)),
        rank_(rank),
        world_(world),
        bucket_bytes_(int64_t(bucket_mb * 1024 * 1024)),
        timeout_s_(timeout_s),
        reducer_(group_, bucket_bytes_, [this](const auto& work, const std::string& what) { wait(work, what); }) {}

  ~ProcessGroupParallel() override {
    if (steps_ == 0) return;
    spdlog::info("Data parallel: {} steps, {} gradient buckets each, {} bucket all-reduces started during backward; "
                 "all-reduce: {:.2f} s waiting over {:.2f} s of training",
                 steps_, reducer_.buckets(), reducer_.launched_during_backward(), reducing_s_,
                 seconds(first_reduce_, last_reduce_));
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  void before_backward(const std::vector<torch::Tensor>& params, bool last_of_step) override {
    if (last_of_step) reducer_.arm(params);
  }

  double reduce_gradients(const std::vector<torch::Tensor>& params, double denominator) override {
    const auto started = std::chrono::steady_clock::now();
    if (steps_++ == 0) first_reduce_ = started;
    const double total = reducer_.finish(params, denominator);
    last_reduce_ = std::chrono::steady_clock::now();
    reducing_s_ += seconds(started, last_reduce_);
    return total;
  }

  void sum(std::vector<double>& values) override {
    if (values.empty()) return;
    std::vector<torch::Tensor> t{torch::tensor(values, torch::kFloat64)};
    wait(group_->allreduce(t), "summing the metrics");
    for (size_t i = 0; i < values.size(); ++i) values[i] = t[0][int64_t(i)].item<double>();
  }

  int agree_stop(int signal) override {
    std::vector<torch::Tensor> t{torch::full({1}, int64_t(signal), torch::kInt64)};
    c10d::AllreduceOptions max;
    max.reduceOp = c10d::ReduceOp::MAX;
    wait(group_->allreduce(t, max), "agreeing on a stop");
    return int(t[0].item<int64_t>());
  }

  void broadcast(std::string& bytes) override {
    std::vector<torch::Tensor> size{torch::full({1}, int64_t(bytes.size()), torch::kInt64)};
    wait(group_->broadcast(size), "broadcasting rank 0's state");
    const int64_t n = size[0].item<int64_t>();
    std::vector<torch::Tensor> data{torch::empty({std::max<int64_t>(n, 1)}, torch::kUInt8)};
    if (rank_ == 0 && n > 0) std::memcpy(data[0].data_ptr(), bytes.data(), size_t(n));
    wait(group_->broadcast(data), "broadcasting rank 0's state");
    if (rank_ != 0) bytes.assign(static_cast<const char*>(data[0].data_ptr()), size_t(n));
  }

  void broadcast_tensors(const std::vector<torch::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    std::vector<Bucket> buckets = make_buckets(tensors);
    for (auto& b : buckets) b.work = group_->broadcast(b.flat_list);
    for (auto& b : buckets) {
      wait(b.work, "broadcasting rank 0's weights");
      b.scatter();
    }
  }

  void barrier() override { wait(group_->barrier(), "waiting for the other ranks"); }

 private:
  // Tensors of one dtype and device flattened into one, sent in one call.
  struct Bucket {
    std::vector<torch::Tensor> members;
    std::vector<torch::Tensor> flat_list;  // the one flat tensor, as c10d takes it
    c10::intrusive_ptr<c10d::Work> work;
    void scatter() {
      torch::NoGradGuard no_grad;
      int64_t at = 0;
      for (auto& m : members) {
        m.copy_(flat_list[0].narrow(0, at, m.numel()).view_as(m));
        at += m.numel();
      }
    }
  };

  std::vector<Bucket> make_buckets(const std::vector<torch::Tensor>& tensors) const {
    torch::NoGradGuard no_grad;
    std::vector<Bucket> buckets;
    std::vector<torch::Tensor> pending;
    int64_t bytes = 0;
    const auto flush = [&] {
      if (pending.empty()) return;
      std::vector<torch::Tensor> flat;
      for (const auto& t : pending) flat.push_back(t.reshape({-1}));
      buckets.push_back({pending, {torch::cat(flat)}, {}});
      pending.clear(), bytes = 0;
    };
    for (auto it = tensors.rbegin(); it != tensors.rend(); ++it) {
      if (!pending.empty() && (pending.back().scalar_type() != it->scalar_type() ||
                               pending.back().device() != it->device() || bytes >= bucket_bytes_))
        flush();
      pending.push_back(*it);
      bytes += it->numel() * int64_t(it->element_size());
    }
    flush();
    return buckets;
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw DistError("rank " + std::to_string(rank_) + ": " + what + " failed: " + first_line(e.what()) +
                      " (another rank died or did not answer within dist.timeout_s = " +
                      std::to_string(int(timeout_s_)) + " s); the last checkpoint is intact: continue with --resume");
    }
  }

  static double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  int64_t steps_ = 0;
  double reducing_s_ = 0;
  std::chrono::steady_clock::time_point first_reduce_, last_reduce_;
  int rank_, world_;
  int64_t bucket_bytes_;
  double timeout_s_;
  GradientReducer reducer_;  // last: it waits through wait(), which needs the members above
};

}  // namespace

std::optional<DistLaunch> launch_from_environment() {
  if (!std::getenv("WORLD_SIZE")) return std::nullopt;
  DistLaunch l;
  l.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  l.rank = env_int("RANK", 0, 0, l.world_size - 1);
  l.local_world_size = env_int("LOCAL_WORLD_SIZE", 1, 1, l.world_size);
  l.local_rank = env_int("LOCAL_RANK", 0, 0, l.local_world_size - 1);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) l.master_addr = addr;
  l.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE"))
    l.agent_store = std::string(agent) == "True" || std::string(agent) == "1" || std::string(agent) == "true";
  if (const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT"); restart && *restart) l.restart_count = restart;
  if (const char* local = std::getenv("TL_LOCAL_ADDR"); local && *local) l.local_addr = local;
  return l;
}

std::unique_ptr<Parallel> join_process_group(const DistLaunch& launch, const DistConfig& dist,
                                             const torch::Device& device) {
  if (dist.backend == DistBackend::Nccl)
    throw ConfigError("dist.backend is \"nccl\" but tl-train has no NCCL process group built in (Debian's LibTorch "
                      "has none); use \"gloo\" or \"auto\"");
  (void)device;  // CUDA tensors go through Gloo too (staged on the host) in this build
  const auto timeout = std::chrono::milliseconds(int64_t(dist.timeout_s * 1000));
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = uint16_t(launch.master_port);
    options.isServer = launch.rank == 0 && !launch.agent_store;
    if (!launch.agent_store) options.numWorkers = size_t(launch.world_size);
    options.waitWorkers = false;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& e) {
    const std::string why = first_line(e.what());
    if (launch.rank == 0 && !launch.agent_store && why.find("in use") != std::string::npos)
      throw DistError("rank 0 cannot listen on " + where + ": the port is in use; choose another with --master-port");
    throw DistError("rank " + std::to_string(launch.rank) + " cannot reach the master at " + where + " within " +
                    std::to_string(int(dist.timeout_s)) + " s (" + why + "); check --master-addr and --master-port");
  }
  if (launch.agent_store)
    store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + launch.restart_count, store);
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices = gloo_devices(launch);
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, launch.rank, launch.world_size, options);
    return std::make_unique<ProcessGroupParallel>(group, launch.rank, launch.world_size, dist.bucket_mb,
                                                  dist.timeout_s);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(launch.rank) + " could not form the group of " +
                    std::to_string(launch.world_size) + " processes at " + where + " within " +
                    std::to_string(int(dist.timeout_s)) + " s (" + first_line(e.what()) +
                    "): a rank did not start, or the ranks disagree on WORLD_SIZE");
  }
}

}  // namespace tl
