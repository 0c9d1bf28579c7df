// Serialization of HTTP/1.1 heads and chunk framing. Everything appends to a std::string the
// connection reuses (clear() keeps its capacity), so the steady state does not reallocate.
// Body bytes are never copied here: a chunked body is written as chunkHeader(n), the data
// itself, kChunkEnd, ... kLastChunk, with scatter/gather I/O.
//
// Inputs come from the parser (already valid) or from configuration (rewrites, header
// operations). So that configuration can never split a message, a method, path or header
// name that is not valid is refused (nothing appended, false returned) and CR, LF or NUL in a
// header value is replaced by SP, as RFC 9110 §5.5 allows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/request_view.h"

namespace halyard::proxy::http {

// "METHOD path HTTP/1.1\r\n". The proxy always speaks HTTP/1.1 upstream.
bool appendRequestLine(std::string& out, std::string_view method, std::string_view path);
// "HTTP/1.1 <status> <reason>\r\n"; status is 100..999.
void appendStatusLine(std::string& out, uint16_t status, std::string_view reason);
// "name: value\r\n"
bool appendHeader(std::string& out, std::string_view name, std::string_view value);
// The empty line that ends a head.
inline void appendHeadEnd(std::string& out) {
  out.append("\r\n");
}

// Whole heads: start line, every header, the empty line. False if any part was refused; the
// connection must then not send `out`.
bool appendRequestHead(std::string& out, std::string_view method, std::string_view path,
                       std::span<const HeaderView> headers);
bool appendResponseHead(std::string& out, uint16_t status, std::span<const HeaderView> headers);

// The standard reason phrase (RFC 9110 §15), or empty for codes without one here.
std::string_view reasonPhrase(uint16_t status);

// RFC 9112 §7.1: "<size in hex>\r\n" before each chunk's data.
struct ChunkHeader {
  std::array<char, 18> bytes{};  // 16 hex digits + CRLF at most
  uint8_t size = 0;
  std::string_view view() const { return std::string_view(bytes.data(), size); }
};
ChunkHeader chunkHeader(uint64_t data_size);  // data_size > 0: a 0 would end the body
inline void appendChunkHeader(std::string& out, uint64_t data_size) {
  out.append(chunkHeader(data_size).view());
}
inline constexpr std::string_view kChunkEnd = "\r\n";        // after each chunk's data
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";  // last-chunk, no trailers

}  // namespace halyard::proxy::http
