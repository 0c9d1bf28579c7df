// Istio's unreachable-rule analysis of a VirtualService (warnings of its validating webhook):
// IST0130 when a rule can never be reached (a rule without matches came earlier, or every one of
// its matches repeats an earlier one) and IST0131 when one match block repeats an earlier one or is
// covered by an earlier, shorter URI prefix with the same other conditions.
//
// Two match blocks repeat each other when they serialize to the same JSON in Istio (the match's
// `name` left out): unset and zero values are the same, map keys are unordered, list order counts.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/validate/validate_kinds.h"

namespace halyard::config {

namespace {

// True for values Go's JSON encoding leaves out of a message (`omitempty`).
bool isEmptyValue(const Node& n) {
  switch (n.type) {
    case NodeType::kNull:
      return true;
    case NodeType::kBool:
      return !n.asBool().value_or(false);
    case NodeType::kInt:
    case NodeType::kDouble:
      return n.asDouble().value_or(0) == 0;
    case NodeType::kString:
      return n.text.empty();
    case NodeType::kList:
      return n.items.empty();
    case NodeType::kMap:
      return n.fields.empty();
  }
  return false;
}

std::string canonical(const Node& n) {
  switch (n.type) {
    case NodeType::kNull:
      return "null";
    case NodeType::kBool:
      return n.asBool().value_or(false) ? "true" : "false";
    case NodeType::kInt:
    case NodeType::kDouble:
      return formatNumber(n.asDouble().value_or(0));
    case NodeType::kString:
      return inQuotes(n.text);
    case NodeType::kList: {
      std::string out = "[";
      for (const Node& item : n.items) out += canonical(item) + ",";
      return out + "]";
    }
    case NodeType::kMap: {
      std::map<std::string, std::string> sorted;
      for (const MapEntry& e : n.fields) sorted[e.key] = canonical(e.value);
      std::string out = "{";
      for (const auto& [k, v] : sorted) out += inQuotes(k) + ":" + v + ",";
      return out + "}";
    }
  }
  return {};
}

// The comparison key of one match block. Message-typed fields (the StringMatches) are kept when
// set to {}, as a set pointer is; every other empty field is dropped.
std::string matchKey(const Node& match) {
  if (!match.isMap()) return canonical(match);
  std::map<std::string, std::string> fields;
  for (const MapEntry& e : match.fields) {
    if (e.key == "name") continue;
    bool message = e.key == "uri" || e.key == "scheme" || e.key == "method" || e.key == "authority";
    if (message ? e.value.isNull() : isEmptyValue(e.value)) continue;
    fields[e.key] = canonical(e.value);
  }
  std::string out = "{";
  for (const auto& [k, v] : fields) out += k + ":" + v + ",";
  return out + "}";
}

// Go's %q of a name, or "#<index>" for an unnamed rule or match.
std::string displayName(const Node& n, size_t index) {
  const Node* name = n.get("name");
  if (!name || !name->isString() || name->text.empty()) return "#" + std::to_string(index);
  std::string out = "\"";
  for (char c : name->text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A match block with a non-empty URI prefix, as Istio's overlap check sees it: every other
// string match reduced to "exact:<v>" / "prefix:<v>" / "" (regexes are not compared).
struct PrefixMatch {
  std::string path;   // field path of the match block
  std::string rule;   // display name of the rule
  std::string match;  // display name of the match
  std::string prefix;
  int64_t port = 0;
  std::string method;
  std::string authority;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> query_params;
  std::map<std::string, std::string> without_headers;
};

std::string exactOrPrefix(const Node* sm) {
  if (!sm) return "";
  if (const Node* e = sm->get("exact"); e && !e->str().empty()) return "exact:" + e->text;
  if (const Node* p = sm->get("prefix"); p && !p->str().empty()) return "prefix:" + p->text;
  return "";
}

std::map<std::string, std::string> reducedMap(const Node* map) {
  std::map<std::string, std::string> out;
  if (map && map->isMap()) {
    for (const MapEntry& e : map->fields) out[e.key] = exactOrPrefix(&e.value);
  }
  return out;
}

std::optional<PrefixMatch> prefixMatch(const Node& match, std::string path, std::string rule,
                                       std::string name) {
  const Node* uri = match.get("uri");
  const Node* prefix = uri ? uri->get("prefix") : nullptr;
  if (!prefix || prefix->str().empty()) return std::nullopt;
  PrefixMatch m;
  m.path = std::move(path);
  m.rule = std::move(rule);
  m.match = std::move(name);
  m.prefix = prefix->text;
  if (const Node* port = match.get("port")) m.port = port->asInt().value_or(0);
  m.method = exactOrPrefix(match.get("method"));
  // A match without a method is taken as GET.
  if (m.method.empty()) m.method = "exact:GET";
  m.authority = exactOrPrefix(match.get("authority"));
  m.headers = reducedMap(match.get("headers"));
  m.query_params = reducedMap(match.get("queryParams"));
  m.without_headers = reducedMap(match.get("withoutHeaders"));
  return m;
}

// Istio's comparison: `later` is covered when `earlier`'s prefix starts it and each other
// condition is equal or (as text) extends the later one's.
bool covers(const PrefixMatch& earlier, const PrefixMatch& later) {
  auto same_or_extends = [](const std::string& a, const std::string& b) {
    return a == b || a.starts_with(b);
  };
  auto maps_cover = [&](const auto& a, const auto& b) {
    if (a.size() != b.size()) return false;
    for (const auto& [k, v] : a) {
      auto it = b.find(k);
      if (it == b.end() || !same_or_extends(v, it->second)) return false;
    }
    return true;
  };
  return later.prefix.starts_with(earlier.prefix) && later.port == earlier.port &&
         same_or_extends(earlier.method, later.method) &&
         same_or_extends(earlier.authority, later.authority) &&
         maps_cover(earlier.headers, later.headers) &&
         maps_cover(earlier.query_params, later.query_params) &&
         maps_cover(earlier.without_headers, later.without_headers);
}

void reportUnreachable(ObjectReport& r, const std::string& path, const std::string& rule,
                       const std::string& reason) {
  r.report(msg::kVirtualServiceUnreachableRule, path,
           path + ": rule " + rule + " is never reached (" + reason + ")");
}

void reportIneffective(ObjectReport& r, const std::string& path, const std::string& rule,
                       const std::string& match, const std::string& earlier) {
  r.report(msg::kVirtualServiceIneffectiveMatch, path,
           path + ": rule " + rule + " match " + match +
               " never applies (duplicate or overlapping match in rule " + earlier + ")");
}

// One route list (http, tcp or tls); `prefixes` collects HTTP prefix matches when non-null.
void analyzeRules(ObjectReport& r, const std::string& list_path, const Node* list,
                  std::vector<PrefixMatch>* prefixes) {
  if (!list || !list->isList()) return;
  std::map<std::string, size_t> seen;  // match key -> first rule using it
  bool catch_all_seen = false;
  for (size_t i = 0; i < list->items.size(); ++i) {
    const Node& rule = list->items[i];
    if (!rule.isMap()) continue;
    const std::string path = indexPath(list_path, i);
    const std::string name = prefixes ? displayName(rule, i) : "#" + std::to_string(i);
    const Node* matches = rule.get("match");
    if (!matches || !matches->isList() || matches->items.empty()) {
      if (catch_all_seen)
        reportUnreachable(r, path, name, "only the last rule can have no matches");
      catch_all_seen = true;
      continue;
    }
    size_t duplicates = 0;
    for (size_t j = 0; j < matches->items.size(); ++j) {
      const Node& match = matches->items[j];
      const std::string match_path = indexPath(path + ".match", j);
      if (catch_all_seen) {
        reportUnreachable(r, path, name, "a rule without matches comes before it");
        continue;
      }
      const std::string match_name = prefixes ? displayName(match, j) : "#" + std::to_string(j);
      auto [it, inserted] = seen.emplace(matchKey(match), i);
      if (!inserted) {
        const Node& first = list->items[it->second];
        std::string first_name =
            prefixes ? displayName(first, it->second) : "#" + std::to_string(it->second);
        reportIneffective(r, match_path, name, match_name, first_name);
        ++duplicates;
        continue;
      }
      if (prefixes) {
        if (auto m = prefixMatch(match, match_path, name, match_name)) {
          prefixes->push_back(std::move(*m));
        }
      }
    }
    if (duplicates == matches->items.size()) {
      reportUnreachable(r, path, name, "all matches used by prior rules");
    }
  }
}

}  // namespace

void analyzeRouteReachability(ObjectReport& r) {
  const Node* spec = r.object().spec();
  if (!spec) return;
  std::vector<PrefixMatch> prefixes;
  analyzeRules(r, "spec.http", spec->get("http"), &prefixes);
  for (size_t a = 0; a < prefixes.size(); ++a) {
    for (size_t b = a + 1; b < prefixes.size(); ++b) {
      // Equal prefixes were compared as whole matches above.
      if (prefixes[a].prefix == prefixes[b].prefix || !covers(prefixes[a], prefixes[b])) continue;
      reportIneffective(
          r, prefixes[b].path, prefixes[b].rule,
          prefixes[b].match + " of prefix " + prefixes[b].prefix,
          prefixes[a].match + " of prefix " + prefixes[a].prefix + " on " + prefixes[a].rule);
    }
  }
  analyzeRules(r, "spec.tcp", spec->get("tcp"), nullptr);
  analyzeRules(r, "spec.tls", spec->get("tls"), nullptr);
}

}  // namespace halyard::config
