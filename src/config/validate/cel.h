// The subset of CEL (Common Expression Language) that Istio's CRDs use in their
// x-kubernetes-validations rules, evaluated over config::Node with `self` bound to the node the
// rule is attached to. Compiled once per rule; evaluation never throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/model/node.h"

namespace halyard::config::cel {

class Program;  // an opaque compiled expression

// Parses a rule. Fails with a message naming the unsupported construct and its offset.
common::Result<std::shared_ptr<const Program>, std::string> compile(std::string_view expression);

// Evaluates a compiled rule with `self` bound to `self_node`. A rule that does not evaluate to a
// boolean, or fails at run time (e.g. a missing field without has()), returns the error message.
common::Result<bool, std::string> evaluate(const Program& program, const Node& self_node);

}  // namespace halyard::config::cel
