#include "bench/mips/mips_comparison.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/eval/measure.h"
#include "tools/synthetic/synthetic.h"

namespace ra::tools {
namespace {

TEST(MipsBench, EveryMethodReportsASweepAgainstTheSameTruth) {
  SyntheticSpec spec;
  spec.n = 3000;
  spec.dim = 16;
  spec.num_queries = 100;
  spec.num_train = 1500;
  const SyntheticData d = generate(spec).value();
  const IdMatrix truth = exact_truth(d.keys.view(), d.queries.view(), 10).value();
  MipsBenchOptions opt;
  opt.k = 10;
  opt.degree = 16;
  const MipsBenchReport r = run_mips_bench(d.keys, d.train_queries, d.queries, truth, opt).value();
  ASSERT_GE(r.methods.size(), 2u);
  EXPECT_EQ(r.methods.size() + r.skipped.size(), 6u);  // flat, graph, partitions, hnswlib, faiss HNSW, faiss IVF
  EXPECT_EQ(r.methods[0].rows.size(), 1u);
  EXPECT_DOUBLE_EQ(r.methods[0].rows[0].recall, 1.0);  // the exact scan
  EXPECT_DOUBLE_EQ(r.methods[0].rows[0].scored_fraction, 1.0);
  for (const MipsMethod& m : r.methods) {
    ASSERT_FALSE(m.rows.empty()) << m.name;
    EXPECT_GT(m.memory_bytes, 0u) << m.name;
    // A wider search never finds fewer true neighbours by much, and the widest finds most.
    EXPECT_GE(m.rows.back().recall, 0.85) << m.name;
    EXPECT_GE(m.rows.back().scored_fraction, m.rows.front().scored_fraction) << m.name;
    for (const MipsRow& row : m.rows) {
      EXPECT_GT(row.qps, 0) << m.name;
      EXPECT_GT(row.scored_mean, 0) << m.name;
    }
  }
  const auto j = nlohmann::json::parse(mips_json(r));
  EXPECT_EQ(j["k"], 10);
  EXPECT_EQ(j["methods"].size(), r.methods.size());
  EXPECT_TRUE(j["methods"][1]["rows"][0].contains("scored_fraction"));
  EXPECT_NE(mips_svg(r, "t").find("<svg"), std::string::npos);
  EXPECT_NE(mips_table(r).find("query-guided graph"), std::string::npos);
  EXPECT_NE(mips_table(r).find("partitions + 4-bit codes"), std::string::npos);
}

TEST(MipsBench, MismatchedInputsAreErrors) {
  const Matrix keys = Matrix::zeros(100, 8).value(), queries = Matrix::zeros(5, 9).value();
  const IdMatrix truth{5, 10, std::vector<Label>(50, 0)};
  EXPECT_EQ(run_mips_bench(keys, keys, queries, truth, {}).status().code(), StatusCode::kInvalidArgument);
  const Matrix q8 = Matrix::zeros(5, 8).value();
  MipsBenchOptions opt;
  opt.k = 100;  // the truth holds 10
  EXPECT_EQ(run_mips_bench(keys, keys, q8, truth, opt).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::tools
