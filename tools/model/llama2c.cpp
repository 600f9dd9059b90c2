#include "tools/model/llama2c.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "attention/dense_attention.h"
#include "index/checked_size.h"
#include "simd/inner_product.h"

namespace ra::model {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

Result<std::vector<char>> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::IoError(path + ": no such file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::IoError(path + ": cannot open for reading");
  std::vector<char> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) return Status::IoError(path + ": read failed");
  return bytes;
}

// out (d) = W (d x n, row-major) x (n): one row kernel call.
void matmul(float* out, const float* x, const float* w, int n, int d) {
  simd::dot_rows(x, w, DType::kF32, static_cast<std::size_t>(n), static_cast<std::size_t>(d),
                 static_cast<std::size_t>(n), out);
}

void rmsnorm(float* out, const float* x, const float* weight, int n) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + 1e-5f);
  for (int i = 0; i < n; ++i) out[i] = weight[i] * (scale * x[i]);
}

// RoPE on adjacent pairs of each head, as llama2.c's run.c: frequency 10000^(-i/head_size).
void rope(float* v, int size, int head_size, int pos) {
  for (int i = 0; i < size; i += 2) {
    const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(i % head_size) / static_cast<float>(head_size));
    const float angle = static_cast<float>(pos) * freq, c = std::cos(angle), s = std::sin(angle);
    const float a = v[i], b = v[i + 1];
    v[i] = a * c - b * s;
    v[i + 1] = a * s + b * c;
  }
}

}  // namespace

Result<Tokenizer> Tokenizer::load(const std::string& path, std::int32_t vocab_size) {
  RA_ASSIGN_OR_RETURN(const std::vector<char> bytes, read_file(path));
  Tokenizer t;
  std::size_t pos = 4;  // max_token_length, not needed
  if (bytes.size() < 4) return Status::Corruption(path + ": too short for a tokenizer");
  for (std::int32_t i = 0; i < vocab_size; ++i) {
    float score;
    std::int32_t len;
    if (pos + 8 > bytes.size()) return Status::Corruption(path + ": truncated at token " + std::to_string(i));
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    pos += 8;
    if (len < 0 || static_cast<std::size_t>(len) > bytes.size() - pos) {
      return Status::Corruption(path + ": token " + std::to_string(i) + " has an impossible length");
    }
    t.vocab_.emplace_back(bytes.data() + pos, static_cast<std::size_t>(len));
    t.scores_.push_back(score);
    pos += static_cast<std::size_t>(len);
  }
  return t;
}

std::vector<std::int32_t> Tokenizer::encode(const std::string& text) const {
  auto lookup = [&](const std::string& s) -> std::int32_t {
    const auto it = std::find(vocab_.begin(), vocab_.end(), s);
    return it == vocab_.end() ? -1 : static_cast<std::int32_t>(it - vocab_.begin());
  };
  std::vector<std::int32_t> tokens{kBos};
  if (text.empty()) return tokens;
  if (const std::int32_t space = lookup(" "); space >= 0) tokens.push_back(space);
  for (std::size_t i = 0; i < text.size();) {  // one UTF-8 code point at a time
    std::size_t len = 1;
    while (i + len < text.size() && (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80 && len < 4) ++len;
    const std::int32_t id = lookup(text.substr(i, len));
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (std::size_t b = 0; b < len; ++b) tokens.push_back(static_cast<unsigned char>(text[i + b]) + 3);
    }
    i += len;
  }
  while (true) {  // merge the best-scoring adjacent pair until none is in the vocabulary
    float best = -std::numeric_limits<float>::infinity();
    std::int32_t best_id = -1;
    std::size_t at = 0;
    for (std::size_t i = 1; i + 1 < tokens.size(); ++i) {
      const std::int32_t id = lookup(vocab_[static_cast<std::size_t>(tokens[i])] + vocab_[static_cast<std::size_t>(tokens[i + 1])]);
      if (id >= 0 && scores_[static_cast<std::size_t>(id)] > best) {
        best = scores_[static_cast<std::size_t>(id)];
        best_id = id;
        at = i;
      }
    }
    if (best_id < 0) break;
    tokens[at] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  return tokens;
}

std::string Tokenizer::decode(std::int32_t prev, std::int32_t token) const {
  if (token < 0 || static_cast<std::size_t>(token) >= vocab_.size()) return "";
  std::string piece = vocab_[static_cast<std::size_t>(token)];
  if (prev == kBos && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  unsigned byte = 0;
  if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &byte) == 1) return std::string(1, static_cast<char>(byte));
  return piece;
}

