#pragma once
// The subcommands of `ra`. Each add_* registers its options on `app` and returns the function
// that runs it after parsing (exit code 0 on success).
#include <CLI/CLI.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "attention/retrieval_config.h"
#include "index/build_config.h"
#include "index/status.h"

namespace ra::tools {
struct DecodeEvalConfig;
}

namespace ra::cli {

using Runner = std::function<int()>;

Runner add_info(CLI::App& app);
Runner add_gen(CLI::App& app);
Runner add_gt(CLI::App& app);
Runner add_demo(CLI::App& app);
Runner add_build(CLI::App& app);
Runner add_query(CLI::App& app);
Runner add_diag(CLI::App& app);
Runner add_decode(CLI::App& app);
Runner add_generate(CLI::App& app);
/// `ra bench mips`: registers under the name "bench".
Runner add_bench(CLI::App& app);

/// Prints "ra <command>: <status>" on stderr and returns exit code 1.
int fail(std::string_view command, const Status& status);

/// --estimate, --estimate-cluster, --estimate-exact: the estimate of the keys retrieval leaves out.
void add_estimate_options(CLI::App* cmd, attention::RetrievalConfig& cfg);

/// --beam, --beam-recall and --attend-scored: the retrieval search's beam, fixed or measured per
/// index, and whether every key it scores is attended.
void add_beam_options(CLI::App* cmd, attention::RetrievalConfig& cfg);

/// --dense cpu|gpu: where the replayed decoder attends the static set.
void add_dense_option(CLI::App* cmd, std::string& dense);
/// For "gpu", gives cfg the CUDA backend (its sinks and window from cfg's static set); an error
/// in a build without CUDA.
Status use_dense_backend(const std::string& dense, tools::DecodeEvalConfig* cfg);

/// When a CUDA device is present, the build's exact kNN runs on it (gpu::exact_knn; `auto`
/// then always takes the exact kNN) and the report says so; false, and cfg unchanged, otherwise.
bool use_gpu_knn(BuildConfig* cfg);

/// check_writable for every non-empty output path, before the command's work starts.
Status check_outputs(std::initializer_list<std::string> paths);

}  // namespace ra::cli
