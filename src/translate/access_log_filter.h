// The Telemetry API's accessLogging `filter.expression`, in the CEL subset the proxy evaluates
// per request: the attributes response.code, request.method, request.url_path (the path without
// its query), request.path, request.host, request.headers['name'] (any request header; an absent
// one is "") and connection.mtls; string, integer and boolean literals; == != < <= > >=;
// x.startsWith('...'); !, &&, || and parentheses. Anything else is outside the subset:
// parseAccessLogFilter answers nullopt and the translator reports it (every request is then
// logged).
//
// The same attributes give a metric's tagOverrides `value` (parseAttributeValue): an attribute or
// a literal, `string(x)`, `x | y` (y when x is empty, as Istio's stats expressions allow) and
// `condition ? x : y` with a filter expression as the condition.
//
// Header-only: the proxy parses the text again from its snapshot (wire/snapshot_codec.cc).
#pragma once

#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/header_lookup.h"

namespace halyard::translate {

// What a filter reads of one request (views into the access log entry).
struct AccessLogAttributes {
  int64_t response_code = 0;
  std::string_view method;
  std::string_view path;  // with the query
  std::string_view host;
  std::string_view user_agent;
  std::string_view request_id;
  std::string_view x_forwarded_for;
  bool mtls = false;  // the downstream connection is mutual TLS
  // Every request header; the fields above answer for the ones they carry.
  common::HeaderLookup headers;
};

class AccessLogFilter {
 public:
  // No expression: every request is logged.
  bool empty() const { return !root_; }
  bool matches(const AccessLogAttributes& a) const { return !root_ || truth(*root_, a); }

  // A tagOverrides value (see the top of the file); nullopt outside the subset.
  static std::optional<AccessLogFilter> parseValue(std::string_view text) {
    Parser p{text, 0};
    auto root = p.parseValue();
    p.skipSpace();
    if (!root || p.pos != text.size()) return std::nullopt;
    AccessLogFilter f;
    f.root_ = std::shared_ptr<const Node>(std::move(root));
    return f;
  }
  // Appends the value of an expression made by parseValue: strings as they are, integers in
  // decimal, booleans "true" / "false"; nothing for an absent header.
  void appendValue(std::string& out, const AccessLogAttributes& a) const {
    if (root_) appendValueOf(*root_, a, out);
  }

  static std::optional<AccessLogFilter> parse(std::string_view text) {
    Parser p{text, 0};
    auto root = p.parseOr();
    p.skipSpace();
    if (!root || p.pos != text.size()) return std::nullopt;
    AccessLogFilter f;
    f.root_ = std::shared_ptr<const Node>(std::move(root));
    return f;
  }

 private:
  enum class Attr : uint8_t { kNone, kCode, kMethod, kUrlPath, kPath, kHost, kHeader, kMtls };
  enum class Kind : uint8_t {
    kOr,
    kAnd,
    kNot,
    kCompare,
    kStartsWith,
    kTruth,
    kValue,      // a value expression's operand (lhs)
    kDefault,    // children[0] | children[1]: the second when the first is empty
    kCondition,  // children[0] ? children[1] : children[2]
  };
  enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  struct Operand {
    Attr attr = Attr::kNone;  // kNone: a literal
    enum class Type : uint8_t { kInt, kString, kBool } type = Type::kInt;
    int64_t number = 0;
    bool boolean = false;
    std::string text;  // a string literal, or the header's name for kHeader
  };
  struct Node {
    Kind kind = Kind::kTruth;
    Op op = Op::kEq;
    std::vector<std::unique_ptr<Node>> children;
    Operand lhs, rhs;
  };
  struct Value {
    Operand::Type type = Operand::Type::kInt;
    int64_t number = 0;
    bool boolean = false;
    std::string_view text;
  };

  static Value valueOf(const Operand& o, const AccessLogAttributes& a) {
    using T = Operand::Type;
    switch (o.attr) {
      case Attr::kNone:
        return {o.type, o.number, o.boolean, o.text};
      case Attr::kCode:
        return {T::kInt, a.response_code, false, {}};
      case Attr::kMethod:
        return {T::kString, 0, false, a.method};
      case Attr::kUrlPath:
        return {T::kString, 0, false, a.path.substr(0, a.path.find('?'))};
      case Attr::kPath:
        return {T::kString, 0, false, a.path};
      case Attr::kHost:
        return {T::kString, 0, false, a.host};
      case Attr::kMtls:
        return {T::kBool, 0, a.mtls, {}};
      case Attr::kHeader:
        if (o.text == "host" || o.text == ":authority") return {T::kString, 0, false, a.host};
        if (o.text == "user-agent") return {T::kString, 0, false, a.user_agent};
        if (o.text == "x-request-id") return {T::kString, 0, false, a.request_id};
        if (o.text == "x-forwarded-for") return {T::kString, 0, false, a.x_forwarded_for};
        return {T::kString, 0, false, a.headers(o.text).value_or(std::string_view())};
    }
    return {};
  }

