#include "proxy/runtime/config_fingerprint.h"

#include <filesystem>
#include <functional>
#include <system_error>

namespace halyard::proxy::runtime {

namespace fs = std::filesystem;

namespace {

// The files the config loader reads; other files (logs, editor backups) never cause a reload.
bool isConfigFile(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

uint64_t configFingerprint(const std::string& dir) {
  std::error_code ec;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the parts, order-independent via xor-sum
  uint64_t sum = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec) return 0;
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return 0;
    const fs::path& p = it->path();
    if (!it->is_regular_file(ec) || !isConfigFile(p)) continue;
    const auto size = it->file_size(ec);
    const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    uint64_t part = std::hash<std::string>{}(p.string());
    part ^= static_cast<uint64_t>(size) * 0x9e3779b97f4a7c15ull;
    part ^= static_cast<uint64_t>(mtime) * 0xbf58476d1ce4e5b9ull;
    sum += part;
  }
  return (h ^ sum) | 1;  // never 0, which means "unreadable"
}

}  // namespace halyard::proxy::runtime
