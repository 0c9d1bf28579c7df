// A recursive-descent parser for the CEL subset Istio's CRD rules use (see cel.h). Grammar, from
// lowest to highest precedence:
//   expr     = or ["?" or ":" expr]
//   or       = and {"||" and}          and = relation {"&&" relation}
//   relation = sum {("<"|"<="|">"|">="|"=="|"!="|"in") sum}
//   sum      = product {("+"|"-") product}     product = unary {("*"|"/"|"%") unary}
//   unary    = ("!"|"-") unary | member
//   member   = primary {"." IDENT ["(" [args] ")"] | "[" expr "]"}
//   primary  = IDENT ["(" [args] ")"] | "(" expr ")" | "[" [args] [","] "]"
//            | "{" [expr ":" expr {"," expr ":" expr}] [","] "}" | literal
// Literals: ints (decimal, 0x hex), doubles, strings ('', "", triple-quoted, r-raw, with CEL's
// escapes), true, false, null. Macros: has(x.f), x.all(v, p), x.exists(v, p),
// x.exists_one(v, p). Not supported (a compile error names them): uint and bytes literals,
// message construction, other macros and functions, a leading '.'.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "config/validate/cel_ast.h"

namespace halyard::config::cel {

struct ParsedExpr {
  ExprPtr root;
  int slots = 1;  // variables the evaluator needs: `self` plus the deepest macro nesting
};

// The error names the problem and its offset in the source.
common::Result<ParsedExpr, std::string> parse(std::string_view source);

}  // namespace halyard::config::cel
