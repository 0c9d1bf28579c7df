#include "config/validate/schema_tree.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>


namespace halyard::config::schema {

using Json = nlohmann::json;

const char* toString(SchemaType type) {
  switch (type) {
    case SchemaType::kAny: return "any value";
    case SchemaType::kObject: return "object";
    case SchemaType::kArray: return "array";
    case SchemaType::kString: return "string";
    case SchemaType::kInteger: return "integer";
    case SchemaType::kNumber: return "number";
    case SchemaType::kBoolean: return "boolean";
  }
  return "any value";
}

const SchemaNode* SchemaNode::property(std::string_view name) const {
  auto it = std::lower_bound(properties.begin(), properties.end(), name,
                             [](const auto& p, std::string_view n) { return p.first < n; });
  if (it == properties.end() || it->first != name) return nullptr;
  return it->second;
}

const SchemaNode* CrdKind::version(std::string_view name) const {
  for (const auto& [v, node] : versions) {
    if (v == name) return node;
  }
  return nullptr;
}

// Turns the embedded JSON into SchemaNodes inside a registry. Identical schema texts (the served
// versions of one CRD usually are) compile once; identical CEL rules compile once.
class SchemaCompiler {
 public:
  explicit SchemaCompiler(SchemaRegistry& reg) : reg_(reg) {}

  void addCrd(const CrdSchemaEntry& entry) {
    kind_ = std::string(entry.kind);
    CrdKind crd{std::string(entry.group), kind_, std::string(entry.plural), {}};
    for (const auto& v : entry.versions) {
      auto [it, fresh] = by_text_.try_emplace(v.schema_json, nullptr);
      if (fresh) {
        Json doc = Json::parse(v.schema_json, nullptr, /*allow_exceptions=*/false);
        it->second = compile(doc.is_object() ? doc : Json::object());
      }
      crd.versions.emplace_back(std::string(v.version), it->second);
    }
    reg_.kinds_.push_back(std::move(crd));
  }

  void finish() {
    reg_.unenforced_.assign(unenforced_.begin(), unenforced_.end());
  }

 private:
  static std::optional<uint64_t> count(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<uint64_t>();
  }
  static std::optional<double> number(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  }
  static bool flag(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
  }
  static std::vector<std::string> strings(const Json& j, const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return out;
    for (const auto& v : *it) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
    return out;
  }

  static SchemaType typeOf(const Json& j) {
    auto it = j.find("type");
    if (it == j.end() || !it->is_string()) return SchemaType::kAny;
    const std::string& t = it->get_ref<const std::string&>();
    if (t == "object") return SchemaType::kObject;
    if (t == "array") return SchemaType::kArray;
    if (t == "string") return SchemaType::kString;
    if (t == "integer") return SchemaType::kInteger;
    if (t == "number") return SchemaType::kNumber;
    if (t == "boolean") return SchemaType::kBoolean;
    return SchemaType::kAny;
  }

  static Format formatOf(const Json& j) {
    auto it = j.find("format");
    if (it == j.end() || !it->is_string()) return Format::kNone;
    const std::string& f = it->get_ref<const std::string&>();
    if (f == "int32") return Format::kInt32;
    if (f == "int64") return Format::kInt64;
    if (f == "uint32") return Format::kUint32;
    if (f == "uint64") return Format::kUint64;
    if (f == "byte") return Format::kByte;
    return Format::kNone;  // date-time, double, ...: nothing to check beyond the type
  }

  // {"required": ["x"]} and nothing else: the field name, else empty.
  static std::string requiredOnly(const Json& j) {
    if (!j.is_object() || j.size() != 1) return {};
    auto r = strings(j, "required");
    return r.size() == 1 ? r.front() : std::string();
  }

  // oneOf: [{not: {anyOf: [{required:[a]}, {required:[b]}, ...]}}, {required:[a]}, ...]
  static std::vector<std::string> exclusiveFields(const Json& one_of) {
    std::vector<std::string> fields;
    if (!one_of.is_array() || one_of.size() < 2) return {};
    const Json& first = one_of[0];
    if (!first.is_object() || first.size() != 1 || !first.contains("not")) return {};
    const Json& n = first["not"];
    if (!n.is_object() || n.size() != 1 || !n.contains("anyOf") || !n["anyOf"].is_array()) {
      return {};
    }
    const Json& any = n["anyOf"];
    if (any.size() != one_of.size() - 1) return {};
    for (size_t i = 0; i < any.size(); ++i) {
      std::string a = requiredOnly(any[i]);
      if (a.empty() || a != requiredOnly(one_of[i + 1])) return {};
      fields.push_back(std::move(a));
    }
    return fields;
  }

