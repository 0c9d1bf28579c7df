#include "up/workload.h"

#include <gtest/gtest.h>

#include "config/yaml/loader.h"

namespace halyard::up {
namespace {

WorkloadSet decode(const std::string& yaml) {
  config::LoadResult loaded;
  config::loadText(yaml, "/tmp/mesh/workloads.yaml", loaded);
  return decodeWorkloads(loaded.objects);
}

std::vector<std::string> problems(const WorkloadSet& set) {
  std::vector<std::string> out;
  for (const auto& p : set.problems) out.push_back(p.str());
  return out;
}

TEST(WorkloadTest, DecodesEveryField) {
  auto set = decode(R"(apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: items-api
  namespace: shop
  labels: {app: items-api}
spec:
  serviceAccount: items
  service: items-api-svc
  port: 9081
  workingDir: ../apps
  command: [/usr/bin/python3, app.py, --workers, 2]
  env: {MODE: fast, LEVEL: 3}
)");
  ASSERT_TRUE(set.problems.empty()) << problems(set)[0];
  ASSERT_EQ(set.workloads.size(), 1u);
  const Workload& w = set.workloads[0];
  EXPECT_EQ(w.name, "items-api");
  EXPECT_EQ(w.namespace_, "shop");
  EXPECT_EQ(w.service_account, "items");
  EXPECT_EQ(w.labels.at("app"), "items-api");
  EXPECT_EQ(w.service, "items-api-svc");
  EXPECT_EQ(w.port, 9081);
  EXPECT_EQ(w.working_dir, "/tmp/apps");
  EXPECT_EQ(w.command, (std::vector<std::string>{"/usr/bin/python3", "app.py", "--workers", "2"}));
  ASSERT_EQ(w.env.size(), 2u);
  EXPECT_EQ(w.env[0], (std::pair<std::string, std::string>{"MODE", "fast"}));
  EXPECT_EQ(w.env[1], (std::pair<std::string, std::string>{"LEVEL", "3"}));
  EXPECT_EQ(w.pos.str(), "/tmp/mesh/workloads.yaml:1");
}

TEST(WorkloadTest, DefaultsAndKubernetesStyleEnv) {
  auto set = decode(R"(apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: ai-api}
spec:
  port: 9083
  command: [ai]
  env: [{name: A, value: "1"}]
)");
  ASSERT_TRUE(set.problems.empty()) << problems(set)[0];
  const Workload& w = set.workloads.at(0);
  EXPECT_EQ(w.namespace_, "default");
  EXPECT_EQ(w.service_account, "ai-api");  // the name, when not given
  EXPECT_EQ(w.working_dir, "/tmp/mesh");   // the declaring file's directory
  EXPECT_EQ(w.env.at(0).first, "A");
}

TEST(WorkloadTest, OtherKindsAreIgnored) {
  auto set = decode(R"(apiVersion: v1
kind: Service
metadata: {name: x}
---
apiVersion: example.com/v1
kind: Workload
metadata: {name: y}
)");
  EXPECT_TRUE(set.workloads.empty());
  EXPECT_TRUE(set.problems.empty());
}

TEST(WorkloadTest, ProblemsNameFileLineAndField) {
  auto set = decode(R"(apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: Items_API
spec:
  port: 70000
  comand: [x]
  env:
    9BAD: x
)");
  EXPECT_EQ(problems(set), (std::vector<std::string>{
                               "/tmp/mesh/workloads.yaml:4: metadata.name: \"Items_API\" must be "
                               "lowercase letters, digits and '-'",
                               "/tmp/mesh/workloads.yaml:6: spec.port: must be a port number "
                               "(1-65535), got 70000",
                               "/tmp/mesh/workloads.yaml:7: spec.comand: unknown field (known: "
                               "serviceAccount, service, command, env, workingDir, port)",
                               "/tmp/mesh/workloads.yaml:9: spec.env.9BAD: \"9BAD\" is not an "
                               "environment variable name",
                               "/tmp/mesh/workloads.yaml:5: spec.command: required: the program "
                               "and its arguments",
                           }));
}

TEST(WorkloadTest, WrongTypes) {
  auto set = decode(R"(apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: a}
spec:
  port: "http"
  command: /usr/bin/app
  service: [x]
)");
  ASSERT_EQ(set.problems.size(), 3u);
  EXPECT_EQ(set.problems[0].field, "spec.port");
  EXPECT_EQ(set.problems[0].pos.line, 5);
  EXPECT_EQ(set.problems[1].field, "spec.command");
  EXPECT_EQ(set.problems[1].message, "must be a non-empty list: [program, arg, ...]");
  EXPECT_EQ(set.problems[2].field, "spec.service");
  EXPECT_EQ(set.problems[2].pos.line, 7);
}

TEST(WorkloadTest, MissingSpec) {
  auto set = decode("apiVersion: halyard.dev/v1alpha1\nkind: Workload\nmetadata: {name: a}\n");
  ASSERT_EQ(set.problems.size(), 1u);
  EXPECT_EQ(set.problems[0].str(),
            "/tmp/mesh/workloads.yaml:1: spec: required: a map with command and port");
}

TEST(WorkloadTest, DuplicateNamesAndPorts) {
  auto set = decode(R"(apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: a}
spec: {port: 9000, command: [x]}
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: a, namespace: other}
spec: {port: 9001, command: [x]}
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: b}
spec: {port: 9000, command: [x]}
)");
  EXPECT_EQ(problems(set), (std::vector<std::string>{
                               "/tmp/mesh/workloads.yaml:8: metadata.name: workload \"a\" is "
                               "already declared at /tmp/mesh/workloads.yaml:3",
                               "/tmp/mesh/workloads.yaml:14: spec.port: port 9000 is already the "
                               "port of a (/tmp/mesh/workloads.yaml:4)",
                           }));
}

}  // namespace
}  // namespace halyard::up
