#pragma once
// Which kind of index a file holds, for tools that open either (ra query).
#include <string>

#include "result.h"

namespace ra {

enum class IndexKind { kGraph, kPartition };

/// The kind of index in a file written by GraphIndex::save or PartitionIndex::save (read
/// from its magic; the file is checked fully only by that index's load()). IoError when it
/// cannot be read, Corruption when it is neither.
Result<IndexKind> index_file_kind(const std::string& path);

}  // namespace ra