Result<std::unique_ptr<Transformer>> Transformer::load(const std::string& path) {
  RA_ASSIGN_OR_RETURN(const std::vector<char> bytes, read_file(path));
  if (bytes.size() < 28) return Status::Corruption(path + ": too short for a llama2.c header");
  std::unique_ptr<Transformer> t(new Transformer());
  ModelConfig& c = t->cfg_;
  std::int32_t header[7];
  std::memcpy(header, bytes.data(), sizeof(header));
  c.dim = header[0];
  c.hidden_dim = header[1];
  c.n_layers = header[2];
  c.n_heads = header[3];
  c.n_kv_heads = header[4];
  c.vocab_size = header[5];
  c.seq_len = header[6];
  c.shared_classifier = c.vocab_size > 0;
  c.vocab_size = std::abs(c.vocab_size);
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.vocab_size <= 0 ||
      c.seq_len <= 0 || c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_size() % 2 != 0 ||
      c.dim > 65536 || c.hidden_dim > 1 << 20 || c.n_layers > 1024 || c.vocab_size > 1 << 22 || c.seq_len > 1 << 24) {
    return Status::Corruption(path + ": header values out of range");
  }
  const std::uint64_t L = c.n_layers, dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim(), V = c.vocab_size;
  const std::uint64_t hs = c.head_size(), S = c.seq_len;
  const std::uint64_t floats = V * dim + L * dim + L * dim * dim + 2 * L * dim * kv + L * dim * dim + L * dim +
                               3 * L * dim * hid + dim + S * hs + (c.shared_classifier ? 0 : V * dim);
  if (bytes.size() != 28 + floats * 4) {
    return Status::Corruption(path + ": " + std::to_string(bytes.size()) + " bytes, the header implies " +
                              std::to_string(28 + floats * 4));
  }
  t->weights_.resize(floats);
  std::memcpy(t->weights_.data(), bytes.data() + 28, floats * 4);
  for (float w : t->weights_) {
    if (!std::isfinite(w)) return Status::Corruption(path + ": a weight is not finite");
  }
  const float* p = t->weights_.data();
  auto take = [&](std::uint64_t n) {
    const float* at = p;
    p += n;
    return at;
  };
  t->embedding_ = take(V * dim);
  t->rms_att_ = take(L * dim);
  t->wq_ = take(L * dim * dim);
  t->wk_ = take(L * dim * kv);
  t->wv_ = take(L * dim * kv);
  t->wo_ = take(L * dim * dim);
  t->rms_ffn_ = take(L * dim);
  t->w1_ = take(L * dim * hid);
  t->w2_ = take(L * hid * dim);
  t->w3_ = take(L * dim * hid);
  t->rms_final_ = take(dim);
  take(S * hs);  // the precomputed RoPE tables (real and imaginary halves): recomputed instead
  t->classifier_ = c.shared_classifier ? t->embedding_ : take(V * dim);
  return t;
}

Status Transformer::reset(AttentionMode mode, const attention::RetrievalConfig& retrieval,
                          std::int32_t capacity) {
  const ModelConfig& c = cfg_;
  if (capacity < 0 || capacity > (1 << 24)) return Status::InvalidArgument("capacity out of range");
  capacity_ = std::max(capacity, c.seq_len);
  mode_ = mode;
  retrieval_ = retrieval;
  RA_RETURN_IF_ERROR(retrieval.validate());
  decoders_.clear();
  decoders_.resize(static_cast<std::size_t>(c.n_layers));
  x_.assign(c.dim, 0);
  xb_.assign(c.dim, 0);
  xb2_.assign(c.dim, 0);
  hb_.assign(c.hidden_dim, 0);
  hb2_.assign(c.hidden_dim, 0);
  q_.assign(c.dim, 0);
  k_.assign(c.kv_dim(), 0);
  v_.assign(c.kv_dim(), 0);
  logits_.assign(c.vocab_size, 0);
  const std::size_t cache = static_cast<std::size_t>(c.n_layers) * c.kv_dim() * capacity_;
  key_cache_.assign(cache, 0);
  value_cache_.assign(cache, 0);
  pos_ = 0;
  return Status::OK();
}

