#include "control/store/config_store.h"

#include <algorithm>

#include "config/validate/analyze.h"
#include "config/validate/messages.h"

namespace halyard::control {

namespace {

// The API groups whose kinds translation reads (config/yaml/config_set_builder.h).
constexpr const char* kTranslatedGroups[] = {"networking.istio.io", "security.istio.io", ""};

std::string makeKey(const std::string& group, const std::string& kind, const std::string& ns,
                    const std::string& name) {
  return group + "/" + kind + "/" + (ns.empty() ? std::string("default") : ns) + "/" + name;
}

bool isError(const config::Diagnostic& d) {
  return d.level == config::Level::kError;
}

}  // namespace

std::string ConfigStore::keyOf(const config::Object& o) {
  // An object without a name is invalid; its position keeps it apart from the others.
  std::string key = makeKey(o.group, o.kind, o.namespace_, o.name);
  if (o.name.empty()) key += "@" + o.pos.str();
  return key;
}

void ConfigStore::update(const SourceUpdate& update) {
  std::map<std::string, ValidatedFile> files;
  for (const auto& f : update.files) {
    auto it = files_.find(f->path);
    if (it != files_.end() && it->second.file == f) {
      files.emplace(f->path, std::move(it->second));
      continue;
    }
    ValidatedFile v{f, {}};
    v.per_object.reserve(f->objects.size());
    for (const auto& o : f->objects) {
      config::Diagnostics d;
      config::validateOne(o, d);
      v.per_object.push_back(std::move(d));
    }
    files.emplace(f->path, std::move(v));
  }
  files_ = std::move(files);

  entries_.clear();
  order_.clear();
  problems_.clear();
  for (const auto& e : update.errors) {
    config::Diagnostic d;
    d.code = std::string(config::msg::kInvalidYaml.code);
    d.type = "SourceError";
    d.message = e;
    problems_.push_back(std::move(d));
  }
  for (const auto& [path, vf] : files_) {
    problems_.insert(problems_.end(), vf.file->diagnostics.begin(), vf.file->diagnostics.end());
    for (size_t i = 0; i < vf.file->objects.size(); ++i) {
      const config::Object& o = vf.file->objects[i];
      const std::string key = keyOf(o);
      Entry e{Version{vf.file, i}, o.pos, o.ref(), {}};
      for (const auto& d : vf.per_object[i]) (isError(d) ? e.problems : problems_).push_back(d);
      auto [it, inserted] = entries_.try_emplace(key);
      if (!inserted) {
        // As with a second `kubectl apply`, the later definition is the one that counts.
        config::Diagnostic d;
        d.code = std::string(config::msg::kDuplicateResource.code);
        d.type = std::string(config::msg::kDuplicateResource.name);
        d.level = config::msg::kDuplicateResource.level;
        d.resource = it->second.resource;
        d.pos = it->second.pos;
        d.message = "defined again at " + o.pos.str() + "; the later definition is the one served";
        problems_.push_back(std::move(d));
        order_.erase(std::find(order_.begin(), order_.end(), key));
      }
      it->second = std::move(e);
      order_.push_back(key);
    }
  }
  // A file with a document that does not parse keeps the objects it no longer defines.
  for (const auto& [key, good] : last_good_) {
    if (entries_.count(key)) continue;
    auto file = files_.find(good.file->path);
    if (file == files_.end()) continue;  // the file is gone: so is the object
    Entry e{std::nullopt, {}, good.object().ref(), {}};
    for (const auto& d : file->second.file->diagnostics) {
      if (isError(d)) e.problems.push_back(d);
    }
    if (e.problems.empty()) continue;  // the file parses and no longer defines it: deleted
    e.pos = e.problems.front().pos;
    entries_.emplace(key, std::move(e));
    order_.push_back(key);
  }
}

bool ConfigStore::quarantine(const config::Diagnostics& problems) {
  bool added = false;
  for (const auto& d : problems) {
    if (!isError(d) || d.resource.kind.empty()) continue;
    for (const char* group : kTranslatedGroups) {
      auto it =
          entries_.find(makeKey(group, d.resource.kind, d.resource.namespace_, d.resource.name));
      if (it == entries_.end() || !it->second.current) continue;
      if (it->second.problems.empty()) added = true;
      it->second.problems.push_back(d);
    }
  }
  return added;
}

std::vector<config::Object> ConfigStore::effective() const {
  std::vector<config::Object> out;
  out.reserve(order_.size());
  for (const auto& key : order_) {
    const Entry& e = entries_.at(key);
    if (e.problems.empty() && e.current) {
      out.push_back(e.current->object());
    } else if (auto good = last_good_.find(key); good != last_good_.end()) {
      out.push_back(good->second.object());
    }
  }
  return out;
}

void ConfigStore::commit() {
  std::map<std::string, Version> next;
  for (const auto& key : order_) {
    const Entry& e = entries_.at(key);
    if (e.problems.empty() && e.current) {
      next.emplace(key, *e.current);
    } else if (auto good = last_good_.find(key); good != last_good_.end()) {
      next.emplace(key, good->second);
    }
  }
  last_good_ = std::move(next);
}

std::vector<QuarantineEntry> ConfigStore::quarantined() const {
  std::vector<QuarantineEntry> out;
  for (const auto& key : order_) {
    const Entry& e = entries_.at(key);
    if (e.problems.empty()) continue;
    out.push_back(QuarantineEntry{e.resource, e.pos, last_good_.count(key) > 0, e.problems});
  }
  return out;
}

}  // namespace halyard::control
