#include "config/validate/cel.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "config/validate/cel_ast.h"
#include "config/validate/cel_duration.h"
#include "config/validate/cel_parser.h"
#include "config/validate/cel_url.h"
#include "config/validate/cel_value.h"

namespace halyard::config::cel {

class Program {
 public:
  explicit Program(ParsedExpr parsed) : parsed_(std::move(parsed)) {}
  const Expr& root() const { return *parsed_.root; }
  int slots() const { return parsed_.slots; }

 private:
  ParsedExpr parsed_;
};

namespace {

using Kind = Value::Kind;

const char* opName(Op op) {
  switch (op) {
    case Op::kNot:
      return "!";
    case Op::kNeg:
      return "-";
    case Op::kEq:
      return "==";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kIn:
      return "in";
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
  }
  return "?";
}

Value noOverload(std::string_view name, const std::vector<Value>& args) {
  std::string types;
  for (const Value& a : args) types += (types.empty() ? "" : ", ") + std::string(typeName(a));
  return Value::error("no matching overload for '" + std::string(name) + "' applied to (" + types +
                      ")");
}

// CEL strings count and index Unicode code points, not bytes.
size_t codePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The byte offset of code point `index` (s.size() for the end).
size_t byteOffset(std::string_view s, size_t index) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == index) return i;
  }
  return s.size();
}

std::string mapAscii(std::string s, char from, char to) {
  for (char& c : s) {
    if (c >= from && c <= from + 25) c = static_cast<char>(c - from + to);
  }
  return s;
}

// Go's %g, which cel-go's string(double) prints: shortest digits, exponent form below 1e-4 and
// from 1e6 up.
std::string formatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view text(buf, static_cast<size_t>(sci.ptr - buf));
  int exponent = 0;
  std::string_view digits = text.substr(text.find('e') + 1);
  if (digits.front() == '+') digits.remove_prefix(1);
  std::from_chars(digits.data(), digits.data() + digits.size(), exponent);
  if (exponent < -4 || exponent >= 6) return std::string(text);
  auto fixed = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// strconv.ParseInt / ParseFloat accept a leading '+', std::from_chars does not.
std::string_view withoutPlus(std::string_view s) {
  return s.size() > 1 && s[0] == '+' && s[1] != '-' ? s.substr(1) : s;
}

Value toInt(const Value& x) {
  if (x.is(Kind::kInt)) return x;
  if (x.is(Kind::kDouble)) {
    if (!(x.d >= -0x1p63 && x.d < 0x1p63)) return Value::error("int() range error");  // and NaN
    return Value::ofInt(static_cast<int64_t>(x.d));
  }
  std::string_view s = withoutPlus(x.s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Value::error("cannot convert '" + x.s + "' to int");
  }
  return Value::ofInt(v);
}

Value toDouble(const Value& x) {
  if (x.is(Kind::kDouble)) return x;
  if (x.is(Kind::kInt)) return Value::ofDouble(static_cast<double>(x.i));
  std::string_view s = withoutPlus(x.s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Value::error("cannot convert '" + x.s + "' to double");
  }
  return Value::ofDouble(v);
}

Value substring(const std::vector<Value>& args) {
  const std::string& s = args[0].s;
  auto length = static_cast<int64_t>(codePoints(s));
  int64_t start = args[1].i;
  int64_t end = args.size() > 2 ? args[2].i : length;
  if (start < 0 || start > length)
    return Value::error("index out of range: " + std::to_string(start));
  if (end < 0 || end > length) return Value::error("index out of range: " + std::to_string(end));
  if (start > end) {
    return Value::error("invalid substring range. start: " + std::to_string(start) +
                        ", end: " + std::to_string(end));
  }
  size_t from = byteOffset(s, static_cast<size_t>(start));
  size_t to = byteOffset(s, static_cast<size_t>(end));
  return Value::ofString(s.substr(from, to - from));
}

