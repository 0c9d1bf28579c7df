// A parsed YAML/JSON value with the position it came from. Our own type: nothing past the loader
// sees the YAML library. Scalars keep the text as written plus the type YAML's core schema resolves
// it to (a quoted "80" is a string, a plain 80 an integer), so schema validation can tell them
// apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace halyard::config {

struct MapEntry;

enum class NodeType : uint8_t { kNull, kBool, kInt, kDouble, kString, kList, kMap };

const char* toString(NodeType type);  // "null", "boolean", "integer", "number", "string", ...

struct Node {
  NodeType type = NodeType::kNull;
  int line = 0;      // 1-based; 0 for nodes made in code (columns are not kept: lines are what
                     // diagnostics name, and every byte counts at tens of thousands of objects)
  std::string text;  // scalars: the value as text ("80", "true", "reviews")
  std::vector<Node> items;       // kList
  std::vector<MapEntry> fields;  // kMap, in document order

  bool isNull() const { return type == NodeType::kNull; }
  bool isMap() const { return type == NodeType::kMap; }
  bool isList() const { return type == NodeType::kList; }
  bool isScalar() const { return type != NodeType::kList && type != NodeType::kMap; }
  bool isString() const { return type == NodeType::kString; }
  bool isNumber() const { return type == NodeType::kInt || type == NodeType::kDouble; }

  // Map lookup; null when this is not a map or has no such key.
  const Node* get(std::string_view key) const;
  Node* get(std::string_view key);
  // The entry for key (its key position too); null when absent.
  const MapEntry* entry(std::string_view key) const;
  // Removes a key from a map; true when it was there.
  bool erase(std::string_view key);

  // Scalar conversions; nullopt when the node is not of a compatible type.
  std::optional<int64_t> asInt() const;    // kInt, or kDouble with an integral value
  std::optional<double> asDouble() const;  // kInt or kDouble
  std::optional<bool> asBool() const;      // kBool
  // The scalar text of any scalar ("" for null); nullopt for lists and maps.
  std::optional<std::string_view> asText() const;
  // Convenience: the string value when this is a kString scalar, else fallback.
  std::string_view str(std::string_view fallback = {}) const;

  // Compact JSON rendering (for -o json, messages and tests).
  std::string toJson() const;

  static Node makeString(std::string s, int line = 0);
  static Node makeMap(int line = 0);
};

struct MapEntry {
  std::string key;
  int line = 0;  // of the key
  Node value;
};

}  // namespace halyard::config
