// Where a configuration object or field came from, so every diagnostic can name file:line.
#pragma once

#include <memory>
#include <string>

namespace halyard::common {

struct SourcePos {
  // Shared so that thousands of objects from one file do not copy its path.
  std::shared_ptr<const std::string> file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  const std::string& fileName() const {
    static const std::string kNone;
    return file ? *file : kNone;
  }
  // "routes.yaml:17", or "routes.yaml" when the line is unknown.
  std::string str() const {
    if (line <= 0) return fileName();
    return fileName() + ":" + std::to_string(line);
  }
};

}  // namespace halyard::common
