// NumPy .npy files (format versions 1.0, 2.0 and 3.0), used for traces, test
// data and embeddings. Little-endian C-order arrays of float32 ('<f4'),
// float16 ('<f2'), int32 ('<i4'), uint8 ('|u1') and bool ('|b1', read as u8)
// become engine tensors; read_npy_raw() accepts any fixed-size dtype and
// returns the bytes (used e.g. for uint16 bit patterns in tests).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace engine {

struct NpyArray {
  std::string descr;  // e.g. "<f4", "<u2"
  Shape shape;
  size_t item_size = 0;
  std::vector<std::byte> data;  // numel x item_size bytes, C order
  // Text of a Python comment after the header dict ("# ..."), without the '#';
  // NumPy ignores it. sam-engine uses it to tag cached embeddings.
  std::string comment;
};

// Headers above this size are refused (NumPy writes a few hundred bytes).
constexpr size_t kMaxNpyHeader = 1u << 20;

NpyArray read_npy_raw(const std::string& path);
Tensor read_npy(const std::string& path);
// read_npy plus the header comment.
Tensor read_npy(const std::string& path, std::string* comment);

// Writes a tensor (any strides; bf16 is refused since NumPy has no such type).
// The file appears only when complete.
void write_npy(const std::string& path, const Tensor& tensor, const std::string& comment = "");
// Writes raw bytes with the given descr (e.g. "<u2") and shape.
void write_npy_raw(const std::string& path, const std::string& descr, const Shape& shape, const void* data,
                   size_t bytes, const std::string& comment = "");

}  // namespace engine