  static void appendValueOf(const Node& n, const AccessLogAttributes& a, std::string& out) {
    switch (n.kind) {
      case Kind::kValue: {
        const Value v = valueOf(n.lhs, a);
        if (v.type == Operand::Type::kString) {
          out.append(v.text);
        } else if (v.type == Operand::Type::kInt) {
          out.append(std::to_string(v.number));
        } else {
          out.append(v.boolean ? "true" : "false");
        }
        return;
      }
      case Kind::kDefault: {
        const size_t before = out.size();
        appendValueOf(*n.children[0], a, out);
        if (out.size() == before) appendValueOf(*n.children[1], a, out);
        return;
      }
      case Kind::kCondition:
        appendValueOf(*n.children[truth(*n.children[0], a) ? 1 : 2], a, out);
        return;
      default:
        out.append(truth(n, a) ? "true" : "false");  // a bare condition
        return;
    }
  }

  // A comparison of different types is false (CEL would raise an error; Envoy does not log).
  static bool compare(const Value& l, Op op, const Value& r) {
    if (l.type != r.type) return false;
    int c = 0;
    if (l.type == Operand::Type::kInt) {
      c = l.number < r.number ? -1 : l.number > r.number ? 1 : 0;
    } else if (l.type == Operand::Type::kString) {
      c = l.text.compare(r.text);
    } else {
      c = l.boolean == r.boolean ? 0 : (l.boolean ? 1 : -1);
    }
    switch (op) {
      case Op::kEq:
        return c == 0;
      case Op::kNe:
        return c != 0;
      case Op::kLt:
        return c < 0;
      case Op::kLe:
        return c <= 0;
      case Op::kGt:
        return c > 0;
      case Op::kGe:
        return c >= 0;
    }
    return false;
  }

  static bool truth(const Node& n, const AccessLogAttributes& a) {
    switch (n.kind) {
      case Kind::kOr:
        for (const auto& c : n.children) {
          if (truth(*c, a)) return true;
        }
        return false;
      case Kind::kAnd:
        for (const auto& c : n.children) {
          if (!truth(*c, a)) return false;
        }
        return true;
      case Kind::kNot:
        return !truth(*n.children.front(), a);
      case Kind::kCompare:
        return compare(valueOf(n.lhs, a), n.op, valueOf(n.rhs, a));
      case Kind::kStartsWith: {
        const Value v = valueOf(n.lhs, a);
        return v.type == Operand::Type::kString && v.text.starts_with(n.rhs.text);
      }
      case Kind::kTruth: {
        const Value v = valueOf(n.lhs, a);
        return v.type == Operand::Type::kBool && v.boolean;
      }
      case Kind::kValue:
      case Kind::kDefault:
      case Kind::kCondition:
        return false;  // values are not conditions (parse never nests them so)
    }
    return false;
  }

  struct Parser {
    std::string_view s;
    size_t pos;

