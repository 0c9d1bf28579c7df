// Walks an object's document tree alongside its compiled CRD schema. The walk allocates only
// when it reports: the field path is a stack of views into the document, rendered on error.
#include "config/validate/schema_validator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "config/validate/cel.h"
#include "config/validate/messages.h"
#include "config/validate/schema_text.h"
#include "config/validate/schema_tree.h"

namespace halyard::config {

namespace {

using schema::Format;
using schema::ListType;
using schema::SchemaNode;
using schema::SchemaRegistry;
using schema::SchemaType;

constexpr size_t kMaxDiagnostics = 50;

// ObjectMeta's fields: anything else under metadata is an unknown field, as with kubectl's
// strict field validation.
constexpr std::string_view kObjectMetaFields[] = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields"};

constexpr size_t kMaxAnnotationBytes = 256 * 1024;  // Kubernetes' total for keys and values

std::string formatNumber(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e18) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string joinQuoted(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += schema::quoteShort(v);
  }
  return out;
}

std::string join(const std::vector<std::string>& values, std::string_view sep = ", ") {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += sep;
    out += v;
  }
  return out;
}

bool nodesEqual(const Node& a, const Node& b) {
  if (a.isNumber() && b.isNumber()) return a.asDouble() == b.asDouble();
  if (a.type != b.type) return false;
  switch (a.type) {
    case NodeType::kNull: return true;
    case NodeType::kBool: return a.asBool() == b.asBool();
    case NodeType::kList:
      if (a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!nodesEqual(a.items[i], b.items[i])) return false;
      }
      return true;
    case NodeType::kMap:
      if (a.fields.size() != b.fields.size()) return false;
      for (const auto& e : a.fields) {
        const Node* other = b.get(e.key);
        if (!other || !nodesEqual(e.value, *other)) return false;
      }
      return true;
    default: return a.text == b.text;
  }
}

bool typeMatches(const Node& n, const SchemaNode& s) {
  const bool integral = n.type == NodeType::kInt ||
                        (n.type == NodeType::kDouble && n.asInt().has_value());
  if (s.int_or_string) return n.isString() || integral;
  switch (s.type) {
    case SchemaType::kAny: return true;
    case SchemaType::kObject: return n.isMap();
    case SchemaType::kArray: return n.isList();
    case SchemaType::kString: return n.isString();
    case SchemaType::kInteger: return integral;
    case SchemaType::kNumber: return n.isNumber();
    case SchemaType::kBoolean: return n.type == NodeType::kBool;
  }
  return true;
}

std::string expectedType(const SchemaNode& s) {
  return s.int_or_string ? "integer or string" : schema::toString(s.type);
}

struct Segment {
  std::string_view key;
  size_t index = 0;
  bool is_index = false;
};

class Walker {
 public:
  Walker(const Object& obj, Diagnostics& out) : obj_(obj), out_(out) { path_.reserve(16); }

  void validateRoot(const SchemaNode& root);
  void reportTop(std::string_view field, std::string message);

