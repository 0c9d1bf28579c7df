#include "translate/telemetry_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <optional>
#include <string_view>
#include <variant>

#include "config/model/host_name.h"
#include "config/yaml/loader.h"
#include "translate/mesh_settings.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace {

using config::Node;

std::string str(const Node* n) {
  return n && n->isScalar() && !n->isNull() ? n->text : std::string();
}

// A provider name as MeshConfig declares it: Istio finds providers by name without regard to
// case (strings.EqualFold), so "Zipkin" names the "zipkin" provider. Names nothing declares are
// kept as written (the built-in "envoy" included) and reported where they are resolved.
template <class Map>
std::string declaredName(const Map& declared, const std::string& name) {
  if (declared.contains(name)) return name;
  auto fold = [](unsigned char c) { return std::tolower(c); };
  for (const auto& [known, _] : declared) {
    if (known.size() == name.size() &&
        std::equal(known.begin(), known.end(), name.begin(),
                   [&](char a, char b) { return fold(a) == fold(b); })) {
      return known;
    }
  }
  if (name.size() == 5 && std::equal(name.begin(), name.end(), "envoy",
                                     [&](char a, char b) { return fold(a) == fold(b); })) {
    return "envoy";
  }
  return name;
}

// "zipkin.istio-system.svc.cluster.local", "istio-system/zipkin.example.com", "127.0.0.1".
std::string collectorHost(const std::string& service) {
  const auto slash = service.find('/');
  return slash == std::string::npos ? service : service.substr(slash + 1);
}

void readProvider(const Node& p, MeshTelemetry& out) {
  const std::string name = str(p.get("name"));
  if (name.empty()) {
    out.problems.push_back("MeshConfig extensionProviders: a provider has no name; it is ignored");
    return;
  }
  auto collector = [&](const Node& spec, TracingProvider::Kind kind,
                       const std::string& default_path) {
    TracingProvider t;
    t.name = name;
    t.kind = kind;
    t.host = collectorHost(str(spec.get("service")));
    const auto port = spec.get("port") ? spec.get("port")->asDouble() : std::nullopt;
    if (t.host.empty() || !port || *port < 1 || *port > 65535) {
      out.problems.push_back("MeshConfig extensionProviders " + name +
                             ": service and port (1-65535) of the collector are required; the "
                             "provider is ignored");
      return;
    }
    t.port = static_cast<uint16_t>(*port);
    t.path = default_path;
    if (const Node* http = spec.get("http"); http && !str(http->get("path")).empty()) {
      t.path = str(http->get("path"));
      if (t.path.front() != '/') t.path = "/" + t.path;
    }
    if (const Node* m = spec.get("maxTagLength"); m && m->asDouble() && *m->asDouble() > 0) {
      t.max_tag_length = static_cast<uint32_t>(*m->asDouble());
    }
    out.tracing_providers[name] = std::move(t);
  };
  if (const Node* z = p.get("zipkin"); z && z->isMap()) {
    collector(*z, TracingProvider::Kind::kZipkin, "/api/v2/spans");
  } else if (const Node* o = p.get("opentelemetry"); o && o->isMap()) {
    collector(*o, TracingProvider::Kind::kOpenTelemetry, "/v1/traces");
  } else if (const Node* f = p.get("envoyFileAccessLog"); f && f->isMap()) {
    AccessLogProvider a;
    a.name = name;
    a.path = str(f->get("path"));
    if (a.path.empty()) a.path = "/dev/stdout";
    out.access_log_files[name] = a.path;
    if (const Node* format = f->get("logFormat"); format && format->isMap()) {
      if (const Node* text = format->get("text"); text && text->isScalar()) {
        a.encoding = AccessLogProvider::Encoding::kText;
        a.text = str(text);
      } else if (const Node* labels = format->get("labels"); labels && labels->isMap()) {
        a.encoding = AccessLogProvider::Encoding::kLabels;
        for (const auto& e : labels->fields) a.labels.emplace_back(e.key, str(&e.value));
      }
    }
    compileAccessLogFormat(a, nullptr);
    out.access_log_providers[name] = std::move(a);
  }
  // Other kinds (envoyExtAuthz*, prometheus, stackdriver, ...) are not tracing providers.
}

