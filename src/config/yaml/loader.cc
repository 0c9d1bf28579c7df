// yaml-cpp is used only here: each document is parsed on its own (so a syntax error in one does
// not lose the others) and converted into config::Node, resolving plain scalars with YAML 1.2's
// core schema.
#include "config/yaml/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace halyard::config {

namespace fs = std::filesystem;

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool allOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool isHexDigit(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isOctDigit(char c) { return c >= '0' && c <= '7'; }

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
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
  size_t i = 0;
  size_t int_digits = 0;
  while (i < body.size() && isDigit(body[i])) ++i, ++int_digits;
  size_t frac_digits = 0;
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

// Limits that keep hostile input from exhausting the stack (yaml-cpp recurses per nesting level)
// or memory (aliases to aliases expand exponentially when converted).
constexpr int kMaxNesting = 100;
constexpr int kMaxIndent = 500;
constexpr size_t kMaxNodesPerDocument = 2'000'000;

// Deepest flow nesting ([ and { outside quotes and comments) and widest indentation of a document;
// checked before yaml-cpp sees it.
bool nestingTooDeep(std::string_view doc) {
  int depth = 0;
  int max_depth = 0;
  char quote = 0;
  bool line_start = true;
  int indent = 0;
  for (size_t i = 0; i < doc.size(); ++i) {
    char c = doc[i];
    if (c == '\n') {
      line_start = true;
      indent = 0;
      if (quote == '\'') quote = 0;  // single-quoted scalars rarely span lines; stay robust
      continue;
    }
    if (line_start) {
      if (c == ' ') {
        if (++indent > kMaxIndent) return true;
        continue;
      }
      line_start = false;
    }
    if (quote) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || doc[i - 1] == ' ' || doc[i - 1] == '\t')) {
      while (i < doc.size() && doc[i] != '\n') ++i;
      --i;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxNesting) return true;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return false;
}

// yaml-cpp reads a plain scalar ending in ':' right before ',' or ']' in a flow sequence
// (`[10.0.0.1, 2001:db8::]`) as a one-entry map with a null value; Go's YAML reader, which
// Kubernetes uses, reads the string "2001:db8::". Recognised from the source text at the key.
bool isFlowScalarEndingInColon(const YAML::Node& y, std::string_view src) {
  if (y.size() != 1) return false;
  auto kv = y.begin();
  if (!kv->first.IsScalar() || kv->first.Tag() != "?" || !kv->second.IsNull()) return false;
  const std::string& key = kv->first.Scalar();
  const int pos = kv->first.Mark().pos;
  if (pos < 0 || static_cast<size_t>(pos) + key.size() + 1 >= src.size()) return false;
  if (src.substr(pos, key.size()) != key || src[pos + key.size()] != ':') return false;
  const char next = src[pos + key.size() + 1];
  return next == ',' || next == ']';
}

Node convert(const YAML::Node& y, int line_offset, int depth, size_t& budget,
             std::string_view src) {
  Node n;
  if (budget == 0) return n;
  --budget;
  const YAML::Mark mark = y.Mark();
  n.line = mark.line >= 0 ? mark.line + 1 + line_offset : 0;
  n.column = mark.column >= 0 ? mark.column + 1 : 0;
  if (depth > kMaxNesting * 2) return n;  // absurd nesting: stop rather than overflow
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.type = NodeType::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.text = y.Scalar();
      // Tag "!" marks a quoted or block scalar (always a string); "?" a plain one.
      n.type = y.Tag() == "?" ? resolvePlain(n.text) : NodeType::kString;
      if (y.Tag() != "?" && y.Tag() != "!") {
        // Explicit tags: honour the common ones, treat the rest as strings.
        const std::string& tag = y.Tag();
        if (tag == "tag:yaml.org,2002:int") n.type = NodeType::kInt;
        if (tag == "tag:yaml.org,2002:float") n.type = NodeType::kDouble;
        if (tag == "tag:yaml.org,2002:bool") n.type = NodeType::kBool;
        if (tag == "tag:yaml.org,2002:null") n.type = NodeType::kNull;
      }
      break;
    case YAML::NodeType::Sequence:
      n.type = NodeType::kList;
      n.items.reserve(y.size());
      for (const auto& item : y) n.items.push_back(convert(item, line_offset, depth + 1, budget, src));
      break;
    case YAML::NodeType::Map:
      if (isFlowScalarEndingInColon(y, src)) {
        n.type = NodeType::kString;
        n.text = y.begin()->first.Scalar() + ":";
        break;
      }
      n.type = NodeType::kMap;
      n.fields.reserve(y.size());
      for (const auto& kv : y) {
        MapEntry e;
        e.key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<complex key>");
        const YAML::Mark km = kv.first.Mark();
        e.line = km.line >= 0 ? km.line + 1 + line_offset : n.line;
        e.value = convert(kv.second, line_offset, depth + 1, budget, src);
        n.fields.push_back(std::move(e));
      }
      break;
  }
  return n;
}

