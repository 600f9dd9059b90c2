// ra: build, query and benchmark out-of-distribution MIPS indexes and retrieval attention.
#include <cstdio>
#include <limits>
#include <map>

#include "index/atomic_file.h"
#include "index/config.h"
#include "tools/eval/decode_eval.h"
#include "tools/ra/commands.h"
#if RA_WITH_CUDA
#include "gpu/cuda_dense_backend.h"
#include "gpu/device_info.h"
#include "gpu/knn.h"
#endif

namespace ra::cli {

int fail(std::string_view command, const Status& status) {
  std::fprintf(stderr, "ra %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               status.to_string().c_str());
  return 1;
}

void add_estimate_options(CLI::App* cmd, attention::RetrievalConfig& cfg) {
  cmd->add_flag("--estimate", cfg.estimate_rest,
                "Add an estimate of the keys neither retrieved nor static (per index where it helps)");
  cmd->add_option("--estimate-cluster", cfg.estimate_cluster, "Keys per cluster of the estimate")
      ->capture_default_str();
  cmd->add_option("--estimate-exact", cfg.estimate_exact, "Clusters of highest estimated mass attended exactly")
      ->capture_default_str();
}

void add_beam_options(CLI::App* cmd, attention::RetrievalConfig& cfg) {
  cmd->add_option("--beam", cfg.beam, "Search beam")->capture_default_str();
  cmd->add_flag("--attend-scored", cfg.attend_scored,
                "Attend every key the search scored (its visited set), not only the top-k");
  cmd->add_option("--beam-recall", cfg.beam_recall,
                  "Measure each index's beam, from --beam up, to reach this recall@top-k on held-out "
                  "prefill queries (0: the fixed beam)")->capture_default_str();
}

void add_dense_option(CLI::App* cmd, std::string& dense) {
  cmd->add_option("--dense", dense, "Where the static set (sinks + window) is attended: cpu, or gpu (the CUDA "
                                    "backend: its device window filled from the cache while the CPU retrieves)")
      ->check(CLI::IsMember({"cpu", "gpu"}))
      ->capture_default_str();
}

Status use_dense_backend(const std::string& dense, tools::DecodeEvalConfig* cfg) {
  if (dense != "gpu") return Status::OK();
#if RA_WITH_CUDA
  const attention::SinkWindow st = cfg->retrieval.static_set;
  cfg->dense = [st](const attention::KvView& kv,
                    std::uint32_t q_heads) -> Result<std::unique_ptr<attention::DenseAttentionBackend>> {
    RA_ASSIGN_OR_RETURN(auto b, gpu::CudaDenseBackend::create(
                                    q_heads, {kv.k.num_heads, kv.k.head_dim, kv.k.dtype, st.num_sink, st.window}));
    return std::unique_ptr<attention::DenseAttentionBackend>(std::move(b));
  };
  return Status::OK();
#else
  static_cast<void>(cfg);
  return Status::Unsupported("--dense gpu: this build has no CUDA (configure with -DRA_CUDA=ON)");
#endif
}

bool use_gpu_knn(BuildConfig* cfg) {
#if RA_WITH_CUDA
  if (!gpu::cuda_available()) return false;
  cfg->exact_knn = gpu::exact_knn;
  cfg->exact_knn_device = "gpu";
  cfg->auto_exact_pairs = std::numeric_limits<double>::infinity();  // exact costs little there
  return true;
#else
  static_cast<void>(cfg);
  return false;
#endif
}

Status check_outputs(std::initializer_list<std::string> paths) {
  for (const std::string& p : paths) {
    if (!p.empty()) RA_RETURN_IF_ERROR(check_writable(p));
  }
  return Status::OK();
}

namespace {

// Counts and sizes are unsigned options; CLI11 would wrap "-5" to 2^64 - 5, so every unsigned
// option of every subcommand refuses negative numbers, with CLI11's message naming the option.
void refuse_negative_counts(CLI::App* app) {
  for (CLI::Option* opt : app->get_options()) {
    if (opt->get_type_name() == "UINT") opt->check(CLI::NonNegativeNumber);
  }
  for (CLI::App* sub : app->get_subcommands({})) refuse_negative_counts(sub);
}

}  // namespace
}  // namespace ra::cli

int main(int argc, char** argv) {
  CLI::App app{"ra: retrieval attention and out-of-distribution MIPS"};
  app.set_version_flag("--version", std::string("ra ") + RA_VERSION);
  app.require_subcommand(1);
  std::map<std::string, ra::cli::Runner> runners;
  runners["info"] = ra::cli::add_info(app);
  runners["gen"] = ra::cli::add_gen(app);
  runners["gt"] = ra::cli::add_gt(app);
  runners["build"] = ra::cli::add_build(app);
  runners["query"] = ra::cli::add_query(app);
  runners["diag"] = ra::cli::add_diag(app);
  runners["decode"] = ra::cli::add_decode(app);
  runners["generate"] = ra::cli::add_generate(app);
  runners["bench"] = ra::cli::add_bench(app);
  runners["demo"] = ra::cli::add_demo(app);
  ra::cli::refuse_negative_counts(&app);
  CLI11_PARSE(app, argc, argv);
  for (CLI::App* sub : app.get_subcommands()) return runners.at(sub->get_name())();
  return 0;
}
