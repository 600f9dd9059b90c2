// ra gt: exact inner-product ground truth.
#include <chrono>
#include <cstdio>
#include <memory>

#include "index/flat_index.h"
#include "index/vector_io.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_gt(CLI::App& app) {
  struct Options {
    std::string keys, queries, out;
    std::uint32_t k = 100, threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("gt", "Exact top-k by inner product (ground truth)");
  cmd->add_option("--keys", o->keys, "Keys: .fbin or .npy, selector allowed (keys.npy[1,3])")->required();
  cmd->add_option("--queries", o->queries, "Queries: .fbin or .npy, selector allowed")->required();
  cmd->add_option("--k", o->k, "Neighbours per query")->capture_default_str();
  cmd->add_option("--out", o->out, "Output .ibin (n x k, i32)")->required();
  cmd->add_option("--threads", o->threads, "Threads (0: all)")->capture_default_str();
  return [o] {
    if (Status s = check_outputs({o->out}); !s.ok()) return fail("gt", s);
    auto keys = read_matrix(o->keys);
    if (!keys.ok()) return fail("gt", keys.status());
    auto queries = read_matrix(o->queries);
    if (!queries.ok()) return fail("gt", queries.status());
    auto index = FlatIndex::over(keys->view());
    if (!index.ok()) return fail("gt", index.status());
    SearchResults res;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = index->search(queries->view(), {o->k, 0, o->threads}, &res);
    if (!s.ok()) return fail("gt", s);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s = write_ibin(o->out, res.ids.data(), res.num_queries, res.k);
    if (!s.ok()) return fail("gt", s);
    std::fprintf(stderr, "ra gt: %zu queries x %zu keys (dim %zu), top-%u in %.2f s -> %s\n",
                 queries->rows(), keys->rows(), keys->dim(), o->k, secs, o->out.c_str());
    return 0;
  };
}

}  // namespace ra::cli