Diagnostic loadError(const std::shared_ptr<const std::string>& file, int line, std::string type,
                     std::string message) {
  Diagnostic d;
  d.code = "HAL0001";
  d.type = std::move(type);
  d.level = Level::kError;
  d.pos.file = file;
  d.pos.line = line;
  d.message = std::move(message);
  return d;
}

std::map<std::string, std::string> stringMap(const Node* n) {
  std::map<std::string, std::string> out;
  if (!n || !n->isMap()) return out;
  for (const auto& e : n->fields) {
    if (e.value.isScalar()) out[e.key] = e.value.text;
  }
  return out;
}

std::string scalarText(const Node* n) {
  if (!n || !n->isScalar() || n->isNull()) return {};
  return n->text;
}

void addObject(Node root, const std::shared_ptr<const std::string>& file, LoadResult& out,
               const LoadOptions& options, int depth);

void addDocument(Node root, const std::shared_ptr<const std::string>& file, int doc_line,
                 LoadResult& out, const LoadOptions& options) {
  if (root.isNull()) return;  // empty document (comments only, or a trailing "---")
  if (!root.isMap()) {
    out.diagnostics.push_back(loadError(
        file, root.line ? root.line : doc_line, "NotAnObject",
        std::string("document is not a Kubernetes object: found ") + toString(root.type) +
            " (expected a map with apiVersion, kind and metadata)"));
    return;
  }
  addObject(std::move(root), file, out, options, 0);
}

void addObject(Node root, const std::shared_ptr<const std::string>& file, LoadResult& out,
               const LoadOptions& options, int depth) {
  if (options.strip_test_error_key) root.erase("_err");
  const Node* kind = root.get("kind");
  const Node* api = root.get("apiVersion");
  const int line = root.fields.empty() ? root.line : root.fields.front().line;
  if (!kind || !kind->isString() || kind->text.empty() || !api || !api->isString() ||
      api->text.empty()) {
    std::string missing = (!api || !api->isString() || api->text.empty()) ? "apiVersion" : "kind";
    out.diagnostics.push_back(
        loadError(file, line, "NotAnObject",
                  "document is not a Kubernetes object: missing or empty \"" + missing +
                      "\" (expected a string such as apiVersion: networking.istio.io/v1, "
                      "kind: VirtualService)"));
    return;
  }
  // kind: List (and *List) wraps objects in `items`.
  if (kind->text == "List" && api->text == "v1") {
    const Node* items = root.get("items");
    if (!items || !items->isList()) {
      out.diagnostics.push_back(loadError(file, line, "NotAnObject",
                                          "kind: List needs an \"items\" array"));
      return;
    }
    if (depth > 4) return;
    Node owned = std::move(*root.get("items"));
    for (auto& item : owned.items) {
      if (!item.isMap()) {
        out.diagnostics.push_back(loadError(file, item.line, "NotAnObject",
                                            "an item of a List is not an object"));
        continue;
      }
      addObject(std::move(item), file, out, options, depth + 1);
    }
    return;
  }
  Object obj;
  obj.api_version = api->text;
  obj.kind = kind->text;
  auto slash = obj.api_version.rfind('/');
  if (slash == std::string::npos) {
    obj.version = obj.api_version;
  } else {
    obj.group = obj.api_version.substr(0, slash);
    obj.version = obj.api_version.substr(slash + 1);
  }
  if (const Node* meta = root.get("metadata"); meta && meta->isMap()) {
    obj.name = scalarText(meta->get("name"));
    obj.namespace_ = scalarText(meta->get("namespace"));
    obj.labels = stringMap(meta->get("labels"));
    obj.annotations = stringMap(meta->get("annotations"));
    obj.creation_timestamp = scalarText(meta->get("creationTimestamp"));
  }
  obj.pos.file = file;
  obj.pos.line = line;
  obj.root = std::move(root);
  out.objects.push_back(std::move(obj));
}