Value arithmetic(Op op, const Value& l, const Value& r) {
  if (l.is(Kind::kInt) && r.is(Kind::kInt)) {
    int64_t out = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(l.i, r.i, &out);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(l.i, r.i, &out);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(l.i, r.i, &out);
        break;
      case Op::kDiv:
      case Op::kMod:
        if (r.i == 0) return Value::error(op == Op::kDiv ? "division by zero" : "modulus by zero");
        overflow = l.i == INT64_MIN && r.i == -1;
        if (!overflow) out = op == Op::kDiv ? l.i / r.i : l.i % r.i;
        break;
      default:
        break;
    }
    if (overflow) return Value::error("integer overflow");
    return Value::ofInt(out);
  }
  if (l.is(Kind::kDouble) && r.is(Kind::kDouble) && op != Op::kMod) {
    switch (op) {
      case Op::kAdd:
        return Value::ofDouble(l.d + r.d);
      case Op::kSub:
        return Value::ofDouble(l.d - r.d);
      case Op::kMul:
        return Value::ofDouble(l.d * r.d);
      default:
        return Value::ofDouble(l.d / r.d);
    }
  }
  if (l.is(Kind::kDuration) && r.is(Kind::kDuration) && (op == Op::kAdd || op == Op::kSub)) {
    int64_t out = 0;
    bool overflow = op == Op::kAdd ? __builtin_add_overflow(l.i, r.i, &out)
                                   : __builtin_sub_overflow(l.i, r.i, &out);
    if (overflow) return Value::error("duration overflow");
    return Value::ofDuration(out);
  }
  if (op == Op::kAdd && l.is(Kind::kString) && r.is(Kind::kString))
    return Value::ofString(l.s + r.s);
  if (op == Op::kAdd && l.is(Kind::kList) && r.is(Kind::kList)) {
    Value::List items;
    for (const Value* side : {&l, &r}) {
      for (size_t i = 0; i < size(*side); ++i) items.push_back(listAt(*side, i));
    }
    return Value::ofList(std::move(items));
  }
  return noOverload(opName(op), {l, r});
}

Value binary(Op op, const Value& l, const Value& r) {
  switch (op) {
    case Op::kEq:
      return Value::ofBool(equals(l, r));
    case Op::kNe:
      return Value::ofBool(!equals(l, r));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      auto order = compare(l, r);
      if (!order) return noOverload(opName(op), {l, r});
      switch (op) {
        case Op::kLt:
          return Value::ofBool(*order < 0);
        case Op::kLe:
          return Value::ofBool(*order <= 0);
        case Op::kGt:
          return Value::ofBool(*order > 0);
        default:
          return Value::ofBool(*order >= 0);
      }
    }
    case Op::kIn:
      if (r.is(Kind::kMap)) return Value::ofBool(mapFind(r, l).has_value());
      if (!r.is(Kind::kList)) return noOverload("in", {l, r});
      for (size_t i = 0; i < size(r); ++i) {
        if (equals(l, listAt(r, i))) return Value::ofBool(true);
      }
      return Value::ofBool(false);
    default:
      return arithmetic(op, l, r);
  }
}