 private:
  class Scope {
   public:
    Scope(Walker& w, Segment s) : w_(w) { w_.path_.push_back(s); }
    ~Scope() { w_.path_.pop_back(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Walker& w_;
  };

  bool stop() const { return probing_ ? probe_failed_ : reported_ >= kMaxDiagnostics; }

  std::string path(std::string_view child) const;
  // Reports at the current path (plus `child`, for a missing field). Blocking errors are those
  // after which Kubernetes does not run CEL rules (type, required, enum, too long, too many).
  void report(int line, const std::string& what, bool blocking = false,
              std::string_view child = {});

  void validate(const Node& n, const SchemaNode& s, int line, bool structural);
  void checkScalar(const Node& n, const SchemaNode& s, int line);
  void checkMap(const Node& n, const SchemaNode& s, int line, bool structural);
  void checkList(const Node& n, const SchemaNode& s, int line, bool structural);
  void checkJunctors(const Node& n, const SchemaNode& s, int line);
  void checkEnum(const Node& n, const SchemaNode& s, int line);
  void checkUnique(const Node& list, const SchemaNode& s);
  void runRules(const Node& n, const SchemaNode& s, int line);
  bool matches(const Node& n, const SchemaNode& s, int line);
  void unknownField(const MapEntry& e, const std::vector<std::string_view>& candidates);
  void checkMetadata(const Node* meta, int line);
  void checkStringMap(const Node& map, bool labels);

  const Object& obj_;
  Diagnostics& out_;
  std::vector<Segment> path_;
  size_t reported_ = 0;
  size_t blocking_ = 0;
  int probing_ = 0;  // > 0 inside anyOf/oneOf/not: errors only mark the branch as failed
  bool probe_failed_ = false;
};

std::string Walker::path(std::string_view child) const {
  std::string out;
  auto key = [&out](std::string_view k) {
    if (schema::isIdentifier(k)) {
      if (!out.empty()) out.push_back('.');
      out += k;
    } else {
      out.push_back('[');
      out += k;
      out.push_back(']');
    }
  };
  for (const Segment& s : path_) {
    if (s.is_index) {
      out += "[" + std::to_string(s.index) + "]";
    } else {
      key(s.key);
    }
  }
  if (!child.empty()) key(child);
  return out;
}

void Walker::report(int line, const std::string& what, bool blocking, std::string_view child) {
  if (probing_) {
    probe_failed_ = true;
    return;
  }
  if (blocking) ++blocking_;
  if (reported_ >= kMaxDiagnostics) return;
  ++reported_;
  Diagnostic d;
  d.code = std::string(msg::kSchemaValidationError.code);
  d.type = std::string(msg::kSchemaValidationError.name);
  d.level = msg::kSchemaValidationError.level;
  d.resource = obj_.ref();
  d.pos = obj_.pos;
  if (line > 0) d.pos.line = line;
  d.field_path = path(child);
  d.message = (d.field_path.empty() ? std::string() : d.field_path + ": ") + what;
  out_.push_back(std::move(d));
}

void Walker::reportTop(std::string_view field, std::string message) {
  Scope scope(*this, {field});
  report(obj_.lineOf(field), message);
}

void Walker::validate(const Node& n, const SchemaNode& s, int line, bool structural) {
  if (stop()) return;
  if (n.isNull()) {
    if (s.nullable || (s.type == SchemaType::kAny && !s.int_or_string)) return;
    report(line, "expected " + expectedType(s) + ", found null", true);
    return;
  }
  if (!typeMatches(n, s)) {
    report(line, "expected " + expectedType(s) + ", found " + schema::renderShort(n), true);
    return;
  }
  const size_t blocking_before = blocking_;
  if (n.isMap()) {
    checkMap(n, s, line, structural);
  } else if (n.isList()) {
    checkList(n, s, line, structural);
  } else {
    checkScalar(n, s, line);
  }
  if (s.has_enum) checkEnum(n, s, line);
  checkJunctors(n, s, line);
  // Like the API server, CEL rules run only over values that passed the blocking checks; a rule
  // over a wrongly typed value would only add noise.
  if (!s.rules.empty() && !probing_ && blocking_ == blocking_before) runRules(n, s, line);
}

void Walker::checkScalar(const Node& n, const SchemaNode& s, int line) {
  if (n.isString()) {
    if (s.min_length || s.max_length) {
      const size_t len = schema::codePoints(n.text);
      if (s.min_length && len < *s.min_length) {
        report(line, "string too short, found " + schema::renderShort(n) + " (expected at least " +
                         std::to_string(*s.min_length) + " characters)");
      }
      if (s.max_length && len > *s.max_length) {
        report(line,
               "string too long (" + std::to_string(len) + " characters), found " +
                   schema::renderShort(n) + " (expected at most " +
                   std::to_string(*s.max_length) + " characters)",
               true);
      }
    }
    if (s.pattern && !RE2::PartialMatch(n.text, *s.pattern)) {
      report(line, "does not match the pattern, found " + schema::renderShort(n) +
                       " (expected to match " + s.pattern->pattern() + ")");
    }
    if (s.format == Format::kByte && !schema::isBase64(n.text)) {
      report(line, "not valid base64, found " + schema::renderShort(n) +
                       " (expected base64-encoded bytes)");
    }
    return;
  }
  if (!n.isNumber()) return;
  const std::optional<double> v = n.asDouble();
  if (!v) {
    report(line, "not a representable number, found " + schema::renderShort(n) +
                     " (expected a 64-bit integer or double)");
    return;
  }
  if (s.minimum && (s.exclusive_minimum ? *v <= *s.minimum : *v < *s.minimum)) {
    report(line, "value too small, found " + schema::renderShort(n) + " (expected " +
                     (s.exclusive_minimum ? "> " : ">= ") + formatNumber(*s.minimum) + ")");
  }
  if (s.maximum && (s.exclusive_maximum ? *v >= *s.maximum : *v > *s.maximum)) {
    report(line, "value too large, found " + schema::renderShort(n) + " (expected " +
                     (s.exclusive_maximum ? "< " : "<= ") + formatNumber(*s.maximum) + ")");
  }
  if (s.type == SchemaType::kInteger || s.int_or_string) {
    const std::optional<int64_t> i = n.asInt();
    int64_t lo = std::numeric_limits<int64_t>::min();
    int64_t hi = std::numeric_limits<int64_t>::max();
    const char* what = "a 64-bit integer";
    switch (s.format) {
      case Format::kInt32:
        lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
        what = "a 32-bit integer";
        break;
      case Format::kUint32:
        lo = 0, hi = std::numeric_limits<uint32_t>::max(), what = "an unsigned 32-bit integer";
        break;
      case Format::kUint64: lo = 0, what = "an unsigned 64-bit integer"; break;
      default: break;
    }
    if (!i || *i < lo || *i > hi) {
      report(line, "value out of range, found " + schema::renderShort(n) + " (expected " + what +
                       ", " + std::to_string(lo) + " to " + std::to_string(hi) + ")");
    }
  }
}

void Walker::checkEnum(const Node& n, const SchemaNode& s, int line) {
  if (n.isString()) {
    if (std::find(s.enum_strings.begin(), s.enum_strings.end(), n.text) != s.enum_strings.end()) {
      return;
    }
  } else if (std::find(s.enum_json.begin(), s.enum_json.end(), n.toJson()) != s.enum_json.end()) {
    return;
  }
  std::string expected = "expected one of " + joinQuoted(s.enum_strings);
  if (!s.enum_json.empty()) expected += (s.enum_strings.empty() ? "" : ", ") + join(s.enum_json);
  if (n.isString()) {
    std::vector<std::string_view> candidates(s.enum_strings.begin(), s.enum_strings.end());
    if (auto hint = schema::suggest(n.text, candidates)) {
      expected += "; did you mean " + schema::quoteShort(*hint) + "?";
    }
  }
  report(line, "unsupported value, found " + schema::renderShort(n) + " (" + expected + ")", true);
}

// Fields Istio's API once had and dropped. Old configurations still carry them and Istio ignores
// them, so they are warnings that say so rather than unknown-field errors.
struct RemovedField {
  std::string_view kind;
  std::string_view key;
  std::string_view note;
};
constexpr RemovedField kRemovedFields[] = {
    {"VirtualService", "websocketUpgrade",
     "removed from Istio's API and ignored: WebSocket upgrades are always allowed"},
};

void Walker::unknownField(const MapEntry& e, const std::vector<std::string_view>& candidates) {
  Scope scope(*this, {e.key});
  for (const auto& removed : kRemovedFields) {
    if (obj_.kind == removed.kind && e.key == removed.key) {
      const size_t before = out_.size();
      report(e.line ? e.line : e.value.line, std::string(removed.note));
      if (out_.size() > before) out_.back().level = Level::kWarning;
      return;
    }
  }
  std::string what = "unknown field";
  if (auto hint = schema::suggest(e.key, candidates)) {
    what += " (did you mean " + schema::quoteShort(*hint) + "?)";
  }
  report(e.line ? e.line : e.value.line, what);
}

void Walker::checkMap(const Node& n, const SchemaNode& s, int line, bool structural) {
  // Fields no schema covers are unknown only in the structural schema itself; inside allOf /
  // anyOf / oneOf / not, `properties` constrain the fields they name and nothing else.
  const bool closed = structural && s.type == SchemaType::kObject && !s.preserve_unknown &&
                      !s.additional;
  for (const MapEntry& e : n.fields) {
    if (stop()) return;
    const SchemaNode* child = s.property(e.key);
    if (!child) child = s.additional;
    if (child) {
      Scope scope(*this, {e.key});
      validate(e.value, *child, e.line ? e.line : e.value.line, structural);
    } else if (closed) {
      std::vector<std::string_view> names;
      names.reserve(s.properties.size());
      for (const auto& p : s.properties) names.push_back(p.first);
      unknownField(e, names);
    }
  }
  for (const std::string& r : s.required) {
    if (!n.entry(r)) report(line, "required field is missing", true, r);
  }
  const size_t count = n.fields.size();
  if (s.min_properties && count < *s.min_properties) {
    report(line, "too few entries, found " + std::to_string(count) + " (expected at least " +
                     std::to_string(*s.min_properties) + ")");
  }
  if (s.max_properties && count > *s.max_properties) {
    report(line,
           "too many entries, found " + std::to_string(count) + " (expected at most " +
               std::to_string(*s.max_properties) + ")",
           true);
  }
  if (!s.exclusive_fields.empty()) {
    std::vector<std::string> set;
    for (const std::string& f : s.exclusive_fields) {
      if (n.entry(f)) set.push_back(f);
    }
    if (set.size() > 1) {
      report(line, "mutually exclusive fields set together, found " + join(set, " and ") +
                       " (expected at most one of " + join(s.exclusive_fields) + ")");
    }
  }
}

void Walker::checkList(const Node& n, const SchemaNode& s, int line, bool structural) {
  if (s.items) {
    for (size_t i = 0; i < n.items.size(); ++i) {
      if (stop()) return;
      Scope scope(*this, {{}, i, true});
      const Node& item = n.items[i];
      validate(item, *s.items, item.line ? item.line : line, structural);
    }
  }
  const size_t count = n.items.size();
  if (s.min_items && count < *s.min_items) {
    report(line, "too few items, found " + std::to_string(count) + " (expected at least " +
                     std::to_string(*s.min_items) + ")");
  }
  if (s.max_items && count > *s.max_items) {
    report(line,
           "too many items, found " + std::to_string(count) + " (expected at most " +
               std::to_string(*s.max_items) + ")",
           true);
  }
  if (s.list_type != ListType::kAtomic) checkUnique(n, s);
}

void Walker::checkUnique(const Node& list, const SchemaNode& s) {
  const bool by_keys = s.list_type == ListType::kMap && !s.list_map_keys.empty();
  auto same = [&](const Node& a, const Node& b) {
    if (!by_keys) return nodesEqual(a, b);
    for (const std::string& k : s.list_map_keys) {
      const Node* x = a.get(k);
      const Node* y = b.get(k);
      if ((x == nullptr) != (y == nullptr)) return false;
      if (x && !nodesEqual(*x, *y)) return false;
    }
    return true;
  };
  for (size_t i = 1; i < list.items.size(); ++i) {
    if (stop()) return;
    for (size_t j = 0; j < i; ++j) {
      if (!same(list.items[i], list.items[j])) continue;
      std::string found;
      if (by_keys) {
        Node keys = Node::makeMap();
        for (const std::string& k : s.list_map_keys) {
          if (const Node* v = list.items[i].get(k)) keys.fields.push_back({k, 0, *v});
        }
        found = keys.toJson();
      } else {
        found = schema::renderShort(list.items[i]);
      }
      const std::string expected =
          by_keys ? "unique " + join(s.list_map_keys, ", ") + " within the list"
                  : "unique items";
      Scope scope(*this, {{}, i, true});
      report(list.items[i].line, "Duplicate value, found " + found + " (expected " + expected +
                                     "; same as item " + std::to_string(j) + ")");
      break;
    }
  }
}

bool Walker::matches(const Node& n, const SchemaNode& s, int line) {
  const bool saved = probe_failed_;
  probe_failed_ = false;
  ++probing_;
  validate(n, s, line, false);
  --probing_;
  const bool ok = !probe_failed_;
  probe_failed_ = saved;
  return ok;
}

void Walker::checkJunctors(const Node& n, const SchemaNode& s, int line) {
  for (const SchemaNode* sub : s.all_of) validate(n, *sub, line, false);
  if (!s.any_of.empty()) {
    bool any = false;
    for (const SchemaNode* sub : s.any_of) {
      if (matches(n, *sub, line)) {
        any = true;
        break;
      }
    }
    if (!any) {
      report(line, "matches none of the anyOf alternatives, found " + schema::renderShort(n) +
                       " (expected at least one to match)");
    }
  }
  if (!s.one_of.empty()) {
    size_t count = 0;
    for (const SchemaNode* sub : s.one_of) count += matches(n, *sub, line) ? 1 : 0;
    if (count != 1) {
      report(line, "matches " + std::to_string(count) + " of the oneOf alternatives, found " +
                       schema::renderShort(n) + " (expected exactly one)");
    }
  }
  if (s.not_ && matches(n, *s.not_, line)) {
    report(line, "matches the schema it must not match (not), found " + schema::renderShort(n));
  }
}

void Walker::runRules(const Node& n, const SchemaNode& s, int line) {
  for (const schema::CelRule& rule : s.rules) {
    if (stop()) return;
    if (!rule.program) continue;  // listed by unenforcedCelRules()
    auto result = cel::evaluate(*rule.program, n);
    if (result.ok() && result.value()) continue;
    // A rule that fails at run time (no such key, an unparsable duration) rejects the object in
    // Kubernetes too; the rule's message still says what was meant.
    std::string what = rule.message.empty() ? "failed rule: " + rule.rule : rule.message;
    if (!result.ok()) what += " (rule could not be evaluated: " + result.error() + ")";
    if (n.isScalar()) what += ", found " + schema::renderShort(n);
    report(line, what);
  }
}

void Walker::checkStringMap(const Node& map, bool labels) {
  size_t annotation_bytes = 0;
  for (const MapEntry& e : map.fields) {
    if (stop()) return;
    Scope scope(*this, {e.key});
    const int line = e.line ? e.line : e.value.line;
    std::string lowered = e.key;
    if (!labels) {
      // Kubernetes checks annotation keys case-insensitively.
      std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    if (!schema::isQualifiedName(lowered)) {
      report(line, std::string("invalid ") + (labels ? "label" : "annotation") +
                       " key, found string " + schema::quoteShort(e.key) +
                       " (expected [prefix/]name: a name of at most 63 letters, digits, '-', '_' "
                       "or '.', starting and ending with a letter or digit; the prefix a "
                       "DNS-1123 subdomain)");
    }
    if (e.value.isNull()) continue;
    if (!e.value.isString()) {
      report(line, "expected string, found " + schema::renderShort(e.value), true);
      continue;
    }
    annotation_bytes += e.key.size() + e.value.text.size();
    if (labels && !schema::isLabelValue(e.value.text)) {
      report(line, "invalid label value, found " + schema::renderShort(e.value) +
                       " (expected at most 63 letters, digits, '-', '_' or '.', starting and "
                       "ending with a letter or digit, or empty)");
    }
  }
  if (!labels && annotation_bytes > kMaxAnnotationBytes) {
    report(map.line, "annotations too long, found " + std::to_string(annotation_bytes) +
                         " bytes (expected at most " + std::to_string(kMaxAnnotationBytes) + ")",
           true);
  }
}

void Walker::checkMetadata(const Node* meta, int line) {
  Scope scope(*this, {"metadata"});
  if (meta && !meta->isNull() && !meta->isMap()) {
    report(line, "expected object, found " + schema::renderShort(*meta), true);
    return;
  }
  auto present = [&](std::string_view key) {
    const Node* v = meta ? meta->get(key) : nullptr;
    return v && !v->isNull() ? v : nullptr;
  };
  if (!present("name") && !present("generateName")) {
    report(line, "required field is missing", true, "name");
  }
  if (!meta || meta->isNull()) return;
  static const std::vector<std::string_view> kFields(std::begin(kObjectMetaFields),
                                                     std::end(kObjectMetaFields));
  for (const MapEntry& e : meta->fields) {
    if (stop()) return;
    if (std::find(kFields.begin(), kFields.end(), e.key) == kFields.end()) {
      unknownField(e, kFields);
      continue;
    }
    if (e.value.isNull()) continue;
    Scope field(*this, {e.key});
    const int at = e.line ? e.line : e.value.line;
    const bool is_name = e.key == "name";
    const bool is_namespace = e.key == "namespace";
    if (is_name || is_namespace || e.key == "generateName") {
      if (!e.value.isString()) {
        report(at, "expected string, found " + schema::renderShort(e.value), true);
      } else if (is_name && !schema::isDns1123Subdomain(e.value.text)) {
        // Istio itself accepts such names (its own test configs use them) and Halyard serves
        // them, but the Kubernetes API server would refuse the object: a warning, not an error.
        const size_t before = out_.size();
        report(at, "invalid name for Kubernetes, found " + schema::renderShort(e.value) +
                       " (expected a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                       "starting and ending with a letter or digit, at most 253 characters)");
        if (out_.size() > before) out_.back().level = Level::kWarning;
      } else if (is_namespace && !schema::isDns1123Label(e.value.text)) {
        const size_t before = out_.size();
        report(at, "invalid namespace for Kubernetes, found " + schema::renderShort(e.value) +
                       " (expected a DNS-1123 label: lowercase letters, digits and '-', "
                       "starting and ending with a letter or digit, at most 63 characters)");
        if (out_.size() > before) out_.back().level = Level::kWarning;
      }
    } else if (e.key == "labels" || e.key == "annotations") {
      if (!e.value.isMap()) {
        report(at, "expected object, found " + schema::renderShort(e.value), true);
      } else {
        checkStringMap(e.value, e.key == "labels");
      }
    }
  }
}

void Walker::validateRoot(const SchemaNode& root) {
  const Node& doc = obj_.root;
  checkMetadata(doc.get("metadata"), obj_.lineOf("metadata"));
  for (const MapEntry& e : doc.fields) {
    if (stop()) return;
    if (e.key == "apiVersion" || e.key == "kind" || e.key == "metadata") continue;
    // The status subresource is reset by the API server on create; it is never validated.
    if (e.key == "status") continue;
    if (const SchemaNode* child = root.property(e.key)) {
      Scope scope(*this, {e.key});
      validate(e.value, *child, e.line ? e.line : e.value.line, true);
    } else {
      std::vector<std::string_view> names = {"apiVersion", "kind", "metadata"};
      for (const auto& p : root.properties) names.push_back(p.first);
      unknownField(e, names);
    }
  }
  for (const std::string& r : root.required) {
    if (!doc.entry(r)) report(obj_.pos.line, "required field is missing", true, r);
  }
}

}  // namespace

bool isCrdKind(std::string_view group, std::string_view kind) {
  return SchemaRegistry::get().find(group, kind) != nullptr;
}

void validateSchema(const Object& obj, Diagnostics& out) {
  validateSchema(obj, SchemaRegistry::get(), out);
}

void validateSchema(const Object& obj, const SchemaRegistry& reg, Diagnostics& out) {
  const schema::CrdKind* crd = reg.find(obj.group, obj.kind);
  Walker walker(obj, out);
  if (!crd) {
    if (!reg.hasGroup(obj.group)) return;  // not an Istio kind: someone else's to check
    std::vector<std::string> kinds;
    std::vector<std::string_view> candidates;
    for (const auto& k : reg.kinds()) {
      if (k.group == obj.group) kinds.push_back(k.kind);
    }
    candidates.assign(kinds.begin(), kinds.end());
    std::string expected = "expected one of " + join(kinds);
    if (auto hint = schema::suggest(obj.kind, candidates)) {
      expected += "; did you mean " + schema::quoteShort(*hint) + "?";
    }
    walker.reportTop("kind", "unknown kind in " + obj.group + ", found string " +
                                 schema::quoteShort(obj.kind) + " (" + expected + ")");
    return;
  }
  const SchemaNode* root = crd->version(obj.version);
  if (!root) {
    std::vector<std::string> served;
    for (const auto& [v, node] : crd->versions) served.push_back(crd->group + "/" + v);
    walker.reportTop("apiVersion", "unknown version " + schema::quoteShort(obj.version) + " of " +
                                       crd->kind + ", found string " +
                                       schema::quoteShort(obj.api_version) + " (expected one of " +
                                       join(served) + ")");
    return;
  }
  walker.validateRoot(*root);
}

std::vector<std::string> unenforcedCelRules() {
  return SchemaRegistry::get().unenforcedRules();
}

}  // namespace halyard::config
