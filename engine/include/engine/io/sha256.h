// SHA-256 (OpenSSL's libcrypto), as lower-case hex.
#pragma once

#include <cstddef>
#include <string>

namespace engine {

std::string sha256_file(const std::string& path);
std::string sha256_bytes(const void* data, size_t size);

}  // namespace engine
