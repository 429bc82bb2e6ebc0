// Text from files and arguments, made safe to print on a terminal.
//
// A tensor name, a pickle global, a zip entry or a path can hold any byte:
// ESC sequences that retitle or clear the terminal, BEL, a newline that splits
// a one-line error in two, a NUL that cuts a C string. Every message that may
// carry such text passes through printable() before it is printed (engine::Error
// applies it to its message; the CLIs apply it again to whatever they print).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace engine {

// `text` with every byte that could act on a terminal written as a \xNN escape
// (lower-case hex): the C0 controls (< 0x20, NUL and newline included), DEL
// (0x7f), every byte of invalid UTF-8 (stray continuation bytes, overlong forms,
// surrogates, code points above U+10FFFF, truncated sequences), and the valid
// UTF-8 of the C1 controls (U+0080..U+009F), the line and paragraph separators
// (U+2028, U+2029) and the bidirectional overrides and isolates
// (U+202A..U+202E, U+2066..U+2069), each of their bytes escaped. Valid UTF-8
// otherwise stays as it is, so non-ASCII file names read normally. The result
// is printable ASCII or valid UTF-8, one line, no NUL; printable(printable(s))
// == printable(s).
std::string printable(std::string_view text);

// Writes printable(text) and a newline to `out` with fwrite (so nothing is cut
// at a NUL), e.g. print_line(stderr, "sam: error: " + message).
void print_line(std::FILE* out, std::string_view text);

}  // namespace engine
