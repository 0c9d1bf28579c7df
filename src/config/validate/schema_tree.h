// The CRD schemas compiled into a tree the validator walks without allocating: properties sorted
// for binary search, patterns as RE2, CEL rules compiled once. Built on first use from the JSON
// embedded by tools/gen_crd_schemas.py; immutable (and so shareable between threads) afterwards.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/validate/cel.h"
#include "config/validate/schema_table.h"

namespace halyard::config::schema {

enum class SchemaType : uint8_t { kAny, kObject, kArray, kString, kInteger, kNumber, kBoolean };
enum class Format : uint8_t { kNone, kInt32, kInt64, kUint32, kUint64, kByte };
enum class ListType : uint8_t { kAtomic, kSet, kMap };

const char* toString(SchemaType type);

struct CelRule {
  std::string rule;
  std::string message;  // the CRD's message; empty when it gives none
  std::shared_ptr<const cel::Program> program;  // null when the rule did not compile
};

struct SchemaNode {
  SchemaType type = SchemaType::kAny;
  bool nullable = false;
  bool int_or_string = false;     // x-kubernetes-int-or-string
  bool preserve_unknown = false;  // x-kubernetes-preserve-unknown-fields
  Format format = Format::kNone;
  ListType list_type = ListType::kAtomic;

  std::vector<std::pair<std::string, const SchemaNode*>> properties;  // sorted by name
  const SchemaNode* additional = nullptr;  // additionalProperties: the schema of map values
  const SchemaNode* items = nullptr;
  std::vector<std::string> required;
  std::vector<std::string> list_map_keys;  // x-kubernetes-list-map-keys

  std::vector<std::string> enum_strings;  // enum values that are strings
  std::vector<std::string> enum_json;     // other enum values, as compact JSON
  bool has_enum = false;

  std::optional<double> minimum;
  std::optional<double> maximum;
  bool exclusive_minimum = false;
  bool exclusive_maximum = false;
  std::optional<uint64_t> min_length, max_length;  // in characters (code points)
  std::optional<uint64_t> min_items, max_items;
  std::optional<uint64_t> min_properties, max_properties;
  std::unique_ptr<RE2> pattern;

  std::vector<CelRule> rules;  // x-kubernetes-validations

  std::vector<const SchemaNode*> all_of, any_of, one_of;
  const SchemaNode* not_ = nullptr;
  // A oneOf of the shape Istio generates for protobuf oneofs (none or exactly one of these fields
  // set) is recognised and checked directly, so the message can name the fields.
  std::vector<std::string> exclusive_fields;

  const SchemaNode* property(std::string_view name) const;
};

struct CrdKind {
  std::string group;
  std::string kind;
  std::string plural;
  std::vector<std::pair<std::string, const SchemaNode*>> versions;  // served versions, CRD order

  const SchemaNode* version(std::string_view name) const;
};

class SchemaRegistry {
 public:
  // The registry of every embedded CRD, compiled on first call (thread-safe).
  static const SchemaRegistry& get();
  // Compiles a table of CRD schemas (the embedded one, or a test's own).
  explicit SchemaRegistry(std::span<const CrdSchemaEntry> table);
  SchemaRegistry(const SchemaRegistry&) = delete;
  SchemaRegistry& operator=(const SchemaRegistry&) = delete;

  const CrdKind* find(std::string_view group, std::string_view kind) const;
  bool hasGroup(std::string_view group) const;
  const std::vector<CrdKind>& kinds() const { return kinds_; }
  // Rules that did not compile ("<kind>: <rule>: <compile error>"), deduplicated and sorted.
  const std::vector<std::string>& unenforcedRules() const { return unenforced_; }

 private:
  friend class SchemaCompiler;

  std::deque<SchemaNode> arena_;  // a deque keeps node addresses stable as it grows
  std::vector<CrdKind> kinds_;
  std::vector<std::string> unenforced_;
};

}  // namespace halyard::config::schema
