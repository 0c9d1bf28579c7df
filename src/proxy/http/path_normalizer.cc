#include "proxy/http/path_normalizer.h"

#include "common/hex.h"

namespace halyard::proxy::http {

namespace {

using common::hexValue;

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Whether a normalization could change `p`: a backslash, a percent sign, or a dot right after a
// slash (the start of a dot segment); with `merge`, two slashes in a row.
bool mayChange(std::string_view p, bool merge) {
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' || c == '%') return true;
    if (c == '.' && i > 0 && p[i - 1] == '/') return true;
    if (merge && c == '/' && i > 0 && p[i - 1] == '/') return true;
  }
  return false;
}

void mergeSlashes(std::string& p) {
  size_t w = 0;
  for (size_t r = 0; r < p.size(); ++r) {
    if (p[r] == '/' && w > 0 && p[w - 1] == '/') continue;
    p[w++] = p[r];
  }
  p.resize(w);
}

// RFC 3986 §5.2.4 on an absolute path.
std::string removeDotSegments(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const size_t last = out.rfind('/');
      out.resize(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const size_t next = in.find('/', 1);
      const std::string_view segment = in.substr(0, next);
      out.append(segment);
      in.remove_prefix(segment.size());
    }
  }
  return out.empty() ? std::string("/") : out;
}

}  // namespace

bool normalizePath(std::string_view path, std::string& out, PathNormalization mode) {
  if (mode == PathNormalization::kNone) return false;
  const bool merge = mode != PathNormalization::kBase;
  const bool decode_slashes = mode == PathNormalization::kDecodeAndMergeSlashes;
  const size_t q = path.find('?');
  const std::string_view only = path.substr(0, q);
  if (!mayChange(only, merge)) return false;
  std::string decoded;
  decoded.reserve(only.size());
  for (size_t i = 0; i < only.size(); ++i) {
    const char c = only[i];
    if (c == '\\') {
      decoded.push_back('/');
      continue;
    }
    if (c == '%' && i + 2 < only.size() && hexValue(only[i + 1]) >= 0 &&
        hexValue(only[i + 2]) >= 0) {
      const char d = static_cast<char>(hexValue(only[i + 1]) * 16 + hexValue(only[i + 2]));
      // A decoded hex digit after a stray '%' ("%3%34") would make a new escape, which a second
      // pass (the app's) would decode again: such an escape stays as it was.
      const size_t n = decoded.size();
      const bool makes_escape =
          hexValue(d) >= 0 && ((n >= 1 && decoded[n - 1] == '%') ||
                               (n >= 2 && decoded[n - 2] == '%' && hexValue(decoded[n - 1]) >= 0));
      if (unreserved(static_cast<unsigned char>(d)) && !makes_escape) {
        decoded.push_back(d);
        i += 2;
        continue;
      }
      if (decode_slashes && (d == '/' || d == '\\')) {
        decoded.push_back('/');  // a backslash becomes a slash, decoded or not
        i += 2;
        continue;
      }
    }
    decoded.push_back(c);
  }
  std::string normal = decoded.starts_with('/') ? removeDotSegments(decoded) : decoded;
  if (merge) mergeSlashes(normal);
  if (q != std::string_view::npos) normal.append(path.substr(q));
  if (normal == path) return false;
  out = std::move(normal);
  return true;
}

}  // namespace halyard::proxy::http