// One `tracing` entry of a Telemetry: what it sets (an unset field leaves what the entries
// before it set) and the sides it applies to (match.mode).
struct TracingEntry {
  std::optional<std::vector<std::string>> providers;  // a non-empty list
  std::optional<double> sampling;
  std::optional<std::vector<TracingCustomTag>> tags;
  std::optional<bool> disable_reporting;
  std::optional<bool> use_request_id;  // useRequestIdForTraceSampling
  bool client = true;
  bool server = true;
};

std::vector<TracingEntry> readTracing(const config::Object& t, const MeshTelemetry& mesh) {
  std::vector<TracingEntry> out;
  const Node* spec = t.spec();
  const Node* tracing = spec ? spec->get("tracing") : nullptr;
  if (!tracing || !tracing->isList()) return out;
  for (const Node& n : tracing->items) {
    TracingEntry& entry = out.emplace_back();
    if (const Node* providers = n.get("providers");
        providers && providers->isList() && !providers->items.empty()) {
      std::vector<std::string> names;
      for (const Node& p : providers->items) {
        names.push_back(declaredName(mesh.tracing_providers, str(p.get("name"))));
      }
      entry.providers = std::move(names);
    }
    if (const Node* s = n.get("randomSamplingPercentage"); s && s->asDouble()) {
      entry.sampling = *s->asDouble();
    }
    if (const Node* d = n.get("disableSpanReporting"); d && d->isScalar() && !d->isNull()) {
      entry.disable_reporting = str(d) == "true";
    }
    if (const Node* u = n.get("useRequestIdForTraceSampling"); u && u->isScalar() && !u->isNull()) {
      entry.use_request_id = str(u) != "false";
    }
    const std::string mode = n.get("match") ? str(n.get("match")->get("mode")) : "";
    entry.client = mode != "SERVER";
    entry.server = mode != "CLIENT";
    if (const Node* tags = n.get("customTags"); tags && tags->isMap()) {
      std::vector<TracingCustomTag> list;
      for (const auto& e : tags->fields) {
        TracingCustomTag tag;
        tag.tag = e.key;
        if (const Node* l = e.value.get("literal")) {
          tag.kind = TracingCustomTag::Kind::kLiteral;
          tag.value = str(l->get("value"));
        } else if (const Node* h = e.value.get("header")) {
          tag.kind = TracingCustomTag::Kind::kHeader;
          tag.value = str(h->get("name"));
          std::transform(tag.value.begin(), tag.value.end(), tag.value.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          tag.default_value = str(h->get("defaultValue"));
        } else if (const Node* v = e.value.get("environment")) {
          tag.kind = TracingCustomTag::Kind::kEnvironment;
          tag.value = str(v->get("name"));
          tag.default_value = str(v->get("defaultValue"));
        } else {
          continue;  // reported (reportUnservedTracing)
        }
        list.push_back(std::move(tag));
      }
      entry.tags = std::move(list);
    }
  }
  return out;
}

// One side's tracing as the entries build it.
struct TracingSide {
  std::vector<std::string> providers;
  double sampling = 1.0;
  std::vector<TracingCustomTag> tags;
  bool disabled = false;
  bool use_request_id = true;  // Istio's default

  void apply(const TracingEntry& e) {
    if (e.providers) providers = *e.providers;
    if (e.sampling) sampling = *e.sampling;
    if (e.tags) tags = *e.tags;
    if (e.disable_reporting) disabled = *e.disable_reporting;
    if (e.use_request_id) use_request_id = *e.use_request_id;
  }
  bool operator==(const TracingSide& o) const {
    if (tags.size() != o.tags.size()) return false;
    for (size_t i = 0; i < tags.size(); ++i) {
      const auto& a = tags[i];
      const auto& b = o.tags[i];
      if (a.tag != b.tag || a.kind != b.kind || a.value != b.value ||
          a.default_value != b.default_value) {
        return false;
      }
    }
    return providers == o.providers && sampling == o.sampling && disabled == o.disabled &&
           use_request_id == o.use_request_id;
  }
};

// The label Istio puts on the deployment of a Gateway API gateway: its Gateway's name.
constexpr std::string_view kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

// targetRef / targetRefs: Istio serves kind Gateway (the Gateway API gateway a deployment runs,
// in the Telemetry's namespace); other kinds (Service, for waypoints) have no proxy here and
// select nothing. Checked by scopes() after the namespace.
bool targets(const Node& spec, const std::map<std::string, std::string>& labels) {
  std::vector<const Node*> refs;
  if (const Node* one = spec.get("targetRef"); one && one->isMap()) refs.push_back(one);
  if (const Node* many = spec.get("targetRefs"); many && many->isList()) {
    for (const Node& r : many->items) refs.push_back(&r);
  }
  const auto label = labels.find(std::string(kGatewayNameLabel));
  for (const Node* r : refs) {
    if (str(r->get("kind")) == "Gateway" && label != labels.end() &&
        label->second == str(r->get("name"))) {
      return true;
    }
  }
  return false;
}

bool selects(const config::Object& t, const std::map<std::string, std::string>& labels) {
  const Node* spec = t.spec();
  if (spec && !spec->get("selector") && (spec->get("targetRef") || spec->get("targetRefs"))) {
    return targets(*spec, labels);
  }
  const Node* selector = spec ? spec->get("selector") : nullptr;
  const Node* match = selector ? selector->get("matchLabels") : nullptr;
  std::map<std::string, std::string> wanted;
  if (match && match->isMap()) {
    for (const auto& e : match->fields) wanted[e.key] = str(&e.value);
  }
  return config::model::selectorMatches(wanted, labels);
}

bool hasSelector(const config::Object& t) {
  const Node* spec = t.spec();
  return spec && (spec->get("selector") || spec->get("targetRef") || spec->get("targetRefs"));
}

// "telemetry.yaml:12: Telemetry istio-system/mesh-default spec.tracing[1]: <what>".
std::string problemAt(const config::Object& t, const std::string& field, const std::string& what) {
  return t.posOf(field).str() + ": Telemetry " + t.namespaceOrDefault() + "/" + t.name + " " +
         field + ": " + what;
}

// What of a Telemetry's `tracing` the proxy does not apply, said rather than ignored: switches
// that turn off what the proxy always does, and custom tags of another kind (formatter).
void reportUnservedTracing(const config::Object& t, std::vector<std::string>& problems) {
  const Node* tracing = t.spec() ? t.spec()->get("tracing") : nullptr;
  if (!tracing || !tracing->isList()) return;
  for (size_t i = 0; i < tracing->items.size(); ++i) {
    const Node& entry = tracing->items[i];
    const std::string path = "spec.tracing[" + std::to_string(i) + "]";
    if (str(entry.get("disableContextPropagation")) == "true") {
      problems.push_back(problemAt(t, path + ".disableContextPropagation",
                                   "true is not served: trace headers are always propagated"));
    }
    if (str(entry.get("enableIstioTags")) == "false") {
      problems.push_back(problemAt(t, path + ".enableIstioTags",
                                   "false is not served: Istio's span tags are always set"));
    }
    if (const Node* tags = entry.get("customTags"); tags && tags->isMap()) {
      for (const auto& e : tags->fields) {
        if (!e.value.get("literal") && !e.value.get("header") && !e.value.get("environment")) {
          problems.push_back(problemAt(t, path + ".customTags." + e.key,
                                       "only literal, header and environment tags are served; "
                                       "this one is left out"));
        }
      }
    }
    const Node* match = entry.get("match");
    if (const std::string mode = match ? str(match->get("mode")) : "";
        !mode.empty() && mode != "CLIENT" && mode != "SERVER" && mode != "CLIENT_AND_SERVER") {
      problems.push_back(problemAt(t, path + ".match.mode",
                                   "\"" + mode +
                                       "\" is not a mode (CLIENT, SERVER or CLIENT_AND_SERVER); "
                                       "the entry applies to both sides"));
    }
  }
}

// targetRef kinds other than Gateway select no proxy here: said for the proxies of the
// Telemetry's namespace.
void reportUnservedTargets(const config::model::ConfigSet& config, const std::string& ns,
                           std::vector<std::string>& problems) {
  for (const auto& t : config.telemetries) {
    const Node* spec = t.spec();
    if (!spec || t.namespaceOrDefault() != ns || spec->get("selector")) continue;
    auto check = [&](const Node& ref, const std::string& field) {
      if (const std::string kind = str(ref.get("kind")); kind != "Gateway") {
        problems.push_back(problemAt(t, field + ".kind",
                                     "\"" + kind +
                                         "\" is not served (only Gateway, the Gateway API "
                                         "gateway a proxy runs); it selects no proxy here"));
      }
    };
    if (const Node* one = spec->get("targetRef"); one && one->isMap()) {
      check(*one, "spec.targetRef");
    }
    if (const Node* many = spec->get("targetRefs"); many && many->isList()) {
      for (size_t i = 0; i < many->items.size(); ++i) {
        check(many->items[i], "spec.targetRefs[" + std::to_string(i) + "]");
      }
    }
  }
}

// The Telemetry objects that apply to a proxy: mesh, namespace, workload (null when none).
std::array<const config::Object*, 3> scopes(const config::model::ConfigSet& config,
                                            const std::string& root_namespace,
                                            const std::string& ns,
                                            const std::map<std::string, std::string>& labels) {
  std::array<const config::Object*, 3> by_scope = {nullptr, nullptr, nullptr};
  for (const auto& t : config.telemetries) {
    const std::string& t_ns = t.namespaceOrDefault();
    int scope = -1;
    if (hasSelector(t)) {
      if (t_ns == ns && selects(t, labels)) scope = 2;
    } else if (t_ns == ns && ns != root_namespace) {
      scope = 1;
    } else if (t_ns == root_namespace) {
      scope = 0;
    }
    // Of several at one scope Istio takes the oldest; in load order, the first.
    if (scope >= 0 && !by_scope[static_cast<size_t>(scope)]) {
      by_scope[static_cast<size_t>(scope)] = &t;
    }
  }
  return by_scope;
}

// One accessLogging entry of a Telemetry, read once for both modes.
struct LogEntry {
  std::optional<std::vector<std::string>> providers;  // named explicitly (a non-empty list)
  bool client = true;  // match.mode: CLIENT, SERVER or CLIENT_AND_SERVER (the default)
  bool server = true;
  bool disabled = false;
  std::string filter;  // as written, "" when absent or outside the subset (every request)
  AccessLogFilter compiled;
};

// Where a provider stands after the merge for one mode: logged with an entry's filter, or
// switched off by a `disabled` entry.
struct MergedLog {
  std::string name;  // "" is the proxy's own --access-log
  const LogEntry* entry = nullptr;
  bool disabled = false;
};

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Istio's merge of the accessLogging entries that apply to a proxy (pilot's mergeLogs), for one
// side. `scopes` holds the entries of the mesh, namespace and workload Telemetry, in that order
// (only those that have any). The providers in play are those the narrowest scope names for this
// mode, else the defaults; then each entry of this mode, in order, sets each of its providers
// (named, else inherited from the entry before it) to its filter, or removes it when disabled.
// A provider is one key, so two entries naming it never log a request twice: the later decides.
// Where Istio keeps the filter of the last entry that named the provider explicitly, an entry
// that inherits its providers applies its own filter here, so `- filter: {...}` alone filters
// the inherited providers as a user expects.
std::vector<MergedLog> mergeLogs(const std::vector<std::vector<LogEntry>>& scopes,
                                 const std::vector<std::string>& defaults, bool server) {
  std::vector<MergedLog> out;
  if (scopes.empty()) {
    for (const auto& name : defaults) out.push_back({name, nullptr, false});
    return out;
  }
  auto applies = [server](const LogEntry& e) { return server ? e.server : e.client; };
  std::vector<std::string> in_scope = defaults;
  for (const auto& scope : scopes) {
    std::vector<std::string> named;
    for (const LogEntry& e : scope) {
      if (!applies(e) || !e.providers) continue;
      for (const auto& name : *e.providers) {
        if (!contains(named, name)) named.push_back(name);
      }
    }
    if (!named.empty()) in_scope = std::move(named);
  }
  std::vector<std::string> parent = defaults;
  for (const auto& scope : scopes) {
    for (const LogEntry& e : scope) {
      if (e.providers) parent = *e.providers;
      if (!applies(e)) continue;
      for (const auto& name : parent) {
        if (!contains(in_scope, name)) continue;  // a wider scope's, replaced by a narrower one
        auto it = std::find_if(out.begin(), out.end(),
                               [&name](const MergedLog& m) { return m.name == name; });
        if (it == out.end()) it = out.insert(out.end(), MergedLog{name, nullptr, false});
        it->entry = e.disabled ? nullptr : &e;
        it->disabled = e.disabled;
      }
    }
  }
  return out;
}

