// engine::printable: every byte that could act on a terminal becomes a \xNN escape;
// valid UTF-8 stays; the result is one line without NUL, and printable is idempotent.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "engine/error.h"
#include "engine/text.h"

using engine::printable;
using namespace std::string_literals;

TEST_CASE("printable escapes control bytes and keeps printable ASCII", "[text]") {
  CHECK(printable("plain ascii ~!@#$%^&*()") == "plain ascii ~!@#$%^&*()");
  CHECK(printable("a\x1b]0;pwned\x07z") == "a\\x1b]0;pwned\\x07z");  // retitles an xterm
  CHECK(printable("a\nb\rc\td") == "a\\x0ab\\x0dc\\x09d");
  CHECK(printable("cut\0here"s) == "cut\\x00here");
  CHECK(printable("del\x7f") == "del\\x7f");
  CHECK(printable("") == "");
  CHECK(printable("back\\slash") == "back\\slash");
}

TEST_CASE("printable keeps valid UTF-8 and escapes the rest", "[text]") {
  const std::string utf8 = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";  // café 日本 😀
  CHECK(printable(utf8) == utf8);
  CHECK(printable("\xff") == "\\xff");
  CHECK(printable("\x80") == "\\x80");                          // lone continuation byte
  CHECK(printable("\xc3") == "\\xc3");                          // sequence cut at the end
  CHECK(printable("\xc3(") == "\\xc3(");                        // bad continuation
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");                 // overlong '/'
  CHECK(printable("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");         // overlong, 3 bytes
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");         // surrogate U+D800
  CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(printable("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");   // U+10FFFF itself
}

TEST_CASE("printable escapes C1 controls, line separators and bidi overrides", "[text]") {
  CHECK(printable("\xc2\x9b" "2J") == "\\xc2\\x9b2J");        // U+009B, CSI on some terminals
  CHECK(printable("\xc2\xa0") == "\xc2\xa0");                  // U+00A0 (no-break space) stays
  CHECK(printable("\xe2\x80\xa8") == "\\xe2\\x80\\xa8");       // U+2028
  CHECK(printable("x\xe2\x80\xaey") == "x\\xe2\\x80\\xaey");    // U+202E right-to-left override
  CHECK(printable("\xe2\x81\xa6") == "\\xe2\\x81\\xa6");       // U+2066
}

TEST_CASE("printable output is one line, no NUL, and printable again is the same", "[text]") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  all += "\xe2\x80\xae\xc2\x85\xf0\x9f\x98";
  const std::string p = printable(all);
  CHECK(p.find('\n') == std::string::npos);
  CHECK(p.find('\0') == std::string::npos);
  CHECK(p.find('\x1b') == std::string::npos);
  CHECK(printable(p) == p);
  for (unsigned char c : p) CHECK((c >= 0x20 && c != 0x7f));
}

TEST_CASE("engine::Error messages are stored printable, NUL and all", "[text]") {
  const engine::Error e("tensor 'a\x1b[2J\nb\0c'"s);
  CHECK(std::string(e.what()) == "tensor 'a\\x1b[2J\\x0ab\\x00c'");
  CHECK(std::string(e.with_context("file\x07").what()) == "file\\x07: tensor 'a\\x1b[2J\\x0ab\\x00c'");
  try {
    engine::fail("entry '{}'", "x\ny"s);
  } catch (const engine::Error& f) {
    CHECK(std::string(f.what()) == "entry 'x\\x0ay'");
  }
}

TEST_CASE("print_line writes the whole escaped line", "[text]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  engine::print_line(f, "sam: error: a\0b\x1b"s);
  std::rewind(f);
  char buf[64] = {};
  const size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  CHECK(std::string(buf, n) == "sam: error: a\\x00b\\x1b\n");
}