  const SchemaNode* compile(const Json& j) {
    SchemaNode& n = reg_.arena_.emplace_back();
    if (!j.is_object()) return &n;
    n.type = typeOf(j);
    n.nullable = flag(j, "nullable");
    n.int_or_string = flag(j, "x-kubernetes-int-or-string");
    n.preserve_unknown = flag(j, "x-kubernetes-preserve-unknown-fields");
    n.format = formatOf(j);

    if (auto it = j.find("properties"); it != j.end() && it->is_object()) {
      for (const auto& [name, sub] : it->items()) n.properties.emplace_back(name, compile(sub));
      std::sort(n.properties.begin(), n.properties.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    if (auto it = j.find("additionalProperties"); it != j.end()) {
      if (it->is_object()) {
        n.additional = compile(*it);
      } else if (it->is_boolean() && it->get<bool>()) {
        n.additional = &reg_.arena_.emplace_back();  // any value
      }
    }
    if (auto it = j.find("items"); it != j.end() && it->is_object()) n.items = compile(*it);
    n.required = strings(j, "required");

    if (auto it = j.find("enum"); it != j.end() && it->is_array()) {
      n.has_enum = true;
      for (const auto& v : *it) {
        if (v.is_string()) {
          n.enum_strings.push_back(v.get<std::string>());
        } else {
          n.enum_json.push_back(v.dump());
        }
      }
    }
    n.minimum = number(j, "minimum");
    n.maximum = number(j, "maximum");
    n.exclusive_minimum = flag(j, "exclusiveMinimum");
    n.exclusive_maximum = flag(j, "exclusiveMaximum");
    n.min_length = count(j, "minLength");
    n.max_length = count(j, "maxLength");
    n.min_items = count(j, "minItems");
    n.max_items = count(j, "maxItems");
    n.min_properties = count(j, "minProperties");
    n.max_properties = count(j, "maxProperties");
    if (auto it = j.find("pattern"); it != j.end() && it->is_string()) {
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_unique<RE2>(it->get<std::string>(), opts);
      if (re->ok()) {
        n.pattern = std::move(re);
      } else {
        unenforced_.insert(kind_ + ": pattern " + it->get<std::string>() + ": " + re->error());
      }
    }

    if (auto it = j.find("x-kubernetes-list-type"); it != j.end() && it->is_string()) {
      if (*it == "set") n.list_type = ListType::kSet;
      if (*it == "map") n.list_type = ListType::kMap;
    }
    n.list_map_keys = strings(j, "x-kubernetes-list-map-keys");

    if (auto it = j.find("x-kubernetes-validations"); it != j.end() && it->is_array()) {
      for (const auto& r : *it) {
        if (!r.is_object() || !r.contains("rule") || !r["rule"].is_string()) continue;
        CelRule rule;
        rule.rule = r["rule"].get<std::string>();
        if (auto m = r.find("message"); m != r.end() && m->is_string()) {
          rule.message = m->get<std::string>();
        }
        rule.program = compileRule(rule.rule);
        n.rules.push_back(std::move(rule));
      }
    }

    auto subs = [&](const char* key, std::vector<const SchemaNode*>& out) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_array()) return;
      for (const auto& s : *it) out.push_back(compile(s));
    };
    subs("allOf", n.all_of);
    subs("anyOf", n.any_of);
    if (auto it = j.find("oneOf"); it != j.end()) {
      n.exclusive_fields = exclusiveFields(*it);
      if (n.exclusive_fields.empty()) subs("oneOf", n.one_of);
    }
    if (auto it = j.find("not"); it != j.end() && it->is_object()) n.not_ = compile(*it);
    return &n;
  }

  std::shared_ptr<const cel::Program> compileRule(const std::string& text) {
    auto [it, fresh] = rules_.try_emplace(text);
    if (fresh) {
      auto compiled = cel::compile(text);
      if (compiled.ok()) {
        it->second.program = std::move(compiled.value());
      } else {
        it->second.error = compiled.error();
      }
    }
    // A rule we cannot compile is our gap, not the user's error: it is listed, never reported.
    if (!it->second.program) unenforced_.insert(kind_ + ": " + text + ": " + it->second.error);
    return it->second.program;
  }

  struct CompiledRule {
    std::shared_ptr<const cel::Program> program;
    std::string error;
  };

  SchemaRegistry& reg_;
  std::string kind_;
  std::map<std::string_view, const SchemaNode*> by_text_;
  std::map<std::string, CompiledRule> rules_;
  std::set<std::string> unenforced_;
};

SchemaRegistry::SchemaRegistry(std::span<const CrdSchemaEntry> table) {
  SchemaCompiler compiler(*this);
  for (const auto& entry : table) compiler.addCrd(entry);
  compiler.finish();
}

const SchemaRegistry& SchemaRegistry::get() {
  static const SchemaRegistry registry(crdSchemaTable());
  return registry;
}

const CrdKind* SchemaRegistry::find(std::string_view group, std::string_view kind) const {
  for (const auto& k : kinds_) {
    if (k.group == group && k.kind == kind) return &k;
  }
  return nullptr;
}

bool SchemaRegistry::hasGroup(std::string_view group) const {
  for (const auto& k : kinds_) {
    if (k.group == group) return true;
  }
  return false;
}

}  // namespace halyard::config::schema