std::mutex implicit_mu;
std::optional<TracingProvider> implicit_collector;

}  // namespace

void setImplicitTracingCollector(std::optional<TracingProvider> collector) {
  std::lock_guard lock(implicit_mu);
  implicit_collector = std::move(collector);
}

MeshTelemetry readMeshTelemetry(const config::model::ConfigSet& config) {
  MeshTelemetry out;
  {
    std::lock_guard lock(implicit_mu);
    out.implicit_collector = implicit_collector;
  }
  out.root_namespace = meshSettings(config).root_namespace;
  for (const auto& m : config.config_maps) {
    if (m.meta.name != kMeshConfigName || namespaceOf(m.meta) != kMeshConfigNamespace) continue;
    const auto mesh = m.data.find("mesh");
    if (mesh == m.data.end()) break;
    auto root = config::parseYaml(mesh->second, "data.mesh");
    if (!root.ok() || !root->isMap()) break;  // mesh_settings reports an unusable mesh value
    if (const Node* providers = root->get("extensionProviders"); providers && providers->isList()) {
      for (const Node& p : providers->items) readProvider(p, out);
    }
    if (const Node* defaults = root->get("defaultProviders")) {
      if (const Node* tracing = defaults->get("tracing"); tracing && tracing->isList()) {
        for (const Node& n : tracing->items) out.default_tracing.push_back(str(&n));
      }
      if (const Node* logging = defaults->get("accessLogging"); logging && logging->isList()) {
        for (const Node& n : logging->items) out.default_access_logging.push_back(str(&n));
      }
    }
    // Istio's built-in "envoy" provider: accessLogFile, in accessLogEncoding (TEXT or JSON),
    // with accessLogFormat (a format string for TEXT, a JSON object of them for JSON).
    out.envoy_provider.path = str(root->get("accessLogFile"));
    const bool json = str(root->get("accessLogEncoding")) == "JSON";
    out.envoy_provider.encoding = json ? AccessLogProvider::Encoding::kDefaultJson
                                       : AccessLogProvider::Encoding::kDefaultText;
    if (const std::string format = str(root->get("accessLogFormat")); !format.empty()) {
      if (!json) {
        out.envoy_provider.encoding = AccessLogProvider::Encoding::kText;
        out.envoy_provider.text = format;
      } else if (auto labels = config::parseYaml(format, "data.mesh accessLogFormat");
                 labels.ok() && labels->isMap()) {
        out.envoy_provider.encoding = AccessLogProvider::Encoding::kLabels;
        for (const auto& e : labels->fields) {
          out.envoy_provider.labels.emplace_back(e.key, str(&e.value));
        }
      } else {
        out.envoy_provider.problem =
            "MeshConfig accessLogFormat is not a JSON object of format strings, as "
            "accessLogEncoding JSON expects; the default JSON format is used";
      }
      compileAccessLogFormat(out.envoy_provider, nullptr);
    }
    if (const Node* e = root->get("enableTracing"); e && e->isScalar()) {
      out.enable_tracing = e->text != "false";
    }
    if (const Node* dc = root->get("defaultConfig")) {
      if (const Node* tracing = dc->get("tracing")) {
        if (const Node* s = tracing->get("sampling"); s && s->asDouble()) {
          out.default_sampling = *s->asDouble();
        }
      }
    }
    break;
  }
  return out;
}

