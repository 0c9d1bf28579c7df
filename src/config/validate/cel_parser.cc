#include "config/validate/cel_parser.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace halyard::config::cel {

namespace {

// Deeper expressions are rejected so neither the parser nor the evaluator can exhaust the stack.
constexpr int kMaxDepth = 100;

struct Token {
  enum class Kind { kEnd, kIdent, kInt, kDouble, kString, kPunct };
  Kind kind = Kind::kEnd;
  size_t offset = 0;
  std::string text;  // identifier, punctuation, or the decoded string
  uint64_t int_value = 0;
  double double_value = 0;
};

std::string at(size_t offset) {
  return " at offset " + std::to_string(offset);
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentChar(char c) {
  return isIdentStart(c) || isDigit(c);
}

int hexValue(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// False for surrogates and values past U+10FFFF, which CEL rejects in string literals.
bool appendUtf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return true;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  common::Result<std::vector<Token>, std::string> run() {
    std::vector<Token> tokens;
    while (true) {
      skipSpaceAndComments();
      Token tok;
      tok.offset = pos_;
      if (pos_ >= src_.size()) {
        tokens.push_back(std::move(tok));
        return tokens;
      }
      if (!lexToken(tok)) return common::unexpected(error_);
      tokens.push_back(std::move(tok));
    }
  }

 private:
  char peekChar(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  bool fail(std::string message, size_t offset) {
    error_ = std::move(message) + at(offset);
    return false;
  }

  void skipSpaceAndComments() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '/' && peekChar(1) == '/') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  bool lexToken(Token& tok) {
    char c = src_[pos_];
    if (isIdentStart(c)) {
      size_t end = pos_;
      while (end < src_.size() && isIdentChar(src_[end])) ++end;
      std::string word(src_.substr(pos_, end - pos_));
      char next = end < src_.size() ? src_[end] : '\0';
      if (next == '"' || next == '\'') {
        if (word == "r" || word == "R") {
          pos_ = end;
          return lexString(tok, /*raw=*/true);
        }
        std::string lower = word;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](char ch) {
          return ch == 'B' ? 'b' : ch == 'R' ? 'r' : ch;
        });
        if (lower == "b" || lower == "rb" || lower == "br") {
          return fail("bytes literals are not supported", pos_);
        }
      }
      tok.kind = Token::Kind::kIdent;
      tok.text = std::move(word);
      pos_ = end;
      return true;
    }
    if (isDigit(c) || (c == '.' && isDigit(peekChar(1)))) return lexNumber(tok);
    if (c == '"' || c == '\'') return lexString(tok, /*raw=*/false);
    static constexpr std::string_view kTwoChar[] = {"==", "!=", "<=", ">=", "&&", "||"};
    for (std::string_view p : kTwoChar) {
      if (src_.substr(pos_, 2) == p) {
        tok.kind = Token::Kind::kPunct;
        tok.text = std::string(p);
        pos_ += 2;
        return true;
      }
    }
    if (std::string_view("<>!+-*/%?:.,()[]{}").find(c) != std::string_view::npos) {
      tok.kind = Token::Kind::kPunct;
      tok.text = std::string(1, c);
      ++pos_;
      return true;
    }
    return fail(std::string("unexpected character '") + c + "'", pos_);
  }

