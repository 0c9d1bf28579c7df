// Loads Istio / Kubernetes configuration: files and directories (recursive; *.yaml, *.yml,
// *.json), multi-document YAML, `kind: List`, JSON. A broken document is reported and skipped;
// it never stops the other documents or files from loading.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/model/diagnostic.h"
#include "config/model/object.h"

namespace halyard::config {

struct LoadOptions {
  // Strip the top-level `_err` key of Istio's CRD test documents (it is not part of the object).
  bool strip_test_error_key = false;
};

struct LoadResult {
  std::vector<Object> objects;
  Diagnostics diagnostics;         // YAML syntax errors, documents that are not objects, I/O errors
  std::vector<std::string> files;  // every file read, in order
  int skipped_templates = 0;       // files containing Go template markers ("{{"), not parsed
  std::vector<std::string> io_errors;  // "no such file or directory: routes.yaml"
};

// Reads every path (a file or a directory, recursively, in sorted order).
LoadResult loadPaths(const std::vector<std::string>& paths, const LoadOptions& options = {});

// Parses one file's text; `file_name` is used for positions.
void loadText(std::string_view text, const std::string& file_name, LoadResult& out,
              const LoadOptions& options = {});

}  // namespace halyard::config

namespace halyard::config {

// Parses the first YAML document of `text` into a Node (for files that are not Kubernetes
// objects, such as a bare MeshConfig). The error names file:line.
common::Result<Node, std::string> parseYaml(std::string_view text, const std::string& file_name);

}  // namespace halyard::config
