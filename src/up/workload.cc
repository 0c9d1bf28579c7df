#include "up/workload.h"

#include <filesystem>
#include <set>

namespace halyard::up {

namespace {

using config::MapEntry;
using config::Node;
using config::Object;

constexpr const char* kSpecFields = "serviceAccount, service, command, env, workingDir, port";

// Kubernetes names (DNS-1123 labels): they also become log file names.
bool isDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool isEnvName(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

class Decoder {
 public:
  Decoder(const Object& obj, std::vector<WorkloadProblem>& problems)
      : obj_(obj), problems_(problems) {}

  Workload decode() {
    Workload w;
    w.pos = obj_.pos;
    w.name_pos = obj_.posOf("metadata.name");
    w.service_pos = obj_.posOf("spec.service");
    w.command_pos = obj_.posOf("spec.command[0]");
    w.working_dir_pos = obj_.posOf("spec.workingDir");
    w.port_pos = obj_.posOf("spec.port");
    w.name = obj_.name;
    if (!isDnsLabel(w.name)) {
      fail("metadata.name", w.name.empty()
                                ? "required"
                                : "\"" + w.name + "\" must be lowercase letters, digits and '-'");
    }
    if (!obj_.namespace_.empty()) w.namespace_ = obj_.namespace_;
    w.labels = obj_.labels;
    const Node* spec = obj_.spec();
    if (!spec || !spec->isMap()) {
      fail("spec", "required: a map with command and port");
      return w;
    }
    for (const MapEntry& e : spec->fields) {
      const std::string field = "spec." + e.key;
      if (e.key == "serviceAccount") {
        w.service_account = text(e.value, field);
      } else if (e.key == "service") {
        w.service = text(e.value, field);
      } else if (e.key == "workingDir") {
        w.working_dir = text(e.value, field);
      } else if (e.key == "command") {
        decodeCommand(e.value, w);
      } else if (e.key == "env") {
        decodeEnv(e.value, w);
      } else if (e.key == "port") {
        auto port = e.value.asInt();
        if (!port || *port < 1 || *port > 65535) {
          fail(field, "must be a port number (1-65535), got " + e.value.toJson());
        } else {
          w.port = static_cast<uint16_t>(*port);
        }
      } else {
        fail(field, "unknown field (known: " + std::string(kSpecFields) + ")");
      }
    }
    if (!spec->get("command")) fail("spec.command", "required: the program and its arguments");
    if (!spec->get("port")) fail("spec.port", "required: the port the app listens on");
    if (w.service_account.empty()) w.service_account = w.name;
    resolveWorkingDir(w);
    return w;
  }

 private:
  void fail(const std::string& field, std::string message) {
    problems_.push_back({obj_.posOf(field), field, std::move(message)});
  }

  std::string text(const Node& n, const std::string& field) {
    if (!n.isString() || n.text.empty()) {
      fail(field, "must be a non-empty string, got " + n.toJson());
      return {};
    }
    return n.text;
  }

  void decodeCommand(const Node& n, Workload& w) {
    if (!n.isList() || n.items.empty()) {
      fail("spec.command", "must be a non-empty list: [program, arg, ...]");
      return;
    }
    for (size_t i = 0; i < n.items.size(); ++i) {
      const Node& item = n.items[i];
      auto t = item.asText();
      // Numbers and booleans are fine as arguments ("--workers, 2"); null, lists and maps not.
      if (!t || item.isNull() || (i == 0 && t->empty())) {
        fail("spec.command[" + std::to_string(i) + "]", "must be a string, got " + item.toJson());
        continue;
      }
      w.command.emplace_back(*t);
    }
  }

  // A map (NAME: value) or Kubernetes' list of {name, value}.
  void decodeEnv(const Node& n, Workload& w) {
    auto add = [&](const std::string& field, const std::string& name, const Node* value) {
      if (!isEnvName(name)) {
        fail(field, "\"" + name + "\" is not an environment variable name");
        return;
      }
      auto t = value ? value->asText() : std::nullopt;
      if (!t || value->isNull()) {
        fail(field, "the value must be a string");
        return;
      }
      w.env.emplace_back(name, std::string(*t));
    };
    if (n.isMap()) {
      for (const MapEntry& e : n.fields) add("spec.env." + e.key, e.key, &e.value);
    } else if (n.isList()) {
      for (size_t i = 0; i < n.items.size(); ++i) {
        const Node& item = n.items[i];
        const std::string field = "spec.env[" + std::to_string(i) + "]";
        const Node* name = item.get("name");
        if (!name || !name->isString()) {
          fail(field, "needs name and value");
          continue;
        }
        add(field, name->text, item.get("value"));
      }
    } else {
      fail("spec.env", "must be a map of NAME: value (or a list of {name, value})");
    }
  }

  // Relative paths are relative to the declaring file, so a directory of declarations works from
  // wherever `halyard up` is started.
  void resolveWorkingDir(Workload& w) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path base = fs::absolute(fs::path(obj_.pos.fileName()).parent_path(), ec);
    fs::path dir = w.working_dir.empty() ? base : base / w.working_dir;
    w.working_dir = dir.lexically_normal().string();
    if (w.working_dir.size() > 1 && w.working_dir.back() == '/') w.working_dir.pop_back();
  }

  const Object& obj_;
  std::vector<WorkloadProblem>& problems_;
};

}  // namespace

std::string WorkloadProblem::str() const {
  std::string out = pos.str();
  out += out.empty() ? "" : ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

bool isWorkload(const config::Object& obj) {
  return obj.api_version == kWorkloadApiVersion && obj.kind == kWorkloadKind;
}

WorkloadSet decodeWorkloads(const std::vector<config::Object>& objects) {
  WorkloadSet out;
  std::map<std::string, const Workload*> by_name;
  std::map<uint16_t, const Workload*> by_port;
  for (const Object& obj : objects) {
    if (!isWorkload(obj)) continue;
    out.workloads.push_back(Decoder(obj, out.problems).decode());
  }
  for (const Workload& w : out.workloads) {
    if (auto [it, fresh] = by_name.emplace(w.name, &w); !fresh) {
      // Names are unique across namespaces too: they name the processes and their log files.
      out.problems.push_back(
          {w.name_pos, "metadata.name",
           "workload \"" + w.name + "\" is already declared at " + it->second->name_pos.str()});
    }
    if (w.port == 0) continue;
    if (auto [it, fresh] = by_port.emplace(w.port, &w); !fresh) {
      out.problems.push_back({w.port_pos, "spec.port",
                              "port " + std::to_string(w.port) + " is already the port of " +
                                  it->second->name + " (" + it->second->port_pos.str() + ")"});
    }
  }
  return out;
}

}  // namespace halyard::up