  bool lexNumber(Token& tok) {
    size_t start = pos_;
    size_t end = pos_;
    bool is_double = false;
    int base = 10;
    if (src_[end] == '0' && (peekChar(1) == 'x' || peekChar(1) == 'X')) {
      base = 16;
      end += 2;
      start = end;
      while (end < src_.size() && hexValue(src_[end]) >= 0) ++end;
      if (end == start) return fail("malformed hex literal", pos_);
    } else {
      while (end < src_.size() && isDigit(src_[end])) ++end;
      if (end + 1 < src_.size() && src_[end] == '.' && isDigit(src_[end + 1])) {
        is_double = true;
        ++end;
        while (end < src_.size() && isDigit(src_[end])) ++end;
      }
      if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
        size_t exp = end + 1;
        if (exp < src_.size() && (src_[exp] == '+' || src_[exp] == '-')) ++exp;
        if (exp < src_.size() && isDigit(src_[exp])) {
          is_double = true;
          end = exp;
          while (end < src_.size() && isDigit(src_[end])) ++end;
        }
      }
    }
    if (end < src_.size() && (src_[end] == 'u' || src_[end] == 'U')) {
      return fail("unsigned integer literals are not supported", pos_);
    }
    const char* first = src_.data() + start;
    const char* last = src_.data() + end;
    if (is_double) {
      tok.kind = Token::Kind::kDouble;
      auto [p, ec] = std::from_chars(first, last, tok.double_value);
      if (ec != std::errc() || p != last) return fail("malformed number", pos_);
    } else {
      tok.kind = Token::Kind::kInt;
      auto [p, ec] = std::from_chars(first, last, tok.int_value, base);
      if (ec != std::errc() || p != last) return fail("integer literal out of range", pos_);
    }
    tok.text = std::string(src_.substr(pos_, end - pos_));
    pos_ = end;
    return true;
  }

  bool lexString(Token& tok, bool raw) {
    size_t start = raw ? pos_ - 1 : pos_;
    char quote = src_[pos_];
    std::string closing(src_.substr(pos_, 3) == std::string(3, quote) ? 3 : 1, quote);
    pos_ += closing.size();
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) return fail("unterminated string literal", start);
      char c = src_[pos_];
      if (src_.substr(pos_, closing.size()) == closing) {
        pos_ += closing.size();
        break;
      }
      if (closing.size() == 1 && (c == '\n' || c == '\r')) {
        return fail("newline in string literal", start);
      }
      if (c != '\\' || raw) {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (!lexEscape(out)) return false;
    }
    tok.kind = Token::Kind::kString;
    tok.text = std::move(out);
    return true;
  }

  // At a backslash: decodes one escape sequence into out.
  bool lexEscape(std::string& out) {
    size_t start = pos_;
    char e = peekChar(1);
    pos_ += 2;
    switch (e) {
      case 'a':
        out.push_back('\a');
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'v':
        out.push_back('\v');
        return true;
      case '\\':
      case '\'':
      case '"':
      case '`':
      case '?':
        out.push_back(e);
        return true;
      default:
        break;
    }
    // \xHH, \uHHHH, \UHHHHHHHH and \ooo all denote code points in a string.
    int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    int radix = 16;
    if (e >= '0' && e <= '3') {
      digits = 2;
      radix = 8;
    }
    if (digits == 0) return fail(std::string("invalid escape sequence '\\") + e + "'", start);
    uint32_t cp = radix == 8 ? static_cast<uint32_t>(e - '0') : 0;
    for (int i = 0; i < digits; ++i) {
      int v = hexValue(peekChar());
      if (v < 0 || v >= radix) return fail("malformed escape sequence", start);
      cp = cp * static_cast<uint32_t>(radix) + static_cast<uint32_t>(v);
      ++pos_;
    }
    if (!appendUtf8(out, cp)) return fail("invalid code point in escape sequence", start);
    return true;
  }

  std::string_view src_;
  size_t pos_ = 0;
  std::string error_;
};

struct FnInfo {
  std::string_view name;
  Fn fn;
  bool global;      // callable as name(x, ...)
  bool method;      // callable as x.name(...)
  size_t min_args;  // counting a method's receiver
  size_t max_args;
};

constexpr FnInfo kFunctions[] = {
    {"size", Fn::kSize, true, true, 1, 1},
    {"int", Fn::kInt, true, false, 1, 1},
    {"double", Fn::kDouble, true, false, 1, 1},
    {"string", Fn::kString, true, false, 1, 1},
    {"duration", Fn::kDuration, true, false, 1, 1},
    {"url", Fn::kUrl, true, false, 1, 1},
    {"isURL", Fn::kIsUrl, true, false, 1, 1},
    {"contains", Fn::kContains, false, true, 2, 2},
    {"startsWith", Fn::kStartsWith, false, true, 2, 2},
    {"endsWith", Fn::kEndsWith, false, true, 2, 2},
    {"matches", Fn::kMatches, false, true, 2, 2},
    {"substring", Fn::kSubstring, false, true, 2, 3},
    {"lowerAscii", Fn::kLowerAscii, false, true, 1, 1},
    {"upperAscii", Fn::kUpperAscii, false, true, 1, 1},
    {"getScheme", Fn::kGetScheme, false, true, 1, 1},
    {"getHost", Fn::kGetHost, false, true, 1, 1},
    {"getHostname", Fn::kGetHostname, false, true, 1, 1},
    {"getPort", Fn::kGetPort, false, true, 1, 1},
};

constexpr std::pair<std::string_view, Macro> kMacros[] = {
    {"all", Macro::kAll}, {"exists", Macro::kExists}, {"exists_one", Macro::kExistsOne}};

