#include "attention/kv_view.h"

#include <string>

namespace ra::attention {

Status validate_heads(const HeadsView& v, const char* what) {
  const std::string name(what);
  if (v.data == nullptr) return Status::InvalidArgument(name + ": no data");
  if (v.num_tokens == 0 || v.num_heads == 0 || v.head_dim == 0) {
    return Status::InvalidArgument(name + ": tokens, heads and head_dim must be positive");
  }
  if (v.num_tokens > 1 && v.token_stride < static_cast<std::int64_t>(v.head_dim)) {
    return Status::InvalidArgument(name + ": token_stride is smaller than head_dim");
  }
  if (v.num_heads > 1 && v.head_stride == 0) {
    return Status::InvalidArgument(name + ": several heads need a non-zero head_stride");
  }
  if (v.token_stride < 0 || v.head_stride < 0) return Status::InvalidArgument(name + ": negative stride");
  return Status::OK();
}

Status validate_kv(const KvView& kv) {
  RA_RETURN_IF_ERROR(validate_heads(kv.k, "keys"));
  RA_RETURN_IF_ERROR(validate_heads(kv.v, "values"));
  if (kv.k.num_tokens != kv.v.num_tokens || kv.k.num_heads != kv.v.num_heads ||
      kv.k.head_dim != kv.v.head_dim) {
    return Status::InvalidArgument("keys and values must have the same tokens, heads and head_dim");
  }
  return Status::OK();
}

}  // namespace ra::attention
