// What a file looks like from its first bytes, for messages that say what a
// wrong file is ("is a PNG image, not a model file") instead of what a parser
// choked on in it (a safetensors header length of 9 quintillion bytes).
#pragma once

#include <cstddef>
#include <string>

namespace engine {

// "a PNG image", "a JPEG image", "a zip archive", "a Python pickle", ... for
// the common formats recognised by their magic bytes; "" when none matches
// (safetensors files included: they have no magic). `head` is the file's start,
// `size` its length (any; short files match nothing).
std::string file_kind(const std::byte* head, size_t size);

// The first bytes in hex for a message, e.g. "1e 74 6b 79 c8 42 95 eb".
std::string hex_head(const std::byte* head, size_t size, size_t count = 8);

}  // namespace engine