    void skipSpace() {
      while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
    }
    bool eat(std::string_view token) {
      skipSpace();
      if (s.substr(pos).starts_with(token)) {
        pos += token.size();
        return true;
      }
      return false;
    }
    std::unique_ptr<Node> parseOr() {
      auto left = parseAnd();
      if (!left) return nullptr;
      if (!peek("||")) return left;
      auto n = std::make_unique<Node>();
      n->kind = Kind::kOr;
      n->children.push_back(std::move(left));
      while (eat("||")) {
        auto right = parseAnd();
        if (!right) return nullptr;
        n->children.push_back(std::move(right));
      }
      return n;
    }
    std::unique_ptr<Node> parseAnd() {
      auto left = parseUnary();
      if (!left) return nullptr;
      if (!peek("&&")) return left;
      auto n = std::make_unique<Node>();
      n->kind = Kind::kAnd;
      n->children.push_back(std::move(left));
      while (eat("&&")) {
        auto right = parseUnary();
        if (!right) return nullptr;
        n->children.push_back(std::move(right));
      }
      return n;
    }
    // value := alternative ('?' alternative ':' alternative)?, where a condition ahead of '?'
    // is a filter expression; alternative := term ('|' term)*; term := operand | string(operand)
    std::unique_ptr<Node> parseValue() {
      const size_t start = pos;
      // A condition first, if the text has a '?' ahead: `response.code >= 500 ? 'bad' : 'ok'`.
      if (auto cond = parseOr(); cond && eat("?")) {
        auto yes = parseAlternative();
        if (!yes || !eat(":")) return nullptr;
        auto no = parseAlternative();
        if (!no) return nullptr;
        auto n = std::make_unique<Node>();
        n->kind = Kind::kCondition;
        n->children.push_back(std::move(cond));
        n->children.push_back(std::move(yes));
        n->children.push_back(std::move(no));
        return n;
      }
      pos = start;
      return parseAlternative();
    }
    std::unique_ptr<Node> parseTerm() {
      auto n = std::make_unique<Node>();
      n->kind = Kind::kValue;
      if (eat("string(")) {
        if (!operand(n->lhs) || !eat(")")) return nullptr;
        return n;
      }
      if (!operand(n->lhs)) return nullptr;
      return n;
    }
    std::unique_ptr<Node> parseAlternative() {
      auto left = parseTerm();
      if (!left) return nullptr;
      while (peek("|") && !peek("||")) {
        ++pos;
        auto right = parseTerm();
        if (!right) return nullptr;
        auto n = std::make_unique<Node>();
        n->kind = Kind::kDefault;
        n->children.push_back(std::move(left));
        n->children.push_back(std::move(right));
        left = std::move(n);
      }
      return left;
    }
    bool peek(std::string_view token) {
      skipSpace();
      return s.substr(pos).starts_with(token);
    }
    std::unique_ptr<Node> parseUnary() {
      skipSpace();
      if (peek("!") && !peek("!=")) {
        ++pos;
        auto inner = parseUnary();
        if (!inner) return nullptr;
        auto n = std::make_unique<Node>();
        n->kind = Kind::kNot;
        n->children.push_back(std::move(inner));
        return n;
      }
      if (eat("(")) {
        auto inner = parseOr();
        if (!inner || !eat(")")) return nullptr;
        return inner;
      }
      auto n = std::make_unique<Node>();
      if (!operand(n->lhs)) return nullptr;
      if (eat(".startsWith(")) {
        Operand prefix;
        if (!operand(prefix) || prefix.attr != Attr::kNone ||
            prefix.type != Operand::Type::kString || !eat(")")) {
          return nullptr;
        }
        n->kind = Kind::kStartsWith;
        n->rhs = std::move(prefix);
        return n;
      }
      static constexpr std::pair<std::string_view, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe},
                                                                 {"<=", Op::kLe}, {">=", Op::kGe},
                                                                 {"<", Op::kLt},  {">", Op::kGt}};
      for (const auto& [symbol, op] : kOps) {
        if (!eat(symbol)) continue;
        n->kind = Kind::kCompare;
        n->op = op;
        if (!operand(n->rhs)) return nullptr;
        return n;
      }
      // A bare boolean: connection.mtls, true, false.
      if (n->lhs.attr != Attr::kMtls &&
          !(n->lhs.attr == Attr::kNone && n->lhs.type == Operand::Type::kBool)) {
        return nullptr;
      }
      n->kind = Kind::kTruth;
      return n;
    }
    bool quoted(std::string& out) {
      skipSpace();
      if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"')) return false;
      const char quote = s[pos++];
      out.clear();
      while (pos < s.size() && s[pos] != quote) {
        if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
        out += s[pos++];
      }
      if (pos >= s.size()) return false;
      ++pos;
      return true;
    }
    bool operand(Operand& o) {
      skipSpace();
      if (pos >= s.size()) return false;
      if (s[pos] == '\'' || s[pos] == '"') {
        o.type = Operand::Type::kString;
        return quoted(o.text);
      }
      if (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '-') {
        const bool negative = s[pos] == '-';
        if (negative) ++pos;
        size_t digits = 0;
        int64_t v = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) && digits < 12) {
          v = v * 10 + (s[pos++] - '0');
          ++digits;
        }
        if (digits == 0) return false;
        o.type = Operand::Type::kInt;
        o.number = negative ? -v : v;
        return true;
      }
      static constexpr std::pair<std::string_view, Attr> kAttrs[] = {
          {"response.code", Attr::kCode},       {"request.method", Attr::kMethod},
          {"request.url_path", Attr::kUrlPath}, {"request.path", Attr::kPath},
          {"request.host", Attr::kHost},        {"connection.mtls", Attr::kMtls}};
      for (const auto& [name, attr] : kAttrs) {
        if (!s.substr(pos).starts_with(name)) continue;
        const size_t after = pos + name.size();
        if (after < s.size() &&
            (std::isalnum(static_cast<unsigned char>(s[after])) || s[after] == '_')) {
          continue;
        }
        pos = after;
        o.attr = attr;
        return true;
      }
      if (eat("request.headers[")) {
        if (!quoted(o.text) || !eat("]")) return false;
        for (auto& c : o.text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (o.text.empty()) return false;
        o.attr = Attr::kHeader;
        return true;
      }
      for (const auto& [word, value] : {std::pair{std::string_view("true"), true},
                                        std::pair{std::string_view("false"), false}}) {
        if (!s.substr(pos).starts_with(word)) continue;
        pos += word.size();
        o.type = Operand::Type::kBool;
        o.boolean = value;
        return true;
      }
      return false;
    }
  };

  std::shared_ptr<const Node> root_;
};

inline std::optional<AccessLogFilter> parseAccessLogFilter(std::string_view text) {
  return AccessLogFilter::parse(text);
}

// A Telemetry metrics tagOverrides `value` (operation UPSERT).
inline std::optional<AccessLogFilter> parseAttributeValue(std::string_view text) {
  return AccessLogFilter::parseValue(text);
}

}  // namespace halyard::translate
