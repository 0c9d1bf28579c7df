#include "config/yaml/yaml_parser.h"

#include <yaml.h>

#include <map>
#include <memory>

namespace halyard::config {

namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isHexDigit(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isOctDigit(char c) {
  return c >= '0' && c <= '7';
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

// YAML 1.2 core schema resolution of a plain (unquoted, untagged) scalar.
NodeType resolvePlain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return NodeType::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return NodeType::kBool;
  }
  std::string_view body = s;
  if (body.front() == '-' || body.front() == '+') body.remove_prefix(1);
  if (allOf(body, isDigit)) return NodeType::kInt;
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && allOf(s.substr(2), isHexDigit)) {
    return NodeType::kInt;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && allOf(s.substr(2), isOctDigit)) {
    return NodeType::kInt;
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF" || s == ".nan" || s == ".NaN" ||
      s == ".NAN") {
    return NodeType::kDouble;
  }
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < body.size() && isDigit(body[i])) ++i, ++int_digits;
  bool dot = false;
  if (i < body.size() && body[i] == '.') {
    dot = true;
    ++i;
    while (i < body.size() && isDigit(body[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return NodeType::kString;
  bool exp = false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && isDigit(body[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return NodeType::kString;
    exp = true;
  }
  if (i != body.size()) return NodeType::kString;
  return (dot || exp) ? NodeType::kDouble : NodeType::kInt;
}

NodeType resolveTagged(std::string_view tag, NodeType fallback) {
  if (tag == "tag:yaml.org,2002:int") return NodeType::kInt;
  if (tag == "tag:yaml.org,2002:float") return NodeType::kDouble;
  if (tag == "tag:yaml.org,2002:bool") return NodeType::kBool;
  if (tag == "tag:yaml.org,2002:null") return NodeType::kNull;
  if (tag == "tag:yaml.org,2002:str") return NodeType::kString;
  return fallback;
}

size_t countNodes(const Node& n) {
  size_t c = 1;
  for (const auto& i : n.items) c += countNodes(i);
  for (const auto& f : n.fields) c += countNodes(f.value);
  return c;
}

// Builds the tree from libyaml's events, one recursive call per collection.
class Builder {
 public:
  Builder(yaml_parser_t& parser, int line_offset, const YamlLimits& limits)
      : parser_(parser), line_offset_(line_offset), limits_(limits), budget_(limits.max_nodes) {}

  common::Result<Node, YamlError> run() {
    // STREAM-START, then DOCUMENT-START (or STREAM-END for an empty stream).
    if (!next()) return parseError();
    if (event_.type == YAML_STREAM_START_EVENT && !next()) return parseError();
    if (event_.type == YAML_STREAM_END_EVENT) return Node{};
    if (event_.type != YAML_DOCUMENT_START_EVENT) return fail(line(), "expected a document");
    if (!next()) return parseError();
    Node root;
    if (!node(root, 0)) return common::unexpected(error_);
    // libyaml reads lazily: drain the document so trailing garbage is still a syntax error.
    while (event_.type != YAML_DOCUMENT_END_EVENT && event_.type != YAML_STREAM_END_EVENT) {
      if (!next()) return parseError();
    }
    return root;
  }

  ~Builder() {
    if (have_event_) yaml_event_delete(&event_);
  }

 private:
  bool next() {
    if (have_event_) yaml_event_delete(&event_);
    have_event_ = yaml_parser_parse(&parser_, &event_) != 0;
    return have_event_;
  }
  int line() const { return static_cast<int>(event_.start_mark.line) + 1 + line_offset_; }

  common::Unexpected<YamlError> fail(int line, std::string message) {
    error_ = YamlError{line, std::move(message)};
    return common::unexpected(error_);
  }
  common::Unexpected<YamlError> parseError() {
    std::string msg = parser_.problem ? parser_.problem : "invalid YAML";
    if (parser_.context) msg = std::string(parser_.context) + ": " + msg;
    return fail(static_cast<int>(parser_.problem_mark.line) + 1 + line_offset_, msg);
  }
  // For use inside node(): records the error and returns false.
  bool failed(common::Unexpected<YamlError>) { return false; }

  std::string anchorOf() const {
    const yaml_char_t* a = nullptr;
    if (event_.type == YAML_SCALAR_EVENT) a = event_.data.scalar.anchor;
    if (event_.type == YAML_SEQUENCE_START_EVENT) a = event_.data.sequence_start.anchor;
    if (event_.type == YAML_MAPPING_START_EVENT) a = event_.data.mapping_start.anchor;
    return a ? reinterpret_cast<const char*>(a) : std::string();
  }

  bool limit(std::string message) {
    fail(line(), std::move(message));
    error_.limit_exceeded = true;
    return false;
  }

  bool spend(size_t n) {
    if (n > budget_) {
      budget_ = 0;
      return limit("document too large: over " + std::to_string(limits_.max_nodes) +
                   " values once aliases are expanded");
    }
    budget_ -= n;
    return true;
  }

  // Reads one node starting at the current event; leaves the event after it current.
  bool node(Node& out, int depth) {
    if (depth > limits_.max_depth) {
      return limit("document nested too deeply (over " + std::to_string(limits_.max_depth) +
                   " levels)");
    }
    out.line = line();
    switch (event_.type) {
      case YAML_ALIAS_EVENT: {
        std::string name = reinterpret_cast<const char*>(event_.data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return failed(fail(line(), "unknown alias *" + name));
        if (!spend(it->second.second)) return false;
        const int l = out.line;
        out = it->second.first;
        out.line = l;
        return advance();
      }
      case YAML_SCALAR_EVENT: {
        if (!spend(1)) return false;
        const auto& s = event_.data.scalar;
        out.text.assign(reinterpret_cast<const char*>(s.value), s.length);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
        NodeType type = plain ? resolvePlain(out.text) : NodeType::kString;
        if (s.tag) {
          type = resolveTagged(reinterpret_cast<const char*>(s.tag), type);
          if (std::string_view(reinterpret_cast<const char*>(s.tag)) == "!") {
            type = NodeType::kString;  // the non-specific tag "!" forces a string
          }
        }
        out.type = type;
        std::string anchor = anchorOf();
        if (!anchor.empty()) anchors_[anchor] = {out, 1};
        return advance();
      }
      case YAML_SEQUENCE_START_EVENT: {
        if (!spend(1)) return false;
        out.type = NodeType::kList;
        std::string anchor = anchorOf();
        if (!next()) return failed(parseError());
        while (event_.type != YAML_SEQUENCE_END_EVENT) {
          out.items.emplace_back();
          if (!node(out.items.back(), depth + 1)) return false;
        }
        if (!anchor.empty()) anchors_[anchor] = {out, countNodes(out)};
        return advance();
      }
      case YAML_MAPPING_START_EVENT: {
        if (!spend(1)) return false;
        out.type = NodeType::kMap;
        std::string anchor = anchorOf();
        if (!next()) return failed(parseError());
        while (event_.type != YAML_MAPPING_END_EVENT) {
          Node key;
          if (!node(key, depth + 1)) return false;
          MapEntry e;
          e.line = key.line;
          e.key = key.isScalar() ? std::move(key.text) : std::string("<complex key>");
          if (!node(e.value, depth + 1)) return false;
          out.fields.push_back(std::move(e));
        }
        if (!anchor.empty()) anchors_[anchor] = {out, countNodes(out)};
        return advance();
      }
      default:
        return failed(fail(line(), "unexpected YAML event"));
    }
  }

  bool advance() { return next() || failed(parseError()); }

  yaml_parser_t& parser_;
  yaml_event_t event_{};
  bool have_event_ = false;
  int line_offset_;
  YamlLimits limits_;
  size_t budget_;
  YamlError error_;
  std::map<std::string, std::pair<Node, size_t>> anchors_;  // name -> (value, node count)
};

// libyaml refuses a plain scalar in a flow collection when a ':' is followed by ',' ']' or '}'
// (`[10.0.0.1, 2001:db8::]`); Go's YAML reader, which Kubernetes uses, reads it as the string
// "2001:db8::". On that one error the scalar is quoted and the document parsed again. Returns
// false when the error is another one.
bool quoteFlowScalarEndingInColon(const yaml_parser_t& parser, std::string& text) {
  if (!parser.problem || std::string_view(parser.problem) != "found unexpected ':'") return false;
  size_t start = parser.context_mark.index;
  size_t colon = parser.problem_mark.index;
  if (start >= colon || colon >= text.size() || text[colon] != ':') return false;
  size_t end = colon + 1;
  while (end < text.size() && text[end] != ',' && text[end] != ']' && text[end] != '}' &&
         text[end] != ' ' && text[end] != '\n') {
    ++end;
  }
  std::string_view scalar(text.data() + start, end - start);
  if (scalar.find_first_of("\"\\") != std::string_view::npos) return false;
  text.insert(end, 1, '"');
  text.insert(start, 1, '"');
  return true;
}

}  // namespace

common::Result<Node, YamlError> parseYamlDocument(std::string_view text, int line_offset,
                                                  const YamlLimits& limits) {
  std::string patched;
  std::string_view input = text;
  for (int attempt = 0;; ++attempt) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return common::unexpected(YamlError{0, "out of memory"});
    std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> guard(&parser, yaml_parser_delete);
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(input.data()),
                                 input.size());
    common::Result<Node, YamlError> result = Builder(parser, line_offset, limits).run();
    if (result.ok() || attempt >= 16) return result;
    if (patched.empty()) patched.assign(text);
    if (!quoteFlowScalarEndingInColon(parser, patched)) return result;
    input = patched;
  }
}

}  // namespace halyard::config