bool isDocumentMarker(std::string_view line) {
  if (line.size() < 3) return false;
  if (!(line.starts_with("---") || line.starts_with("..."))) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool hasLoadableExtension(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

void loadFile(const fs::path& path, LoadResult& out, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.io_errors.push_back("cannot read " + path.string());
    return;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out.files.push_back(path.string());
  std::string text = ss.str();
  if (text.find("{{") != std::string::npos) {
    ++out.skipped_templates;
    return;
  }
  loadText(text, path.string(), out, options);
}

}  // namespace

void loadText(std::string_view text, const std::string& file_name, LoadResult& out,
              const LoadOptions& options) {
  auto file = std::make_shared<const std::string>(file_name);
  // Split into documents at "---" / "..." lines ourselves, so each parses independently.
  size_t pos = 0;
  int line_no = 0;
  int doc_start_line = 0;  // 0-based line where the current document's text starts
  std::string doc;
  auto flush = [&]() {
    bool blank = std::all_of(doc.begin(), doc.end(), [](char c) {
      return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    });
    if (!blank && nestingTooDeep(doc)) {
      out.diagnostics.push_back(loadError(
          file, doc_start_line + 1, "InvalidYAML",
          "document nested too deeply (over " + std::to_string(kMaxNesting) +
              " levels of [ ] / { } or " + std::to_string(kMaxIndent) + " columns of indentation)"));
    } else if (!blank) {
      try {
        YAML::Node y = YAML::Load(doc);
        size_t budget = kMaxNodesPerDocument;
        Node root = convert(y, doc_start_line, 0, budget, doc);
        if (budget == 0) {
          out.diagnostics.push_back(loadError(
              file, doc_start_line + 1, "InvalidYAML",
              "document too large: over " + std::to_string(kMaxNodesPerDocument) +
                  " values once aliases are expanded"));
        } else {
          addDocument(std::move(root), file, doc_start_line + 1, out, options);
        }
      } catch (const YAML::Exception& e) {
        int line = e.mark.line >= 0 ? e.mark.line + 1 + doc_start_line : doc_start_line + 1;
        out.diagnostics.push_back(
            loadError(file, line, "InvalidYAML", "YAML syntax error: " + e.msg));
      } catch (const std::exception& e) {
        out.diagnostics.push_back(
            loadError(file, doc_start_line + 1, "InvalidYAML", std::string("YAML error: ") + e.what()));
      }
    }
    doc.clear();
  };
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (isDocumentMarker(line)) {
      flush();
      doc_start_line = line_no;
      // Keep the marker's own content ("--- {a: 1}") on its line; blank out the marker.
      doc.append(line.size() > 3 ? std::string("   ") + std::string(line.substr(3)) : "");
      doc.push_back('\n');
    } else {
      doc.append(line);
      doc.push_back('\n');
    }
    ++line_no;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  flush();
}

common::Result<Node, std::string> parseYaml(std::string_view text, const std::string& file_name) {
  try {
    if (nestingTooDeep(text)) return common::unexpected(file_name + ": document nested too deeply");
    size_t budget = kMaxNodesPerDocument;
    Node root = convert(YAML::Load(std::string(text)), 0, 0, budget, text);
    if (budget == 0) return common::unexpected(file_name + ": document too large");
    return root;
  } catch (const YAML::Exception& e) {
    return common::unexpected(file_name + ":" + std::to_string(e.mark.line + 1) +
                              ": YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    return common::unexpected(file_name + ": YAML error: " + std::string(e.what()));
  }
}

LoadResult loadPaths(const std::vector<std::string>& paths, const LoadOptions& options) {
  LoadResult out;
  for (const auto& p : paths) {
    std::error_code ec;
    fs::path path(p);
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      out.io_errors.push_back("no such file or directory: " + p);
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && hasLoadableExtension(it->path())) files.push_back(it->path());
      }
      if (ec) out.io_errors.push_back("cannot list " + p + ": " + ec.message());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) loadFile(f, out, options);
    } else {
      loadFile(path, out, options);
    }
  }
  return out;
}

}  // namespace halyard::config