class Evaluator {
 public:
  Evaluator(int slots, Value self) : vars_(static_cast<size_t>(slots)) {
    vars_[0] = std::move(self);
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kVar:
        return vars_[static_cast<size_t>(e.slot)];
      case Expr::Kind::kSelect:
      case Expr::Kind::kHas:
        return select(e);
      case Expr::Kind::kIndex:
        return index(e);
      case Expr::Kind::kCall:
        return call(e);
      case Expr::Kind::kList: {
        Value::List items;
        for (const auto& a : e.args) {
          Value v = eval(*a);
          if (v.isError()) return v;
          items.push_back(std::move(v));
        }
        return Value::ofList(std::move(items));
      }
      case Expr::Kind::kMap:
        return mapLiteral(e);
      case Expr::Kind::kUnary:
        return unary(e);
      case Expr::Kind::kBinary: {
        Value l = eval(*e.args[0]);
        if (l.isError()) return l;
        Value r = eval(*e.args[1]);
        if (r.isError()) return r;
        return binary(e.op, l, r);
      }
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
        return logical(e);
      case Expr::Kind::kCond: {
        Value c = eval(*e.args[0]);
        if (c.isError()) return c;
        if (!c.is(Kind::kBool)) return noOverload("_?_:_", {c});
        return eval(*e.args[c.b ? 1 : 2]);
      }
      case Expr::Kind::kLoop:
        return loop(e);
    }
    return Value::error("unknown expression");
  }

 private:
  Value select(const Expr& e) {
    Value target = eval(*e.args[0]);
    if (target.isError()) return target;
    if (!target.is(Kind::kMap)) {
      return Value::error("type '" + std::string(typeName(target)) + "' has no field '" + e.name +
                          "'");
    }
    auto v = mapFind(target, Value::ofString(e.name));
    if (e.kind == Expr::Kind::kHas) return Value::ofBool(v.has_value());
    if (!v) return Value::error("no such key: " + e.name);
    return std::move(*v);
  }

  Value index(const Expr& e) {
    Value target = eval(*e.args[0]);
    if (target.isError()) return target;
    Value key = eval(*e.args[1]);
    if (key.isError()) return key;
    if (target.is(Kind::kList) && key.is(Kind::kInt)) {
      if (key.i < 0 || static_cast<uint64_t>(key.i) >= size(target)) {
        return Value::error("index out of range: " + std::to_string(key.i));
      }
      return listAt(target, static_cast<size_t>(key.i));
    }
    if (!target.is(Kind::kMap)) return noOverload("_[_]", {target, key});
    auto v = mapFind(target, key);
    if (!v) {
      return Value::error("no such key: " + (key.is(Kind::kString) ? key.s
                                             : key.is(Kind::kInt)  ? std::to_string(key.i)
                                                                   : std::string(typeName(key))));
    }
    return std::move(*v);
  }

  Value mapLiteral(const Expr& e) {
    Value::Map entries;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      Value k = eval(*e.args[i]);
      if (k.isError()) return k;
      Value v = eval(*e.args[i + 1]);
      if (v.isError()) return v;
      if (!k.is(Kind::kString) && !k.is(Kind::kInt) && !k.is(Kind::kBool)) {
        return Value::error("unsupported map key type: " + std::string(typeName(k)));
      }
      for (const auto& entry : entries) {
        if (equals(entry.first, k)) return Value::error("repeated key in map literal");
      }
      entries.emplace_back(std::move(k), std::move(v));
    }
    return Value::ofMap(std::move(entries));
  }

  Value unary(const Expr& e) {
    Value v = eval(*e.args[0]);
    if (v.isError()) return v;
    if (e.op == Op::kNot && v.is(Kind::kBool)) return Value::ofBool(!v.b);
    if (e.op == Op::kNeg) {
      if (v.is(Kind::kDouble)) return Value::ofDouble(-v.d);
      if ((v.is(Kind::kInt) || v.is(Kind::kDuration)) && v.i == INT64_MIN) {
        return Value::error("integer overflow");
      }
      if (v.is(Kind::kInt)) return Value::ofInt(-v.i);
      if (v.is(Kind::kDuration)) return Value::ofDuration(-v.i);
    }
    return noOverload(opName(e.op), {v});
  }

  // CEL's commutative && and ||: a side that decides the result (false for &&, true for ||)
  // wins even when the other side is an error or not a bool.
  Value logical(const Expr& e) {
    bool is_and = e.kind == Expr::Kind::kAnd;
    Value l = eval(*e.args[0]);
    if (l.is(Kind::kBool) && l.b != is_and) return l;
    Value r = eval(*e.args[1]);
    if (r.is(Kind::kBool) && r.b != is_and) return r;
    for (const Value* side : {&l, &r}) {
      if (side->isError()) return *side;
      if (!side->is(Kind::kBool)) return noOverload(is_and ? "&&" : "||", {l, r});
    }
    return Value::ofBool(is_and);
  }

  // all/exists absorb an error when another element decides the result; exists_one does not.
  // Over a map they range over its keys.
  Value loop(const Expr& e) {
    Value range = eval(*e.args[0]);
    if (range.isError()) return range;
    bool over_map = range.is(Kind::kMap);
    if (!over_map && !range.is(Kind::kList)) {
      return Value::error(e.name + "() cannot range over " + typeName(range));
    }
    Value first_error;
    int64_t matches = 0;
    Value& var = vars_[static_cast<size_t>(e.slot)];
    for (size_t i = 0; i < size(range); ++i) {
      var = over_map ? mapKeyAt(range, i) : listAt(range, i);
      if (var.isError()) return var;
      Value p = eval(*e.args[1]);
      if (!p.isError() && !p.is(Kind::kBool)) {
        p = Value::error("the predicate of " + e.name + "() returned " + typeName(p) +
                         ", not bool");
      }
      if (p.isError()) {
        if (e.macro == Macro::kExistsOne) return p;
        if (!first_error.isError()) first_error = std::move(p);
        continue;
      }
      if (e.macro == Macro::kAll && !p.b) return p;
      if (e.macro == Macro::kExists && p.b) return p;
      matches += p.b;
    }
    if (first_error.isError()) return first_error;
    switch (e.macro) {
      case Macro::kAll:
        return Value::ofBool(true);
      case Macro::kExists:
        return Value::ofBool(false);
      case Macro::kExistsOne:
        return Value::ofBool(matches == 1);
    }
    return Value::ofBool(false);
  }

  Value call(const Expr& e) {
    std::vector<Value> args;
    args.reserve(e.args.size());
    for (const auto& a : e.args) {
      Value v = eval(*a);
      if (v.isError()) return v;
      args.push_back(std::move(v));
    }
    const Value& x = args[0];
    auto allOf = [&](Kind k0, Kind k1 = Kind::kString, Kind k2 = Kind::kInt) {
      Kind kinds[] = {k0, k1, k2};
      for (size_t i = 0; i < args.size(); ++i) {
        if (!args[i].is(kinds[i])) return false;
      }
      return true;
    };
    switch (e.fn) {
      case Fn::kSize:
        if (x.is(Kind::kString)) return Value::ofInt(static_cast<int64_t>(codePoints(x.s)));
        if (x.is(Kind::kList) || x.is(Kind::kMap))
          return Value::ofInt(static_cast<int64_t>(size(x)));
        break;
      case Fn::kInt:
        if (x.is(Kind::kInt) || x.is(Kind::kDouble) || x.is(Kind::kString)) return toInt(x);
        break;
      case Fn::kDouble:
        if (x.is(Kind::kInt) || x.is(Kind::kDouble) || x.is(Kind::kString)) return toDouble(x);
        break;
      case Fn::kString:
        if (x.is(Kind::kString)) return x;
        if (x.is(Kind::kInt)) return Value::ofString(std::to_string(x.i));
        if (x.is(Kind::kDouble)) return Value::ofString(formatDouble(x.d));
        if (x.is(Kind::kBool)) return Value::ofString(x.b ? "true" : "false");
        if (x.is(Kind::kDuration)) return Value::ofString(formatDuration(x.i));
        break;
      case Fn::kDuration:
        if (x.is(Kind::kDuration)) return x;
        if (x.is(Kind::kString)) {
          if (auto nanos = parseDuration(x.s)) return Value::ofDuration(*nanos);
          return Value::error("invalid duration '" + x.s + "'");
        }
        break;
      case Fn::kUrl:
      case Fn::kIsUrl:
        if (x.is(Kind::kString)) {
          auto url = parseRequestUri(x.s);
          if (e.fn == Fn::kIsUrl) return Value::ofBool(url.ok());
          if (!url)
            return Value::error("URL parse error during conversion from string: " + url.error());
          return Value::ofUrl(std::move(*url));
        }
        break;
      case Fn::kContains:
        if (allOf(Kind::kString)) return Value::ofBool(x.s.find(args[1].s) != std::string::npos);
        break;
      case Fn::kStartsWith:
        if (allOf(Kind::kString)) return Value::ofBool(x.s.starts_with(args[1].s));
        break;
      case Fn::kEndsWith:
        if (allOf(Kind::kString)) return Value::ofBool(x.s.ends_with(args[1].s));
        break;
      case Fn::kMatches:
        if (allOf(Kind::kString)) return matches(e, x.s, args[1].s);
        break;
      case Fn::kSubstring:
        if (allOf(Kind::kString, Kind::kInt, Kind::kInt)) return substring(args);
        break;
      case Fn::kLowerAscii:
        if (x.is(Kind::kString)) return Value::ofString(mapAscii(x.s, 'A', 'a'));
        break;
      case Fn::kUpperAscii:
        if (x.is(Kind::kString)) return Value::ofString(mapAscii(x.s, 'a', 'A'));
        break;
      case Fn::kGetScheme:
      case Fn::kGetHost:
      case Fn::kGetHostname:
      case Fn::kGetPort:
        if (!x.is(Kind::kUrl)) break;
        if (e.fn == Fn::kGetScheme) return Value::ofString(x.url->scheme);
        if (e.fn == Fn::kGetHost) return Value::ofString(x.url->host);
        return Value::ofString(
            std::string(e.fn == Fn::kGetHostname ? urlHostname(*x.url) : urlPort(*x.url)));
    }
    return noOverload(e.name, args);
  }

  // Literal patterns were compiled with the program; others are compiled here, per call.
  static Value matches(const Expr& e, const std::string& text, const std::string& pattern) {
    std::shared_ptr<const RE2> re = e.regex;
    if (!re) {
      RE2::Options options;
      options.set_log_errors(false);
      re = std::make_shared<const RE2>(pattern, options);
      if (!re->ok()) return Value::error("invalid regular expression: " + re->error());
    }
    return Value::ofBool(RE2::PartialMatch(text, *re));
  }

  std::vector<Value> vars_;  // slot 0 is `self`, then one per nested macro
};

}  // namespace

common::Result<std::shared_ptr<const Program>, std::string> compile(std::string_view expression) {
  auto parsed = parse(expression);
  if (!parsed) return common::unexpected(parsed.error());
  return std::shared_ptr<const Program>(std::make_shared<Program>(std::move(*parsed)));
}

common::Result<bool, std::string> evaluate(const Program& program, const Node& self_node) {
  Evaluator evaluator(program.slots(), Value::fromNode(self_node));
  Value result = evaluator.eval(program.root());
  if (result.isError()) return common::unexpected(std::move(result.s));
  if (!result.is(Kind::kBool)) {
    return common::unexpected("the rule evaluated to " + std::string(typeName(result)) +
                              ", not bool");
  }
  return result.b;
}

}  // namespace halyard::config::cel
