#include "proxy/http/h1_writer.h"

#include "proxy/http/h1_syntax.h"

namespace halyard::proxy::http {

bool appendRequestLine(std::string& out, std::string_view method, std::string_view path) {
  if (!syntax::isToken(method) || path.empty()) return false;
  for (char c : path) {
    if (!syntax::isTargetChar(c)) return false;
  }
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  return true;
}

void appendStatusLine(std::string& out, uint16_t status, std::string_view reason) {
  const char digits[3] = {static_cast<char>('0' + status / 100 % 10),
                          static_cast<char>('0' + status / 10 % 10),
                          static_cast<char>('0' + status % 10)};
  out.append("HTTP/1.1 ").append(digits, 3).append(" ");
  for (char c : reason) out.push_back(syntax::isFieldValueChar(c) ? c : ' ');
  out.append("\r\n");
}

bool appendHeader(std::string& out, std::string_view name, std::string_view value) {
  if (!syntax::isToken(name)) return false;
  out.append(name).append(": ");
  // Values the parser produced are already clean; only configured ones can need the repair.
  const size_t start = out.size();
  out.append(value);
  if (syntax::hasLineBreakOrNul(value)) {
    for (size_t i = start; i < out.size(); ++i) {
      const char c = out[i];
      if (c == '\r' || c == '\n' || c == '\0') out[i] = ' ';
    }
  }
  out.append("\r\n");
  return true;
}

bool appendRequestHead(std::string& out, std::string_view method, std::string_view path,
                       std::span<const HeaderView> headers) {
  bool ok = appendRequestLine(out, method, path);
  for (const HeaderView& h : headers) ok = appendHeader(out, h.name, h.value) && ok;
  appendHeadEnd(out);
  return ok;
}

bool appendResponseHead(std::string& out, uint16_t status, std::span<const HeaderView> headers) {
  appendStatusLine(out, status, reasonPhrase(status));
  bool ok = true;
  for (const HeaderView& h : headers) ok = appendHeader(out, h.name, h.value) && ok;
  appendHeadEnd(out);
  return ok;
}

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return {};
  }
}

ChunkHeader chunkHeader(uint64_t data_size) {
  constexpr char kHex[] = "0123456789abcdef";
  ChunkHeader header;
  int shift = 60;
  while (shift > 0 && ((data_size >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) header.bytes[header.size++] = kHex[(data_size >> shift) & 0xf];
  header.bytes[header.size++] = '\r';
  header.bytes[header.size++] = '\n';
  return header;
}

}  // namespace halyard::proxy::http
