// Each document is parsed on its own (yaml_parser.h), so a syntax error in one does not lose the
// others.
#include "config/yaml/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config/yaml/yaml_parser.h"

namespace halyard::config {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxNodesPerDocument = 2'000'000;
constexpr int kMaxNesting = 100;

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
    out.diagnostics.push_back(
        loadError(file, root.line ? root.line : doc_line, "NotAnObject",
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
      out.diagnostics.push_back(
          loadError(file, line, "NotAnObject", "kind: List needs an \"items\" array"));
      return;
    }
    if (depth > 4) return;
    Node owned = std::move(*root.get("items"));
    for (auto& item : owned.items) {
      if (!item.isMap()) {
        out.diagnostics.push_back(
            loadError(file, item.line, "NotAnObject", "an item of a List is not an object"));
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
    if (!blank) {
      YamlLimits limits;
      limits.max_depth = kMaxNesting;
      limits.max_nodes = kMaxNodesPerDocument;
      auto root = parseYamlDocument(doc, doc_start_line, limits);
      if (root.ok()) {
        addDocument(std::move(*root), file, doc_start_line + 1, out, options);
      } else {
        const bool syntax = !root.error().limit_exceeded;
        out.diagnostics.push_back(
            loadError(file, root.error().line ? root.error().line : doc_start_line + 1,
                      "InvalidYAML", (syntax ? "YAML syntax error: " : "") + root.error().message));
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
  YamlLimits limits;
  limits.max_depth = kMaxNesting;
  limits.max_nodes = kMaxNodesPerDocument;
  auto root = parseYamlDocument(text, 0, limits);
  if (!root.ok()) {
    return common::unexpected(file_name + ":" + std::to_string(root.error().line) + ": " +
                              root.error().message);
  }
  return std::move(*root);
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
        if (it->is_regular_file(ec) && hasLoadableExtension(it->path()))
          files.push_back(it->path());
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
