#include "config/validate/validate_report.h"

#include <charconv>

namespace halyard::config {

const Node* ObjectReport::node(std::string_view path) const {
  // The path grammar of Object::lineOf: keys separated by '.', list indices and map keys in [].
  const Node* cur = &obj_.root;
  size_t i = 0;
  while (cur && i < path.size()) {
    if (path[i] == '.') {
      ++i;
    } else if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos) return nullptr;
      std::string_view inner = path.substr(i + 1, close - i - 1);
      i = close + 1;
      size_t n = 0;
      auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
      if (cur->isList() && ec == std::errc() && end == inner.data() + inner.size()) {
        cur = n < cur->items.size() ? &cur->items[n] : nullptr;
      } else {
        cur = cur->get(inner);
      }
    } else {
      size_t end = path.find_first_of(".[", i);
      if (end == std::string_view::npos) end = path.size();
      cur = cur->get(path.substr(i, end - i));
      i = end;
    }
  }
  return cur;
}

void ObjectReport::error(const std::string& path, std::string_view what, std::string_view found,
                         std::string_view expected) {
  std::string message = path + ": " + std::string(what) + " (" + std::string(found) +
                        ", expected " + std::string(expected) + ")";
  report(msg::kSchemaValidationError, path, std::move(message));
}

bool ObjectReport::fail(const std::string& path, const Check& check, std::string_view found) {
  if (!check) return false;
  error(path, check->what, found, check->expected);
  return true;
}

void ObjectReport::report(const msg::MessageType& type, const std::string& path,
                          std::string message) {
  Diagnostic d;
  d.code = std::string(type.code);
  d.type = std::string(type.name);
  d.level = type.level;
  d.resource = obj_.ref();
  d.pos = obj_.posOf(path);
  d.field_path = path;
  d.message = std::move(message);
  out_.push_back(std::move(d));
}

std::string indexPath(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string keyPath(const std::string& path, std::string_view map_key) {
  return path + "[" + std::string(map_key) + "]";
}

}  // namespace halyard::config
