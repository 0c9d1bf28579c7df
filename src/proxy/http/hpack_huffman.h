// The Huffman code of HPACK (RFC 7541 section 5.2 and Appendix B): string literals in header
// blocks may be coded with it. Encoding appends to a caller's buffer; decoding writes into a
// caller's bounded buffer and reports malformed input (EOS in the data, padding longer than
// 7 bits or not all ones) as an error value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/result.h"

namespace halyard::proxy::http {

// Bytes `text` takes once Huffman coded (the last byte padded with ones).
std::size_t huffmanEncodedLength(std::string_view text);

// Appends the Huffman coding of `text` to `out`.
void huffmanEncode(std::string_view text, std::string& out);
// Writes the coding at `out`, which has room for huffmanEncodedLength(text) bytes; returns the
// end.
char* huffmanEncodeTo(std::string_view text, char* out);

// Decodes `coded` into out[0, capacity); returns the number of bytes written. Fails when the
// input is not a valid Huffman string or when the decoded text would not fit in `capacity`.
common::Expected<std::size_t> huffmanDecode(std::string_view coded, char* out,
                                            std::size_t capacity);

}  // namespace halyard::proxy::http