TracingSides resolveTracingSides(const config::model::ConfigSet& config, const MeshTelemetry& mesh,
                                 const std::string& root_namespace, const std::string& ns,
                                 const std::map<std::string, std::string>& labels,
                                 std::vector<std::string>* problems) {
  if (!mesh.enable_tracing) return {};
  // Mesh, then namespace, then workload, each Telemetry's entries in order (Istio's Tracing()):
  // an entry sets what it names on the sides its match.mode gives, over what came before.
  const auto by_scope = scopes(config, root_namespace, ns, labels);
  TracingSide client;
  for (const auto& name : mesh.default_tracing) {
    client.providers.push_back(declaredName(mesh.tracing_providers, name));
  }
  client.sampling = mesh.default_sampling;
  TracingSide server = client;
  std::string origin;
  for (const config::Object* t : by_scope) {
    if (!t) continue;
    if (problems) reportUnservedTracing(*t, *problems);
    for (const TracingEntry& e : readTracing(*t, mesh)) {
      if (e.client) client.apply(e);
      if (e.server) server.apply(e);
    }
    origin += (origin.empty() ? "Telemetry " : ", ") + t->namespaceOrDefault() + "/" + t->name;
  }
  // One side's settings; problems said once even when both sides have them.
  auto build = [&](TracingSide side) -> std::shared_ptr<const TracingSettings> {
    // Nothing declared at all: the control plane's collector, if it is one, so the dashboard
    // has recent traces without any setup (Istio itself would send no spans here).
    const bool implicit = side.providers.empty() && mesh.tracing_providers.empty() &&
                          mesh.implicit_collector.has_value();
    if (side.disabled || (side.providers.empty() && !implicit)) return nullptr;
    auto out = std::make_shared<TracingSettings>();
    std::string from = origin;
    if (implicit) {
      out->providers.push_back(*mesh.implicit_collector);
      if (from.empty()) from = "the control plane's collector (no provider in MeshConfig)";
    }
    auto say = [problems](std::string what) {
      if (problems && std::find(problems->begin(), problems->end(), what) == problems->end()) {
        problems->push_back(std::move(what));
      }
    };
    for (const auto& name : side.providers) {
      auto it = mesh.tracing_providers.find(name);
      if (it == mesh.tracing_providers.end()) {
        say("tracing provider \"" + name +
            "\" is not a zipkin or opentelemetry provider of MeshConfig extensionProviders; its "
            "spans are not reported");
        continue;
      }
      out->providers.push_back(it->second);
    }
    if (out->providers.empty()) return nullptr;
    if (side.sampling < 0 || side.sampling > 100) {
      say("randomSamplingPercentage " + std::to_string(side.sampling) +
          " is outside 0-100; 100 is used");
      side.sampling = std::clamp(side.sampling, 0.0, 100.0);
    }
    out->sampling_percentage = side.sampling;
    out->sample_by_request_id = side.use_request_id;
    out->custom_tags = std::move(side.tags);
    out->origin = from.empty() ? "MeshConfig defaultProviders" : from;
    return out;
  };
  TracingSides sides;
  sides.client = build(client);
  sides.server = client == server ? sides.client : build(server);
  return sides;
}

