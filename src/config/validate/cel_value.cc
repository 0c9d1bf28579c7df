#include "config/validate/cel_value.h"

namespace halyard::config::cel {

Value Value::error(std::string message) {
  Value v;
  v.kind = Kind::kError;
  v.s = std::move(message);
  return v;
}

Value Value::ofBool(bool x) {
  Value v;
  v.kind = Kind::kBool;
  v.b = x;
  return v;
}

Value Value::ofInt(int64_t x) {
  Value v;
  v.kind = Kind::kInt;
  v.i = x;
  return v;
}

Value Value::ofDouble(double x) {
  Value v;
  v.kind = Kind::kDouble;
  v.d = x;
  return v;
}

Value Value::ofString(std::string x) {
  Value v;
  v.kind = Kind::kString;
  v.s = std::move(x);
  return v;
}

Value Value::ofDuration(int64_t nanos) {
  Value v;
  v.kind = Kind::kDuration;
  v.i = nanos;
  return v;
}

Value Value::ofUrl(Url x) {
  Value v;
  v.kind = Kind::kUrl;
  v.url = std::make_shared<const Url>(std::move(x));
  return v;
}

Value Value::ofList(List x) {
  Value v;
  v.kind = Kind::kList;
  v.list = std::make_shared<const List>(std::move(x));
  return v;
}

Value Value::ofMap(Map x) {
  Value v;
  v.kind = Kind::kMap;
  v.map = std::make_shared<const Map>(std::move(x));
  return v;
}

Value Value::fromNode(const Node& n) {
  switch (n.type) {
    case NodeType::kNull:
      return Value();
    case NodeType::kBool:
      return ofBool(n.asBool().value_or(false));
    case NodeType::kInt:
      if (auto x = n.asInt()) return ofInt(*x);
      return error("integer out of range: " + n.text);
    case NodeType::kDouble:
      if (auto x = n.asDouble()) return ofDouble(*x);
      return error("invalid number: " + n.text);
    case NodeType::kString:
      return ofString(n.text);
    case NodeType::kList:
    case NodeType::kMap: {
      Value v;
      v.kind = n.type == NodeType::kList ? Kind::kList : Kind::kMap;
      v.node = &n;
      return v;
    }
  }
  return Value();
}

const char* typeName(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kError:
      return "error";
    case Value::Kind::kNull:
      return "null_type";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kDouble:
      return "double";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kDuration:
      return "google.protobuf.Duration";
    case Value::Kind::kUrl:
      return "kubernetes.URL";
    case Value::Kind::kList:
      return "list";
    case Value::Kind::kMap:
      return "map";
  }
  return "error";
}

size_t size(const Value& c) {
  if (c.node) return c.is(Value::Kind::kList) ? c.node->items.size() : c.node->fields.size();
  if (c.list) return c.list->size();
  return c.map ? c.map->size() : 0;
}

Value listAt(const Value& list, size_t index) {
  return list.node ? Value::fromNode(list.node->items[index]) : (*list.list)[index];
}

Value mapKeyAt(const Value& map, size_t index) {
  return map.node ? Value::ofString(map.node->fields[index].key) : (*map.map)[index].first;
}

Value mapValueAt(const Value& map, size_t index) {
  return map.node ? Value::fromNode(map.node->fields[index].value) : (*map.map)[index].second;
}

std::optional<Value> mapFind(const Value& map, const Value& key) {
  if (map.node) {
    if (!key.is(Value::Kind::kString)) return std::nullopt;  // document maps have string keys
    const Node* found = map.node->get(key.s);
    if (!found) return std::nullopt;
    return Value::fromNode(*found);
  }
  for (const auto& [k, v] : *map.map) {
    if (equals(k, key)) return v;
  }
  return std::nullopt;
}

namespace {

bool isNumber(const Value& v) {
  return v.is(Value::Kind::kInt) || v.is(Value::Kind::kDouble);
}

double asDouble(const Value& v) {
  return v.is(Value::Kind::kInt) ? static_cast<double>(v.i) : v.d;
}

}  // namespace

std::optional<std::partial_ordering> compare(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (isNumber(a) && isNumber(b)) {
    if (a.is(Kind::kInt) && b.is(Kind::kInt)) return a.i <=> b.i;
    return asDouble(a) <=> asDouble(b);
  }
  if (a.kind != b.kind) return std::nullopt;
  switch (a.kind) {
    case Kind::kBool:
      return a.b <=> b.b;
    case Kind::kString:
      return a.s.compare(b.s) <=> 0;  // bytewise, which orders code points
    case Kind::kDuration:
      return a.i <=> b.i;
    default:
      return std::nullopt;
  }
}

bool equals(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (isNumber(a) && isNumber(b)) return compare(a, b) == std::partial_ordering::equivalent;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kError:
    case Kind::kUrl:
      return false;  // the Kubernetes URL type defines no equality
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.b == b.b;
    case Kind::kString:
      return a.s == b.s;
    case Kind::kDuration:
      return a.i == b.i;
    case Kind::kList: {
      size_t n = size(a);
      if (n != size(b)) return false;
      for (size_t i = 0; i < n; ++i) {
        if (!equals(listAt(a, i), listAt(b, i))) return false;
      }
      return true;
    }
    case Kind::kMap: {
      size_t n = size(a);
      if (n != size(b)) return false;
      for (size_t i = 0; i < n; ++i) {
        auto other = mapFind(b, mapKeyAt(a, i));
        if (!other || !equals(mapValueAt(a, i), *other)) return false;
      }
      return true;
    }
    case Kind::kDouble:
    case Kind::kInt:
      break;  // handled above
  }
  return false;
}

}  // namespace halyard::config::cel
