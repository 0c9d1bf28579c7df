// The run-time values of the CEL evaluator. Lists and maps of the document being validated are
// borrowed (a Node pointer), never copied; list and map literals own their elements. Errors are
// values too, so `&&`, `||` and the all/exists macros can absorb them as CEL requires.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model/node.h"
#include "config/validate/cel_url.h"

namespace halyard::config::cel {

struct Value {
  enum class Kind { kError, kNull, kBool, kInt, kDouble, kString, kDuration, kUrl, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<Value, Value>>;

  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;  // kInt; kDuration in nanoseconds
  double d = 0;
  std::string s;               // kString; kError: the message
  const Node* node = nullptr;  // kList / kMap from the document (list / map are then null)
  std::shared_ptr<const List> list;
  std::shared_ptr<const Map> map;
  std::shared_ptr<const Url> url;

  bool is(Kind k) const { return kind == k; }
  bool isError() const { return kind == Kind::kError; }

  static Value error(std::string message);
  static Value ofBool(bool v);
  static Value ofInt(int64_t v);
  static Value ofDouble(double v);
  static Value ofString(std::string v);
  static Value ofDuration(int64_t nanos);
  static Value ofUrl(Url v);
  static Value ofList(List v);
  static Value ofMap(Map v);
  // Scalars are converted (an integer that does not fit 64 bits is an error); lists and maps are
  // borrowed, so `node` must outlive the value.
  static Value fromNode(const Node& node);
};

// CEL's type names: "int", "string", "list", "map", "google.protobuf.Duration", ...
const char* typeName(const Value& v);

// Lists and maps, whether borrowed or literal. The index must be below size().
size_t size(const Value& collection);
Value listAt(const Value& list, size_t index);
Value mapKeyAt(const Value& map, size_t index);
Value mapValueAt(const Value& map, size_t index);
std::optional<Value> mapFind(const Value& map, const Value& key);

// CEL's heterogeneous equality: values of different types are unequal, except that ints and
// doubles compare numerically.
bool equals(const Value& a, const Value& b);
// The order of two ints/doubles, strings, bools or durations; nullopt when they are not ordered
// against each other. NaN is unordered.
std::optional<std::partial_ordering> compare(const Value& a, const Value& b);

}  // namespace halyard::config::cel