std::shared_ptr<const TracingSettings> resolveTracing(
    const config::model::ConfigSet& config, const MeshTelemetry& mesh,
    const std::string& root_namespace, const std::string& ns,
    const std::map<std::string, std::string>& labels, std::vector<std::string>* problems) {
  return resolveTracingSides(config, mesh, root_namespace, ns, labels, problems).client;
}

std::shared_ptr<const ListenerTelemetry> resolveListenerTelemetry(
    const config::model::ConfigSet& config, const std::string& root_namespace,
    const std::string& ns, const std::map<std::string, std::string>& labels,
    std::vector<std::string>* problems, const MeshTelemetry* mesh) {
  const auto by_scope = scopes(config, root_namespace, ns, labels);
  if (problems) reportUnservedTargets(config, ns, *problems);
  // Each scope's sections: mesh, namespace, workload.
  std::vector<std::pair<const config::Object*, const Node*>> metrics;
  std::vector<std::pair<const config::Object*, const Node*>> logging;
  std::string origin;
  for (const config::Object* t : by_scope) {
    if (!t || !t->spec()) continue;
    bool used = false;
    if (const Node* m = t->spec()->get("metrics"); m && m->isList()) {
      metrics.emplace_back(t, m);
      used = true;
    }
    if (const Node* a = t->spec()->get("accessLogging"); a && a->isList() && !a->items.empty()) {
      logging.emplace_back(t, a);
      used = true;
    }
    if (used) {
      origin += (origin.empty() ? "Telemetry " : ", ") + t->namespaceOrDefault() + "/" + t->name;
    }
  }
  // "telemetry.yaml:12: Telemetry istio-system/mesh-default spec.metrics[0]...: <what>".
  auto report = [problems](const config::Object& t, const std::string& field,
                           const std::string& what) {
    if (problems) problems->push_back(problemAt(t, field, what));
  };
  // The providers a proxy logs to when no entry names any: MeshConfig's defaults, else the
  // built-in "envoy" when accessLogFile names where it writes, else ("") the proxy's own log.
  std::vector<std::string> defaults{""};
  if (mesh && !mesh->default_access_logging.empty()) {
    defaults.clear();
    for (const auto& name : mesh->default_access_logging) {
      defaults.push_back(declaredName(mesh->access_log_providers, name));
    }
  } else if (mesh && !mesh->envoy_provider.path.empty()) {
    defaults = {"envoy"};
  }
  if (metrics.empty() && logging.empty() && defaults == std::vector<std::string>{""}) {
    return nullptr;
  }
  auto out = std::make_shared<ListenerTelemetry>();
  out->origin = origin;
  // metrics: the overrides of every scope in order (mesh, namespace, workload), each over what
  // came before, as Istio's mergeMetrics: `disabled` where it is set, a tag's later override
  // replacing an earlier one of the same metric. ALL_METRICS disabled turns a side off until a
  // later override of that side (a narrower Telemetry's) turns it on again.
  std::array<MetricsSide*, 2> sides = {&out->client, &out->server};
  std::array<bool, 2> all_off = {false, false};
  for (const auto& [t, list] : metrics) {
    for (size_t m = 0; m < list->items.size(); ++m) {
      const Node* overrides = list->items[m].get("overrides");
      if (!overrides || !overrides->isList()) continue;
      for (size_t k = 0; k < overrides->items.size(); ++k) {
        const Node& o = overrides->items[k];
        const std::string path =
            "spec.metrics[" + std::to_string(m) + "].overrides[" + std::to_string(k) + "]";
        const Node* match = o.get("match");
        const std::string metric = match ? str(match->get("metric")) : "";
        const std::string mode = match ? str(match->get("mode")) : "";
        if (match && match->get("customMetric") && metric.empty()) {
          report(*t, path + ".match.customMetric",
                 "custom metrics are not supported (only Istio's standard metrics); the override "
                 "is ignored");
          continue;
        }
        const bool all = metric.empty() || metric == "ALL_METRICS";
        std::vector<size_t> which;
        for (size_t i = 0; i < kIstioMetricCount; ++i) {
          if (all || kIstioMetricNames[i] == metric) which.push_back(i);
        }
        if (which.empty()) {
          report(*t, path + ".match.metric",
                 "\"" + metric +
                     "\" is not one of Istio's standard metrics (customMetric is not supported); "
                     "the override is ignored");
          continue;
        }
        const std::array<bool, 2> applies = {mode != "SERVER", mode != "CLIENT"};
        const Node* d = o.get("disabled");
        const bool has_disabled = d && d->isScalar() && !d->isNull();
        const bool disabled = has_disabled && str(d) == "true";
        if (all && disabled) {
          for (size_t s = 0; s < 2; ++s) all_off[s] = all_off[s] || applies[s];
          continue;
        }
        for (size_t s = 0; s < 2; ++s) {
          if (!applies[s]) continue;
          all_off[s] = false;
          if (has_disabled) {
            for (size_t i : which) sides[s]->disabled[i] = disabled;
          }
        }
        const Node* tags = o.get("tagOverrides");
        if (!tags || !tags->isMap()) continue;
        for (const auto& e : tags->fields) {
          const std::string operation = str(e.value.get("operation"));
          if (!operation.empty() && operation != "UPSERT" && operation != "REMOVE") {
            report(*t, path + ".tagOverrides." + e.key + ".operation",
                   "\"" + operation + "\" is not an operation (UPSERT or REMOVE); it is ignored");
            continue;
          }
          std::optional<TagUpsert> upsert;
          if (operation == "REMOVE") {
            upsert.emplace();
            upsert->tag = e.key;
            upsert->remove = true;
            for (size_t i : which) upsert->metrics[i] = true;
          } else {
            // UPSERT, Istio's default: the value of a CEL expression per request.
            upsert.emplace();
            upsert->tag = e.key;
            upsert->value = str(e.value.get("value"));
            auto compiled = parseAttributeValue(upsert->value);
            if (upsert->value.empty() || !compiled) {
              report(*t, path + ".tagOverrides." + e.key + ".value",
                     "\"" + upsert->value +
                         "\" is outside what the proxy evaluates (an attribute: response.code, "
                         "request.method, request.url_path, request.path, request.host, "
                         "request.headers['name'], connection.mtls; a literal; string(x); "
                         "x | y; condition ? x : y); the tag is left as it is");
              continue;
            }
            upsert->compiled = std::move(*compiled);
            for (size_t i : which) upsert->metrics[i] = true;
          }
          for (size_t s = 0; s < 2; ++s) {
            if (!applies[s]) continue;
            MetricsSide& side = *sides[s];
            // An earlier value (or removal) of this tag no longer applies to these metrics.
            for (TagUpsert& earlier : side.upserts) {
              if (earlier.tag != e.key) continue;
              for (size_t i : which) earlier.metrics[i] = false;
            }
            side.upserts.push_back(*upsert);
          }
        }
      }
    }
  }
  for (size_t s = 0; s < 2; ++s) {
    if (all_off[s]) sides[s]->disabled.fill(true);
    auto& upserts = sides[s]->upserts;
    std::erase_if(upserts, [](const TagUpsert& u) {
      return std::none_of(u.metrics.begin(), u.metrics.end(), [](bool on) { return on; });
    });
  }
  // accessLogging: each Telemetry's entries read (and their filters compiled) once, then merged
  // per side; every provider resolved once.
  std::vector<std::vector<LogEntry>> entries;
  for (const auto& [t, list] : logging) {
    auto& scope = entries.emplace_back();
    for (size_t i = 0; i < list->items.size(); ++i) {
      const Node& n = list->items[i];
      const std::string path = "spec.accessLogging[" + std::to_string(i) + "]";
      LogEntry& e = scope.emplace_back();
      // An empty list names nothing: the entry inherits, as in Istio (`disabled` turns it off).
      if (const Node* p = n.get("providers"); p && p->isList() && !p->items.empty()) {
        e.providers.emplace();
        for (const Node& r : p->items) {
          const std::string name = str(r.get("name"));
          e.providers->push_back(mesh ? declaredName(mesh->access_log_providers, name)
                                      : declaredName(std::map<std::string, int>{}, name));
        }
      }
      const std::string mode = n.get("match") ? str(n.get("match")->get("mode")) : "";
      if (mode == "CLIENT") {
        e.server = false;
      } else if (mode == "SERVER") {
        e.client = false;
      } else if (!mode.empty() && mode != "CLIENT_AND_SERVER") {
        report(*t, path + ".match.mode",
               "\"" + mode +
                   "\" is not a mode (CLIENT, SERVER or CLIENT_AND_SERVER); the entry applies to "
                   "both");
      }
      e.disabled = str(n.get("disabled")) == "true";
      const Node* filter = n.get("filter");
      const std::string expression = filter ? str(filter->get("expression")) : "";
      if (auto compiled = parseAccessLogFilter(expression); compiled) {
        e.filter = expression;
        e.compiled = std::move(*compiled);
      } else if (!expression.empty()) {
        report(*t, path + ".filter.expression",
               "\"" + expression +
                   "\" is outside what the proxy evaluates (response.code, request.method, "
                   "request.url_path, request.path, request.host, request.headers['name'], "
                   "connection.mtls; literals; == != < <= > >=; startsWith; !, &&, ||); every "
                   "request is logged");
      }
    }
  }
  // A provider by name: MeshConfig's envoyFileAccessLog, else the built-in "envoy"; null (and
  // said once) for any other name.
  std::vector<std::string> unknown;
  auto provider = [&](const std::string& name) -> const AccessLogProvider* {
    for (const auto& p : out->access_log_providers) {
      if (p.name == name) return &p;
    }
    if (contains(unknown, name)) return nullptr;
    const AccessLogProvider* declared = nullptr;
    if (mesh) {
      if (auto it = mesh->access_log_providers.find(name); it != mesh->access_log_providers.end()) {
        declared = &it->second;
      }
    }
    AccessLogProvider found;
    if (declared) {
      found = *declared;
    } else if (name == "envoy") {
      if (mesh) found = mesh->envoy_provider;
      found.name = "envoy";
    } else {
      unknown.push_back(name);
      if (problems) {
        problems->push_back("access log provider \"" + name +
                            "\" is not an envoyFileAccessLog provider of MeshConfig "
                            "extensionProviders (nor the built-in envoy); nothing is logged to it");
      }
      return nullptr;
    }
    if (!found.problem.empty() && problems) problems->push_back(found.problem);
    out->access_log_providers.push_back(std::move(found));
    return &out->access_log_providers.back();
  };
  // Resolved for both sides first: the sinks copy providers out of a list that still grows.
  const auto client = mergeLogs(entries, defaults, false);
  const auto server = mergeLogs(entries, defaults, true);
  for (const auto* merged : {&client, &server}) {
    for (const MergedLog& m : *merged) {
      if (!m.disabled && !m.name.empty()) provider(m.name);
    }
  }
  auto sinks = [&](const std::vector<MergedLog>& merged, std::vector<AccessLogSink>& into) {
    for (const MergedLog& m : merged) {
      if (m.disabled) continue;
      AccessLogSink sink;
      if (m.name.empty()) {
        sink.own_log = true;
      } else if (const AccessLogProvider* p = provider(m.name)) {
        sink.provider = *p;
      } else {
        continue;
      }
      if (m.entry) {
        sink.filter = m.entry->filter;
        sink.compiled = m.entry->compiled;
      }
      into.push_back(std::move(sink));
    }
  };
  sinks(client, out->client_logs);
  sinks(server, out->server_logs);
  return out;
}

}  // namespace halyard::translate
