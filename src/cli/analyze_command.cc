#include "cli/analyze_command.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/validate/analyze.h"

namespace halyard::cli {

namespace {

using config::Diagnostic;
using config::Level;

struct AnalyzeFlags {
  std::vector<std::string> paths;
  std::string output = "text";
  std::string failure_threshold = "Error";
  std::string output_threshold = "Info";
  std::vector<std::string> analyzers;
  std::string mesh_config;
  bool list_analyzers = false;
};

// Higher is more severe.
int severity(Level level) {
  switch (level) {
    case Level::kError:
      return 3;
    case Level::kWarning:
      return 2;
    case Level::kInfo:
      return 1;
  }
  return 3;
}

std::optional<Level> parseLevel(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "error") return Level::kError;
  if (s == "warning" || s == "warn") return Level::kWarning;
  if (s == "info") return Level::kInfo;
  return std::nullopt;
}

// "VirtualService default/api-virtual": the namespace istioctl shows for namespace-less files is
// the default one.
std::string origin(const Diagnostic& d) {
  if (d.resource.kind.empty()) return {};
  const std::string& ns =
      d.resource.namespace_.empty() ? std::string("default") : d.resource.namespace_;
  return d.resource.kind + " " + ns + "/" + d.resource.name;
}

std::string textLine(const Diagnostic& d) {
  std::string where = origin(d);
  const std::string pos = d.pos.str();
  if (!pos.empty()) where += where.empty() ? pos : " " + pos;
  std::string out = std::string(config::toString(d.level)) + " [" + d.code + "] ";
  if (!where.empty()) out += "(" + where + ") ";
  out += d.message;
  return out;
}

nlohmann::json toJson(const Diagnostic& d) {
  nlohmann::json j;
  j["code"] = d.code;
  j["type"] = d.type;
  j["level"] = config::toString(d.level);
  j["message"] = d.message;
  j["origin"] = origin(d);
  j["file"] = d.pos.fileName();
  j["line"] = d.pos.line;
  j["reference"] = d.pos.str();
  if (!d.field_path.empty()) j["field"] = d.field_path;
  return j;
}

std::string yamlQuote(const std::string& s) {
  // JSON strings are valid YAML scalars.
  return nlohmann::json(s).dump();
}

int runAnalyze(const AnalyzeFlags& flags) {
  if (flags.list_analyzers) {
    std::cout << config::kValidationAnalyzerName << "\n";
    for (const auto& a : config::allAnalyzers()) std::cout << a->name() << "\n";
    return kExitOk;
  }
  auto failure = parseLevel(flags.failure_threshold);
  auto shown = parseLevel(flags.output_threshold);
  if (!failure || !shown) {
    std::cerr << "halyard analyze: a threshold must be Info, Warning or Error, got \""
              << (failure ? flags.output_threshold : flags.failure_threshold) << "\"\n";
    return kExitUsage;
  }
  if (flags.output != "text" && flags.output != "json" && flags.output != "yaml") {
    std::cerr << "halyard analyze: --output must be text, json or yaml, got \"" << flags.output
              << "\"\n";
    return kExitUsage;
  }
  config::AnalyzeOptions options;
  options.analyzers = flags.analyzers;
  for (const auto& name : flags.analyzers) {
    bool known = name == config::kValidationAnalyzerName;
    for (const auto& a : config::allAnalyzers()) known |= a->name() == name;
    if (!known) {
      std::cerr << "halyard analyze: unknown analyzer \"" << name
                << "\" (see halyard analyze --list-analyzers)\n";
      return kExitUsage;
    }
  }
  if (!flags.mesh_config.empty()) {
    auto mesh = config::loadMeshConfig(flags.mesh_config);
    if (!mesh.ok()) {
      std::cerr << "halyard analyze: " << mesh.error() << "\n";
      return kExitUsage;
    }
    options.mesh = std::move(*mesh);
  }

  config::AnalyzeResult res = config::analyzePaths(flags.paths, options);
  for (const auto& e : res.io_errors) std::cerr << "halyard analyze: " << e << "\n";

  std::vector<const Diagnostic*> visible;
  int errors = 0, warnings = 0, infos = 0;
  bool failed = false;
  for (const auto& d : res.diagnostics) {
    if (severity(d.level) >= severity(*failure)) failed = true;
    if (severity(d.level) < severity(*shown)) continue;
    visible.push_back(&d);
    (d.level == Level::kError ? errors : d.level == Level::kWarning ? warnings : infos)++;
  }

  if (flags.output == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto* d : visible) arr.push_back(toJson(*d));
    std::cout << arr.dump(2) << "\n";
  } else if (flags.output == "yaml") {
    if (visible.empty()) std::cout << "[]\n";
    for (const auto* d : visible) {
      nlohmann::json j = toJson(*d);
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        std::cout << (first ? "- " : "  ") << it.key() << ": "
                  << (it->is_string() ? yamlQuote(it->get<std::string>()) : it->dump()) << "\n";
        first = false;
      }
    }
  } else {
    for (const auto* d : visible) std::cout << textLine(*d) << "\n";
  }

  std::cerr << "Analyzed " << res.objects << " objects in " << res.files << " files";
  if (res.skipped_templates) std::cerr << " (" << res.skipped_templates << " templates skipped)";
  if (visible.empty()) {
    std::cerr << ": no validation issues found.\n";
  } else {
    std::cerr << ": " << errors << " errors, " << warnings << " warnings, " << infos << " infos.\n";
  }
  if (!res.io_errors.empty()) return kExitUsage;
  return failed ? kExitAnalyzeErrors : kExitOk;
}

}  // namespace

void registerAnalyzeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<AnalyzeFlags>();
  auto* cmd = app.add_subcommand(
      "analyze",
      "Validate Istio configuration and analyze it across resources, like istioctl analyze");
  cmd->add_option("paths", flags->paths, "Files or directories of Istio YAML/JSON (recursive)");
  cmd->add_option("-o,--output", flags->output, "Output format: text, json or yaml")
      ->capture_default_str();
  cmd->add_option("--failure-threshold", flags->failure_threshold,
                  "Lowest level that makes the command fail (exit 79): Info, Warning, Error")
      ->capture_default_str();
  cmd->add_option("--output-threshold", flags->output_threshold,
                  "Lowest level printed: Info, Warning, Error")
      ->capture_default_str();
  cmd->add_option("--analyzer", flags->analyzers,
                  "Run only this analyzer (repeatable; Istio's names, see --list-analyzers)")
      ->allow_extra_args(false);
  cmd->add_option("--mesh-config,--meshConfigFile", flags->mesh_config,
                  "MeshConfig YAML (or the istio ConfigMap) to analyze with");
  cmd->add_flag("--list-analyzers", flags->list_analyzers, "Print the analyzer names and exit");
  cmd->callback([flags, &exit_code] {
    if (flags->paths.empty() && !flags->list_analyzers) {
      std::cerr << "halyard analyze: give at least one file or directory\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = runAnalyze(*flags);
  });
}

}  // namespace halyard::cli
