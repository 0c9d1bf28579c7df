// Feeds arbitrary bytes through the whole `halyard analyze` path: YAML loading, schema and
// per-object validation, and every analyzer. Nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/validate/analyze.h"
#include "config/yaml/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace halyard::config;
  LoadResult loaded;
  loadText(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml", loaded);
  AnalyzeOptions options;
  Diagnostics out = analyzeObjects(std::move(loaded.objects), options);
  return 0;
}