constexpr std::string_view kReserved[] = {
    "in",     "as",  "break", "const",   "continue",  "else",   "for", "function", "if",
    "import", "let", "loop",  "package", "namespace", "return", "var", "void",     "while"};

template <class... E>
std::vector<ExprPtr> children(E&&... e) {
  std::vector<ExprPtr> v;
  (v.push_back(std::forward<E>(e)), ...);
  return v;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  common::Result<ParsedExpr, std::string> run() {
    ExprPtr root = parseExpr();
    if (root && peek().kind != Token::Kind::kEnd)
      fail("unexpected " + describe(peek()), peek().offset);
    if (!error_.empty()) return common::unexpected(error_);
    return ParsedExpr{std::move(root), max_slots_};
  }

 private:
  const Token& peek() const { return tokens_[std::min(pos_, tokens_.size() - 1)]; }
  const Token& advance() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  bool isPunct(std::string_view p) const {
    return peek().kind == Token::Kind::kPunct && peek().text == p;
  }
  bool accept(std::string_view p) {
    if (!isPunct(p)) return false;
    ++pos_;
    return true;
  }
  bool expect(std::string_view p) {
    if (accept(p)) return true;
    fail("expected '" + std::string(p) + "' but found " + describe(peek()), peek().offset);
    return false;
  }
  static std::string describe(const Token& t) {
    return t.kind == Token::Kind::kEnd ? std::string("end of input") : "'" + t.text + "'";
  }

  ExprPtr fail(std::string message, size_t offset) {
    if (error_.empty()) error_ = std::move(message) + at(offset);
    return nullptr;
  }

  // Every node is made here, so the height limit holds for the whole tree.
  ExprPtr node(Expr::Kind kind, size_t offset, std::vector<ExprPtr> args = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    for (const auto& a : args) e->height = std::max(e->height, a->height + 1);
    e->args = std::move(args);
    if (e->height > kMaxDepth) return fail("expression nested too deeply", offset);
    return e;
  }

  ExprPtr literal(Value v, size_t offset) {
    ExprPtr e = node(Expr::Kind::kLiteral, offset);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parseExpr() {
    size_t offset = peek().offset;
    ExprPtr cond = parseOr();
    if (!cond || !accept("?")) return cond;
    ExprPtr yes = parseOr();
    if (!yes || !expect(":")) return nullptr;
    ExprPtr no = parseExpr();
    if (!no) return nullptr;
    return node(Expr::Kind::kCond, offset,
                children(std::move(cond), std::move(yes), std::move(no)));
  }

  ExprPtr parseOr() {
    ExprPtr left = parseAnd();
    while (left && isPunct("||")) {
      size_t offset = advance().offset;
      ExprPtr right = parseAnd();
      if (!right) return nullptr;
      left = node(Expr::Kind::kOr, offset, children(std::move(left), std::move(right)));
    }
    return left;
  }

  ExprPtr parseAnd() {
    ExprPtr left = parseRelation();
    while (left && isPunct("&&")) {
      size_t offset = advance().offset;
      ExprPtr right = parseRelation();
      if (!right) return nullptr;
      left = node(Expr::Kind::kAnd, offset, children(std::move(left), std::move(right)));
    }
    return left;
  }

  // Left-associative binary operators: the operator after `left`, or nullopt.
  std::optional<Op> relationOp() const {
    static constexpr std::pair<std::string_view, Op> kOps[] = {
        {"==", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt}, {"<=", Op::kLe},
        {">", Op::kGt},  {">=", Op::kGe}, {"in", Op::kIn}};
    for (const auto& [text, op] : kOps) {
      if (peek().text == text && peek().kind != Token::Kind::kString) return op;
    }
    return std::nullopt;
  }

  ExprPtr binary(Op op, size_t offset, ExprPtr left, ExprPtr right) {
    if (!right) return nullptr;
    ExprPtr e = node(Expr::Kind::kBinary, offset, children(std::move(left), std::move(right)));
    if (e) e->op = op;
    return e;
  }

  ExprPtr parseRelation() {
    ExprPtr left = parseSum();
    while (left) {
      auto op = relationOp();
      if (!op) break;
      size_t offset = advance().offset;
      left = binary(*op, offset, std::move(left), parseSum());
    }
    return left;
  }

  ExprPtr parseSum() {
    ExprPtr left = parseProduct();
    while (left && (isPunct("+") || isPunct("-"))) {
      Op op = peek().text == "+" ? Op::kAdd : Op::kSub;
      size_t offset = advance().offset;
      left = binary(op, offset, std::move(left), parseProduct());
    }
    return left;
  }

  ExprPtr parseProduct() {
    ExprPtr left = parseUnary();
    while (left && (isPunct("*") || isPunct("/") || isPunct("%"))) {
      Op op = peek().text == "*" ? Op::kMul : peek().text == "/" ? Op::kDiv : Op::kMod;
      size_t offset = advance().offset;
      left = binary(op, offset, std::move(left), parseUnary());
    }
    return left;
  }

  ExprPtr parseUnary() {
    if (depth_ >= kMaxDepth) return fail("expression nested too deeply", peek().offset);
    ++depth_;
    ExprPtr e = parseUnaryInner();
    --depth_;
    return e;
  }

  ExprPtr parseUnaryInner() {
    size_t offset = peek().offset;
    bool is_not = isPunct("!");
    if (!is_not && !isPunct("-")) return parseMember(parsePrimary());
    advance();
    if (!is_not && peek().kind == Token::Kind::kInt) {
      // Folded here so that -9223372036854775808 is representable.
      const Token& tok = advance();
      constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
      if (tok.int_value > kMinMagnitude) return fail("integer literal out of range", tok.offset);
      return parseMember(literal(Value::ofInt(static_cast<int64_t>(0 - tok.int_value)), offset));
    }
    ExprPtr operand = parseUnary();
    if (!operand) return nullptr;
    ExprPtr e = node(Expr::Kind::kUnary, offset, children(std::move(operand)));
    if (e) e->op = is_not ? Op::kNot : Op::kNeg;
    return e;
  }

  ExprPtr parseMember(ExprPtr target) {
    while (target) {
      if (accept(".")) {
        const Token& field = advance();
        if (field.kind != Token::Kind::kIdent) {
          return fail("expected a field name after '.' but found " + describe(field), field.offset);
        }
        if (accept("(")) {
          target = parseMethod(std::move(target), field);
        } else {
          target = node(Expr::Kind::kSelect, field.offset, children(std::move(target)));
          if (target) target->name = field.text;
        }
      } else if (isPunct("[")) {
        size_t offset = advance().offset;
        ExprPtr index = parseExpr();
        if (!index || !expect("]")) return nullptr;
        target = node(Expr::Kind::kIndex, offset, children(std::move(target), std::move(index)));
      } else {
        break;
      }
    }
    return target;
  }

  // After "name(": the argument list through the closing parenthesis.
  bool parseArgs(std::vector<ExprPtr>& args, std::string_view close, bool trailing_comma) {
    if (accept(close)) return true;
    while (true) {
      ExprPtr arg = parseExpr();
      if (!arg) return false;
      args.push_back(std::move(arg));
      if (accept(close)) return true;
      if (!expect(",")) return false;
      if (trailing_comma && accept(close)) return true;
    }
  }

  ExprPtr call(const Token& name, std::vector<ExprPtr> args, bool method) {
    for (const FnInfo& f : kFunctions) {
      if (f.name != name.text || !(method ? f.method : f.global)) continue;
      if (args.size() < f.min_args || args.size() > f.max_args) {
        return fail("wrong number of arguments to '" + name.text + "'", name.offset);
      }
      ExprPtr e = node(Expr::Kind::kCall, name.offset, std::move(args));
      if (!e) return nullptr;
      e->fn = f.fn;
      e->name = name.text;
      if (f.fn == Fn::kMatches && e->args[1]->kind == Expr::Kind::kLiteral &&
          e->args[1]->literal.is(Value::Kind::kString)) {
        RE2::Options options;
        options.set_log_errors(false);
        auto re = std::make_shared<const RE2>(e->args[1]->literal.s, options);
        if (!re->ok())
          return fail("invalid regular expression: " + re->error(), e->args[1]->offset);
        e->regex = std::move(re);
      }
      return e;
    }
    return fail(
        std::string("unsupported ") + (method ? "method '" : "function '") + name.text + "'",
        name.offset);
  }

  ExprPtr parseMethod(ExprPtr target, const Token& name) {
    for (const auto& [macro_name, macro] : kMacros) {
      if (name.text == macro_name) return parseMacro(std::move(target), name, macro);
    }
    std::vector<ExprPtr> args = children(std::move(target));
    if (!parseArgs(args, ")", false)) return nullptr;
    return call(name, std::move(args), /*method=*/true);
  }

  ExprPtr parseMacro(ExprPtr range, const Token& name, Macro macro) {
    const Token& var = advance();
    if (var.kind != Token::Kind::kIdent) {
      return fail("the first argument of '" + name.text + "' must be a variable name", var.offset);
    }
    if (!expect(",")) return nullptr;
    scopes_.push_back(var.text);
    int slot = static_cast<int>(scopes_.size());
    max_slots_ = std::max(max_slots_, slot + 1);
    ExprPtr predicate = parseExpr();
    scopes_.pop_back();
    if (!predicate || !expect(")")) return nullptr;
    ExprPtr e =
        node(Expr::Kind::kLoop, name.offset, children(std::move(range), std::move(predicate)));
    if (!e) return nullptr;
    e->macro = macro;
    e->slot = slot;
    e->name = name.text;
    return e;
  }

  ExprPtr parsePrimary() {
    const Token& tok = advance();
    switch (tok.kind) {
      case Token::Kind::kInt:
        if (tok.int_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return fail("integer literal out of range", tok.offset);
        }
        return literal(Value::ofInt(static_cast<int64_t>(tok.int_value)), tok.offset);
      case Token::Kind::kDouble:
        return literal(Value::ofDouble(tok.double_value), tok.offset);
      case Token::Kind::kString:
        return literal(Value::ofString(tok.text), tok.offset);
      case Token::Kind::kIdent:
        return parseIdent(tok);
      case Token::Kind::kPunct:
        if (tok.text == "(") {
          ExprPtr inner = parseExpr();
          if (!inner || !expect(")")) return nullptr;
          return inner;
        }
        if (tok.text == "[") {
          std::vector<ExprPtr> items;
          if (!parseArgs(items, "]", true)) return nullptr;
          return node(Expr::Kind::kList, tok.offset, std::move(items));
        }
        if (tok.text == "{") return parseMapLiteral(tok.offset);
        if (tok.text == ".") return fail("leading '.' names are not supported", tok.offset);
        break;
      case Token::Kind::kEnd:
        break;
    }
    return fail("unexpected " + describe(tok), tok.offset);
  }

  ExprPtr parseMapLiteral(size_t offset) {
    std::vector<ExprPtr> entries;
    while (!accept("}")) {
      ExprPtr key = parseExpr();
      if (!key || !expect(":")) return nullptr;
      ExprPtr value = parseExpr();
      if (!value) return nullptr;
      entries.push_back(std::move(key));
      entries.push_back(std::move(value));
      if (!isPunct("}") && !expect(",")) return nullptr;
    }
    return node(Expr::Kind::kMap, offset, std::move(entries));
  }

  ExprPtr parseIdent(const Token& tok) {
    if (tok.text == "true" || tok.text == "false") {
      return literal(Value::ofBool(tok.text == "true"), tok.offset);
    }
    if (tok.text == "null") return literal(Value(), tok.offset);
    if (std::find(std::begin(kReserved), std::end(kReserved), tok.text) != std::end(kReserved)) {
      return fail("reserved word '" + tok.text + "'", tok.offset);
    }
    if (accept("(")) {
      std::vector<ExprPtr> args;
      if (!parseArgs(args, ")", false)) return nullptr;
      if (tok.text != "has") return call(tok, std::move(args), /*method=*/false);
      if (args.size() != 1 || args[0]->kind != Expr::Kind::kSelect) {
        return fail("has() needs a field selection such as has(self.field)", tok.offset);
      }
      args[0]->kind = Expr::Kind::kHas;
      return std::move(args[0]);
    }
    if (isPunct("{")) return fail("message construction is not supported", tok.offset);
    ExprPtr e = node(Expr::Kind::kVar, tok.offset);
    for (size_t i = scopes_.size(); i > 0; --i) {
      if (scopes_[i - 1] == tok.text) {
        e->slot = static_cast<int>(i);
        return e;
      }
    }
    if (tok.text != "self") return fail("undeclared reference to '" + tok.text + "'", tok.offset);
    return e;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::string error_;
  std::vector<std::string> scopes_;  // macro variables, innermost last
  int max_slots_ = 1;
  int depth_ = 0;
};

}  // namespace

common::Result<ParsedExpr, std::string> parse(std::string_view source) {
  auto tokens = Lexer(source).run();
  if (!tokens) return common::unexpected(tokens.error());
  return Parser(std::move(*tokens)).run();
}

}  // namespace halyard::config::cel
