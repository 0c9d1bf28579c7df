#include "config/validate/analyze.h"

#include <algorithm>
#include <map>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/kube_decode.h"
#include "config/yaml/loader.h"

namespace halyard::config {

namespace {

// Runs validation over every loaded object, as one analyzer so it can be selected like Istio's.
class ValidationAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return kValidationAnalyzerName; }
  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const auto& obj : ctx.objects()) validateOne(obj, out);
  }
};

// The objects istioctl's local analysis adds (pkg/config/analysis/local/defaults.go).
void addIngressDefaults(std::vector<Object>& objects) {
  std::string text = R"(apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-dummypod
  namespace: istio-system
  labels: {istio: ingressgateway}
spec:
  containers: [{name: istio-proxy}]
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 80}
  - {name: https, port: 443, targetPort: 443}
  - {name: tcp, port: 31400, targetPort: 31400}
  - {name: tls, port: 15443, targetPort: 15443}
)";
  LoadResult r;
  loadText(text, "<istioctl defaults>", r);
  for (auto& o : r.objects) objects.push_back(std::move(o));
}

bool selected(const AnalyzeOptions& options, std::string_view name) {
  if (options.analyzers.empty()) return true;
  return std::find(options.analyzers.begin(), options.analyzers.end(), name) !=
         options.analyzers.end();
}

// Sorted by file and line; identical messages (two analyzers finding the same problem, as
// istioctl also dedupes) are reported once.
void sortDiagnostics(Diagnostics& d) {
  std::stable_sort(d.begin(), d.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.pos.fileName() != b.pos.fileName()) return a.pos.fileName() < b.pos.fileName();
    return a.pos.line < b.pos.line;
  });
  auto same = [](const Diagnostic& a, const Diagnostic& b) {
    return a.pos.line == b.pos.line && a.code == b.code && a.message == b.message &&
           a.resource.str() == b.resource.str() && a.pos.fileName() == b.pos.fileName();
  };
  Diagnostics unique;
  unique.reserve(d.size());
  for (auto& x : d) {
    bool seen = false;
    // Duplicates are adjacent or close once sorted by position; scan the same line only.
    for (auto it = unique.rbegin(); it != unique.rend() && it->pos.line == x.pos.line &&
                                    it->pos.fileName() == x.pos.fileName();
         ++it) {
      if (same(*it, x)) {
        seen = true;
        break;
      }
    }
    if (!seen) unique.push_back(std::move(x));
  }
  d = std::move(unique);
}

// Keeps the last definition of each resource (group, kind, namespace, name) and warns about the
// earlier ones, so one resource in two files does not look like two conflicting resources.
void dropDuplicateResources(std::vector<Object>& objects, Diagnostics& out) {
  std::map<std::string, size_t> last;
  auto key = [](const Object& o) {
    return o.group + "/" + o.kind + "/" + (o.namespace_.empty() ? "default" : o.namespace_) + "/" +
           o.name;
  };
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!objects[i].name.empty()) last[key(objects[i])] = i;
  }
  std::vector<Object> kept;
  kept.reserve(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    const Object& o = objects[i];
    auto it = o.name.empty() ? last.end() : last.find(key(o));
    if (it != last.end() && it->second != i) {
      Diagnostic d;
      d.code = std::string(msg::kDuplicateResource.code);
      d.type = std::string(msg::kDuplicateResource.name);
      d.level = msg::kDuplicateResource.level;
      d.resource = o.ref();
      d.pos = o.pos;
      d.message = "defined again at " + objects[it->second].pos.str() +
                  "; the later definition is the one analyzed";
      out.push_back(std::move(d));
      continue;
    }
    kept.push_back(std::move(objects[i]));
  }
  objects = std::move(kept);
}

// A `halyard up` Workload (halyard.dev/v1alpha1) is what a pod is in a cluster: one app with a
// sidecar, selected by Services and DestinationRule subsets through its labels. Analysis sees
// each as an injected pod, so `halyard analyze DIR` and `halyard up DIR` judge a directory of
// Workloads as istioctl judges the cluster those Workloads stand for (a canary's `version`
// subsets select the two Workloads instead of "none of the pods", IST0173).
void addWorkloadPods(const std::vector<Object>& objects, model::ConfigSet& config) {
  for (const Object& obj : objects) {
    if (obj.group != "halyard.dev" || obj.kind != "Workload" || obj.name.empty()) continue;
    model::Pod pod;
    pod.meta = decodeObjectMeta(obj);
    const Node* spec = obj.spec();
    const Node* sa = spec ? spec->get("serviceAccount") : nullptr;
    pod.service_account = sa && !sa->str().empty() ? std::string(sa->str()) : obj.name;
    model::Pod::Container app;
    app.name = obj.name;
    if (const Node* port = spec ? spec->get("port") : nullptr; port && port->asInt()) {
      app.ports.push_back(model::Pod::ContainerPort{"", *port->asInt(), "TCP", port->line});
    }
    pod.containers.push_back(std::move(app));
    // `halyard up` starts a sidecar for every Workload: the pod is in the mesh.
    pod.containers.push_back(model::Pod::Container{"istio-proxy", "", {}, obj.pos.line});
    pod.phase = "Running";
    config.pods.push_back(std::move(pod));
  }
}

}  // namespace

Diagnostics analyzeObjects(std::vector<Object> objects, const AnalyzeOptions& options) {
  Diagnostics out;
  dropDuplicateResources(objects, out);
  if (options.add_ingress_defaults) addIngressDefaults(objects);
  model::ConfigSet config = buildConfigSet(objects);
  addWorkloadPods(objects, config);
  AnalysisContext ctx(objects, config, options.mesh);
  static const ValidationAnalyzer kValidation;
  if (selected(options, kValidation.name())) kValidation.analyze(ctx, out);
  for (const auto& a : allAnalyzers()) {
    if (selected(options, a->name())) a->analyze(ctx, out);
  }
  sortDiagnostics(out);
  return out;
}

AnalyzeResult analyzePaths(const std::vector<std::string>& paths, const AnalyzeOptions& options) {
  LoadOptions lo;
  lo.strip_test_error_key = options.strip_test_error_key;
  LoadResult loaded = loadPaths(paths, lo);
  AnalyzeResult res;
  res.io_errors = std::move(loaded.io_errors);
  res.files = loaded.files.size();
  res.objects = loaded.objects.size();
  res.skipped_templates = loaded.skipped_templates;
  res.diagnostics = std::move(loaded.diagnostics);
  Diagnostics analyzed = analyzeObjects(std::move(loaded.objects), options);
  res.diagnostics.insert(res.diagnostics.end(), std::make_move_iterator(analyzed.begin()),
                         std::make_move_iterator(analyzed.end()));
  sortDiagnostics(res.diagnostics);
  return res;
}

}  // namespace halyard::config
