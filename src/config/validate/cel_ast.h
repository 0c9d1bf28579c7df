// The syntax tree of a compiled CEL expression. Names are resolved while parsing (functions to
// Fn, variables to slots, literal regexes compiled), so evaluation never looks at source text.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "config/validate/cel_value.h"

namespace re2 {
class RE2;
}

namespace halyard::config::cel {

enum class Op { kNot, kNeg, kEq, kNe, kLt, kLe, kGt, kGe, kIn, kAdd, kSub, kMul, kDiv, kMod };

// Functions and methods. A method's receiver is its first argument.
enum class Fn {
  kSize,
  kInt,
  kDouble,
  kString,
  kDuration,
  kUrl,
  kIsUrl,
  kContains,
  kStartsWith,
  kEndsWith,
  kMatches,
  kSubstring,
  kLowerAscii,
  kUpperAscii,
  kGetScheme,
  kGetHost,
  kGetHostname,
  kGetPort,
};

enum class Macro { kAll, kExists, kExistsOne };

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kVar,      // slot: 0 is `self`, n is the variable of the n-th enclosing macro
    kSelect,   // args[0].name
    kHas,      // has(args[0].name)
    kIndex,    // args[0][args[1]]
    kCall,     // fn(args...), named name
    kList,     // [args...]
    kMap,      // {args[0]: args[1], args[2]: args[3], ...}
    kUnary,    // op args[0]
    kBinary,   // args[0] op args[1]
    kAnd,      // args[0] && args[1]
    kOr,       // args[0] || args[1]
    kCond,     // args[0] ? args[1] : args[2]
    kLoop,     // args[0].macro(var in slot, args[1])
  };

  Kind kind = Kind::kLiteral;
  size_t offset = 0;  // in the source, for messages
  int height = 1;     // of this subtree, to bound the evaluator's recursion
  Value literal;
  std::string name;
  int slot = 0;
  Op op = Op::kNot;
  Fn fn = Fn::kSize;
  Macro macro = Macro::kAll;
  std::shared_ptr<const re2::RE2> regex;  // kCall of matches() with a literal pattern
  std::vector<std::unique_ptr<Expr>> args;
};

using ExprPtr = std::unique_ptr<Expr>;

}  // namespace halyard::config::cel