Status Transformer::attend_layer(int l, StepTimes* times) {
  const ModelConfig& c = cfg_;
  const std::uint32_t hs = c.head_size(), T = static_cast<std::uint32_t>(pos_) + 1;
  const std::size_t layer_off = static_cast<std::size_t>(l) * c.kv_dim() * capacity_;
  attention::HeadsView keys = attention::HeadsView::hnd(key_cache_.data() + layer_off, DType::kF32,
                                                        static_cast<std::uint32_t>(c.n_kv_heads),
                                                        static_cast<std::uint32_t>(capacity_), hs);
  attention::HeadsView values = keys;
  values.data = value_cache_.data() + layer_off;
  keys.num_tokens = values.num_tokens = T;
  const attention::KvView kv{keys, values};
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  if (mode_ == AttentionMode::kFull) {
    const auto t = Clock::now();
    attention::AttendScratch scratch;
    const attention::TokenRange all{0, T};
    float lse;
    const int group = c.n_heads / c.n_kv_heads;
    for (int h = 0; h < c.n_heads; ++h) {
      attention::attend_ranges(q_.data() + h * hs, kv.k.head(static_cast<std::uint32_t>(h / group)),
                               kv.v.head(static_cast<std::uint32_t>(h / group)), {&all, 1}, scale, scratch,
                               xb_.data() + h * hs, &lse);
    }
    if (times != nullptr) times->dense_ms += ms_since(t);
    return Status::OK();
  }
  auto& decoder = decoders_[static_cast<std::size_t>(l)];
  if (!decoder) {  // the first token: no prefill to index yet
    const attention::HeadsView q = attention::HeadsView::hnd(q_.data(), DType::kF32,
                                                             static_cast<std::uint32_t>(c.n_heads), 1, hs);
    RA_ASSIGN_OR_RETURN(decoder, attention::RetrievalDecoder::build(kv, q, retrieval_));
  }
  attention::DecodeStats st;
  RA_RETURN_IF_ERROR(decoder->decode_step(kv, q_.data(), scale, xb_.data(), &st));
  if (times != nullptr) {
    times->dense_ms += st.dense_ms;
    times->retrieval_ms += st.retrieval_ms;
  }
  if (decoder->pending(T) >= retrieval_.merge_batch) {
    const auto t = Clock::now();
    RA_RETURN_IF_ERROR(decoder->absorb(kv));
    if (times != nullptr) times->absorb_ms += ms_since(t);
  }
  return Status::OK();
}

Result<const std::vector<float>*> Transformer::forward(std::int32_t token, StepTimes* times) {
  const ModelConfig& c = cfg_;
  if (x_.empty()) return Status::InvalidArgument("call reset() before forward()");
  if (token < 0 || token >= c.vocab_size) return Status::InvalidArgument("token " + std::to_string(token) + " out of range");
  if (pos_ >= capacity_) {
    return Status::InvalidArgument("the sequence is full (" + std::to_string(capacity_) + " positions)");
  }
  const auto t_start = Clock::now();
  StepTimes local;
  const int dim = c.dim, kv_dim = c.kv_dim(), hid = c.hidden_dim, hs = c.head_size();
  std::copy_n(embedding_ + static_cast<std::size_t>(token) * dim, dim, x_.data());
  for (int l = 0; l < c.n_layers; ++l) {
    const std::size_t L = static_cast<std::size_t>(l);
    rmsnorm(xb_.data(), x_.data(), rms_att_ + L * dim, dim);
    matmul(q_.data(), xb_.data(), wq_ + L * dim * dim, dim, dim);
    matmul(k_.data(), xb_.data(), wk_ + L * dim * kv_dim, dim, kv_dim);
    matmul(v_.data(), xb_.data(), wv_ + L * dim * kv_dim, dim, kv_dim);
    rope(q_.data(), dim, hs, pos_);
    rope(k_.data(), kv_dim, hs, pos_);
    for (int h = 0; h < c.n_kv_heads; ++h) {  // into the (kv_head, position) cache
      const std::size_t at = ((L * c.n_kv_heads + h) * capacity_ + pos_) * hs;
      std::copy_n(k_.data() + h * hs, hs, key_cache_.data() + at);
      std::copy_n(v_.data() + h * hs, hs, value_cache_.data() + at);
    }
    RA_RETURN_IF_ERROR(attend_layer(l, &local));
    matmul(xb2_.data(), xb_.data(), wo_ + L * dim * dim, dim, dim);
    for (int i = 0; i < dim; ++i) x_[i] += xb2_[i];
    rmsnorm(xb_.data(), x_.data(), rms_ffn_ + L * dim, dim);
    matmul(hb_.data(), xb_.data(), w1_ + L * dim * hid, dim, hid);
    matmul(hb2_.data(), xb_.data(), w3_ + L * dim * hid, dim, hid);
    for (int i = 0; i < hid; ++i) hb_[i] = hb_[i] / (1.0f + std::exp(-hb_[i])) * hb2_[i];  // SwiGLU
    matmul(xb_.data(), hb_.data(), w2_ + L * hid * dim, hid, dim);
    for (int i = 0; i < dim; ++i) x_[i] += xb_[i];
  }
  rmsnorm(x_.data(), x_.data(), rms_final_, dim);
  matmul(logits_.data(), x_.data(), classifier_, dim, c.vocab_size);
  ++pos_;
  local.rest_ms = ms_since(t_start) - local.dense_ms - local.retrieval_ms - local.absorb_ms;
  if (times != nullptr) {
    times->dense_ms += local.dense_ms;
    times->retrieval_ms += local.retrieval_ms;
    times->absorb_ms += local.absorb_ms;
    times->rest_ms += local.rest_ms;
  }
  return &logits_;
}

}  // namespace ra::model
