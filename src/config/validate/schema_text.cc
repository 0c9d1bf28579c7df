#include "config/validate/schema_text.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

namespace halyard::config::schema {

size_t editDistance(std::string_view a, std::string_view b) {
  // Three rolling rows: the previous two and the current one (transpositions look two back).
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {

// Lower case without '_' and '-', so case and snake/kebab/camel spellings compare equal.
std::string fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '_' || c == '-') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A qualified name's name part or a label value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9].
bool isNamePart(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

std::optional<std::string_view> suggest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  const std::string w = fold(word);
  std::optional<std::string_view> best;
  size_t best_folded = std::numeric_limits<size_t>::max();
  size_t best_raw = std::numeric_limits<size_t>::max();
  for (std::string_view c : candidates) {
    if (c == word) continue;
    const std::string f = fold(c);
    size_t folded = editDistance(w, f);
    // One edit per three characters: catches typos without suggesting unrelated short words.
    size_t allowed = std::max<size_t>(1, std::min(w.size(), f.size()) / 3);
    if (folded > allowed) continue;
    size_t raw = editDistance(word, c);
    if (folded < best_folded || (folded == best_folded && raw < best_raw)) {
      best = c;
      best_folded = folded;
      best_raw = raw;
    }
  }
  return best;
}

std::string quoteShort(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ == kMax) {
      out += "...";
      break;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string renderShort(const Node& node) {
  constexpr size_t kMaxJson = 40;
  switch (node.type) {
    case NodeType::kNull: return "null";
    case NodeType::kString: return "string " + quoteShort(node.text);
    case NodeType::kBool:
    case NodeType::kInt:
    case NodeType::kDouble: return std::string(toString(node.type)) + " " + node.text;
    case NodeType::kList:
    case NodeType::kMap: {
      std::string json = node.toJson();
      if (json.size() > kMaxJson) json = json.substr(0, kMaxJson) + "...";
      return std::string(toString(node.type)) + " " + json;
    }
  }
  return "null";
}

bool isIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlnum(c) || c == '_'; });
}

size_t codePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool isBase64(std::string_view s) {
  size_t n = 0, pad = 0;
  for (char c : s) {
    if (c == '\r' || c == '\n') continue;
    ++n;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    if (!(isAlnum(c) || c == '+' || c == '/')) return false;
  }
  return n % 4 == 0 && pad <= 2;
}

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  // Labels separated by dots, each [a-z0-9]([-a-z0-9]*[a-z0-9])? (no length limit per label).
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!isLowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return isNamePart(s);
  std::string_view prefix = s.substr(0, slash);
  std::string_view name = s.substr(slash + 1);
  return isDns1123Subdomain(prefix) && name.find('/') == std::string_view::npos &&
         isNamePart(name);
}

bool isLabelValue(std::string_view s) { return s.empty() || isNamePart(s); }

}  // namespace halyard::config::schema
