#pragma once
#include <string>
namespace weights_tools {
// Lower-case hex SHA-256 of a file's bytes (OpenSSL's libcrypto).
std::string sha256_file(const std::string& path);
}  // namespace weights_tools
