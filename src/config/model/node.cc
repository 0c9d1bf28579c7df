#include "config/model/node.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/json_string.h"

namespace halyard::config {

const char* toString(NodeType type) {
  switch (type) {
    case NodeType::kNull:
      return "null";
    case NodeType::kBool:
      return "boolean";
    case NodeType::kInt:
      return "integer";
    case NodeType::kDouble:
      return "number";
    case NodeType::kString:
      return "string";
    case NodeType::kList:
      return "array";
    case NodeType::kMap:
      return "object";
  }
  return "null";
}

const MapEntry* Node::entry(std::string_view key) const {
  if (type != NodeType::kMap) return nullptr;
  for (const auto& e : fields) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const Node* Node::get(std::string_view key) const {
  const MapEntry* e = entry(key);
  return e ? &e->value : nullptr;
}

Node* Node::get(std::string_view key) {
  return const_cast<Node*>(static_cast<const Node*>(this)->get(key));
}

bool Node::erase(std::string_view key) {
  if (type != NodeType::kMap) return false;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it->key == key) {
      fields.erase(it);
      return true;
    }
  }
  return false;
}

std::optional<int64_t> Node::asInt() const {
  if (type == NodeType::kInt) {
    int64_t v = 0;
    std::string_view t = text;
    if (!t.empty() && t.front() == '+') t.remove_prefix(1);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec == std::errc() && p == t.data() + t.size()) return v;
    // Hex and octal forms of YAML's core schema.
    if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o')) {
      int base = t[1] == 'x' ? 16 : 8;
      auto [p2, ec2] = std::from_chars(t.data() + 2, t.data() + t.size(), v, base);
      if (ec2 == std::errc() && p2 == t.data() + t.size()) return v;
    }
    return std::nullopt;
  }
  if (type == NodeType::kDouble) {
    auto d = asDouble();
    if (d && std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9.2e18) {
      return static_cast<int64_t>(*d);
    }
  }
  return std::nullopt;
}

std::optional<double> Node::asDouble() const {
  if (type != NodeType::kInt && type != NodeType::kDouble) return std::nullopt;
  if (type == NodeType::kInt) {
    if (auto i = asInt()) return static_cast<double>(*i);
    return std::nullopt;
  }
  std::string t = text;
  if (t == ".inf" || t == ".Inf" || t == ".INF" || t == "+.inf") return HUGE_VAL;
  if (t == "-.inf" || t == "-.Inf" || t == "-.INF") return -HUGE_VAL;
  if (t == ".nan" || t == ".NaN" || t == ".NAN") return NAN;
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc() && p == t.data() + t.size()) return v;
  return std::nullopt;
}

std::optional<bool> Node::asBool() const {
  if (type != NodeType::kBool) return std::nullopt;
  return text == "true" || text == "True" || text == "TRUE";
}

std::optional<std::string_view> Node::asText() const {
  if (!isScalar()) return std::nullopt;
  return std::string_view(text);
}

std::string_view Node::str(std::string_view fallback) const {
  return type == NodeType::kString ? std::string_view(text) : fallback;
}

namespace {

using common::appendJsonString;

void appendJson(std::string& out, const Node& n) {
  switch (n.type) {
    case NodeType::kNull:
      out += "null";
      return;
    case NodeType::kBool:
      out += n.asBool().value_or(false) ? "true" : "false";
      return;
    case NodeType::kInt:
      if (auto i = n.asInt()) {
        out += std::to_string(*i);
      } else {
        appendJsonString(out, n.text);
      }
      return;
    case NodeType::kDouble: {
      auto d = n.asDouble();
      if (d && std::isfinite(*d)) {
        out += n.text;
      } else {
        appendJsonString(out, n.text);
      }
      return;
    }
    case NodeType::kString:
      appendJsonString(out, n.text);
      return;
    case NodeType::kList:
      out.push_back('[');
      for (size_t i = 0; i < n.items.size(); ++i) {
        if (i) out.push_back(',');
        appendJson(out, n.items[i]);
      }
      out.push_back(']');
      return;
    case NodeType::kMap:
      out.push_back('{');
      for (size_t i = 0; i < n.fields.size(); ++i) {
        if (i) out.push_back(',');
        appendJsonString(out, n.fields[i].key);
        out.push_back(':');
        appendJson(out, n.fields[i].value);
      }
      out.push_back('}');
      return;
  }
}

}  // namespace

std::string Node::toJson() const {
  std::string out;
  appendJson(out, *this);
  return out;
}

Node Node::makeString(std::string s, int line) {
  Node n;
  n.type = NodeType::kString;
  n.text = std::move(s);
  n.line = line;
  return n;
}

Node Node::makeMap(int line) {
  Node n;
  n.type = NodeType::kMap;
  n.line = line;
  return n;
}

}  // namespace halyard::config
