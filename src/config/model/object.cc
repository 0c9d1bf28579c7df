#include "config/model/object.h"

#include <charconv>

namespace halyard::config {

int Object::lineOf(std::string_view field_path) const {
  // Walks "a.b[2].c" through the tree, remembering the last line found.
  const Node* cur = &root;
  int line = pos.line;
  size_t i = 0;
  while (i < field_path.size() && cur) {
    if (field_path[i] == '.') {
      ++i;
      continue;
    }
    if (field_path[i] == '[') {
      size_t close = field_path.find(']', i);
      if (close == std::string_view::npos) break;
      std::string_view idx = field_path.substr(i + 1, close - i - 1);
      i = close + 1;
      size_t n = 0;
      auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), n);
      if (ec == std::errc() && p == idx.data() + idx.size() && cur->isList()) {
        if (n >= cur->items.size()) break;
        cur = &cur->items[n];
      } else if (cur->isMap()) {
        // Map keys written as [key] (e.g. labels[app]).
        const MapEntry* e = cur->entry(idx);
        if (!e) break;
        line = e->line ? e->line : line;
        cur = &e->value;
      } else {
        break;
      }
      if (cur->line) line = cur->line;
      continue;
    }
    size_t end = field_path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = field_path.size();
    std::string_view key = field_path.substr(i, end - i);
    i = end;
    const MapEntry* e = cur->entry(key);
    if (!e) break;
    // The key's line is where a user looks for a field (a nested map starts one line below).
    line = e->line ? e->line : (e->value.line ? e->value.line : line);
    cur = &e->value;
  }
  return line;
}

}  // namespace halyard::config
