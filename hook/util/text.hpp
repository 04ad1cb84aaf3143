// Text: UTF-8 decoding that never fails, and the one escaping every byte from outside (a server's
// header, a body, a command's output, a path) goes through before it reaches a terminal, the
// journal or a report.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace util {

// --- Interface ---

struct CodePoint
{
  char32_t value;     // U+FFFD when the bytes were not valid UTF-8
  std::size_t length; // bytes consumed, at least 1
  bool valid;         // false when the bytes were not valid UTF-8
};

// Decode the code point at the start of non-empty `text`. An ill-formed sequence yields U+FFFD
// and consumes its maximal subpart (Unicode's recommended practice), so that one bad byte never
// swallows the valid text after it. Overlong forms and surrogates are ill-formed.
CodePoint decode_utf8(std::string_view text);

// Append the UTF-8 encoding of `code_point` to `out`.
void append_utf8(std::string& out, char32_t code_point);

// Return `text` with each ill-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// Return true for a code point a terminal or a log viewer acts on or does not show: C0 and C1
// controls, DEL, bidirectional formatting (U+061C, U+200E/F, U+202A-E, U+2066-9), zero-width
// characters, line and paragraph separators (U+2028/9), the BOM, U+FFF9-B, U+FFFE/F.
bool is_control_or_invisible(char32_t code_point);

// Return the value of the hex digit `c` (either case), or -1.
int hex_digit(char c);

// Return `text` with ASCII letters lowercased.
std::string to_lower(std::string_view text);

enum class Quotes { keep, escape };

// Return `text` on one line, safe for a terminal or the journal: \n \t \r as escapes, controls
// and invisible code points (is_control_or_invisible) as \xNN or \uNNNN, each byte of ill-formed
// UTF-8 as \xNN; with Quotes::escape also '"' as \" and '\' as \\ (for a quoted string). A
// server that sends "\r\x1b[2K PASS" can neither erase a line nor print a fake verdict.
std::string printable(std::string_view text, Quotes quotes = Quotes::keep);

// Return printable(`text`) with '\' as \\ (the text was raw bytes), cut to its first `limit` bytes
// of input (a character that would cross the limit is left out whole), "..." appended when
// something was cut (or `truncated` says the text was already cut), "(empty)" for "". Findings show
// program output and response bodies this way.
std::string printable_excerpt(std::string_view text, bool truncated, std::size_t limit = 200);

} // namespace util
