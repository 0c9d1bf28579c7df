#include "config/validate/cel.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>
#include <string>
#include <vector>

#include "config/validate/cel_duration.h"
#include "config/validate/cel_url.h"
#include "shared_corpus.h"

namespace halyard::config::cel {
namespace {

// YAML (flow style is handy here) -> Node, resolving plain scalars the way the loader does.
Node toNode(const YAML::Node& y) {
  Node n;
  switch (y.Type()) {
    case YAML::NodeType::Map:
      n.type = NodeType::kMap;
      for (const auto& kv : y) n.fields.push_back({kv.first.Scalar(), 0, toNode(kv.second)});
      break;
    case YAML::NodeType::Sequence:
      n.type = NodeType::kList;
      for (const auto& item : y) n.items.push_back(toNode(item));
      break;
    case YAML::NodeType::Scalar: {
      n.text = y.Scalar();
      const std::string& t = n.text;
      int64_t i = 0;
      double d = 0;
      auto end = t.data() + t.size();
      if (y.Tag() == "!") {
        n.type = NodeType::kString;
      } else if (t == "null" || t == "~") {
        n.type = NodeType::kNull;
      } else if (t == "true" || t == "false") {
        n.type = NodeType::kBool;
      } else if (auto r = std::from_chars(t.data(), end, i); r.ec == std::errc() && r.ptr == end) {
        n.type = NodeType::kInt;
      } else if (auto r2 = std::from_chars(t.data(), end, d);
                 r2.ec == std::errc() && r2.ptr == end) {
        n.type = NodeType::kDouble;
      } else {
        n.type = NodeType::kString;
      }
      break;
    }
    default:
      break;
  }
  return n;
}

Node yaml(const std::string& text) {
  return toNode(YAML::Load(text));
}

// "true", "false", "error: <message>" or "compile error: <message>".
std::string run(std::string_view rule, const std::string& self = "null") {
  auto program = compile(rule);
  if (!program) return "compile error: " + program.error();
  auto result = evaluate(**program, yaml(self));
  if (!result) return "error: " + result.error();
  return *result ? "true" : "false";
}

bool isError(const std::string& outcome) {
  return outcome.starts_with("error: ");
}
bool isCompileError(const std::string& outcome) {
  return outcome.starts_with("compile error: ");
}

void collectRules(const YAML::Node& n, std::vector<std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      if (kv.first.Scalar() == "x-kubernetes-validations") {
        for (const auto& v : kv.second) out.push_back(v["rule"].as<std::string>());
      } else {
        collectRules(kv.second, out);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n) collectRules(item, out);
  }
}

const std::vector<std::string>& crdRules() {
  static const std::vector<std::string> rules = [] {
    std::vector<std::string> out;
    const std::string crds =
        corpus::sharedPath("conformance/istio/manifests/charts/base/files/crd-all.gen.yaml");
    for (const auto& doc : YAML::LoadAllFromFile(crds)) collectRules(doc, out);
    return out;
  }();
  return rules;
}

// A rule as the CRDs spell it; fails the test when Istio no longer has it.
std::string crdRule(const std::string& text) {
  const auto& rules = crdRules();
  EXPECT_NE(std::find(rules.begin(), rules.end(), text), rules.end())
      << "not in the CRDs: " << text;
  return text;
}

TEST(CelLiterals, Scalars) {
  EXPECT_EQ(run("1 == 1"), "true");
  EXPECT_EQ(run("0x10 == 16"), "true");
  EXPECT_EQ(run("-9223372036854775808 < 0"), "true");
  EXPECT_EQ(run("1.5 == 1.5 && .5 == 0.5 && 1e3 == 1000.0"), "true");
  EXPECT_EQ(run("true && !false"), "true");
  EXPECT_EQ(run("null == null"), "true");
  EXPECT_EQ(run("'a' == \"a\""), "true");
  EXPECT_EQ(run("'''x'y''' == \"x'y\""), "true");
  EXPECT_EQ(run(R"('\n\t\\\'\"\x41\u00e9\101' == "\n\t\\'\"A\u00e9A")"), "true");
  EXPECT_EQ(run(R"(r'\d' == '\\d')"), "true");
  EXPECT_EQ(run("'\\u00e9'.size() == 1"), "true");  // code points, not bytes
  EXPECT_EQ(run("[1, 2, 3,].size() == 3 && [].size() == 0"), "true");
  EXPECT_EQ(run("{'a': 1, 'b': 2}['b'] == 2 && {}.size() == 0"), "true");
  EXPECT_EQ(run("1 == 1 // a comment"), "true");
}

TEST(CelLiterals, Rejected) {
  EXPECT_TRUE(isCompileError(run("1u == 1")));
  EXPECT_TRUE(isCompileError(run("b'abc' == b'abc'")));
  EXPECT_TRUE(isCompileError(run("'unterminated")));
  EXPECT_TRUE(isCompileError(run("9223372036854775808 > 0")));
  EXPECT_TRUE(isCompileError(run("'\\q' == ''")));
  EXPECT_TRUE(isCompileError(run("'\\ud800' == ''")));
  EXPECT_TRUE(isCompileError(run("1 = 1")));
}

TEST(CelSelection, FieldsIndexesAndHas) {
  std::string doc = "{a: {b: [10, 20]}, 'k.x': v, n: ~}";
  EXPECT_EQ(run("self.a.b[1] == 20", doc), "true");
  EXPECT_EQ(run("self['k.x'] == 'v'", doc), "true");
  EXPECT_EQ(run("has(self.a) && has(self.a.b) && !has(self.c)", doc), "true");
  EXPECT_EQ(run("has(self.n) && self.n == null", doc), "true");  // present, value null
  EXPECT_TRUE(isError(run("self.c == 1", doc)));
  EXPECT_TRUE(isError(run("self['c'] == 1", doc)));
  EXPECT_TRUE(isError(run("self.a.b[2] == 1", doc)));
  EXPECT_TRUE(isError(run("self.a.b.c == 1", doc)));
  EXPECT_TRUE(isError(run("has(self.c.d)", doc)));
  EXPECT_TRUE(isCompileError(run("has(self)", doc)));
  EXPECT_TRUE(isCompileError(run("other == 1", doc)));
}

TEST(CelOperators, Arithmetic) {
  EXPECT_EQ(run("1 + 2 * 3 - 4 == 3"), "true");
  EXPECT_EQ(run("7 / 2 == 3 && 7 % 2 == 1 && -7 / 2 == -3"), "true");
  EXPECT_EQ(run("1.5 + 1.5 == 3.0"), "true");
  EXPECT_EQ(run("'ab' + 'c' == 'abc'"), "true");
  EXPECT_EQ(run("[1] + [2] == [1, 2]"), "true");
  EXPECT_EQ(run("--1 == 1 && -(1) == -1"), "true");
  EXPECT_TRUE(isError(run("1 / 0 == 0")));
  EXPECT_TRUE(isError(run("9223372036854775807 + 1 > 0")));
  EXPECT_TRUE(isError(run("1 + 1.0 == 2.0")));  // no mixed arithmetic in CEL
  EXPECT_TRUE(isError(run("'a' + 1 == 'a1'")));
}

TEST(CelOperators, Comparisons) {
  EXPECT_EQ(run("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3 && 1 != 2"), "true");
  EXPECT_EQ(run("1 == 1.0 && 1 < 1.5 && 2.5 > 2"), "true");  // ints and doubles compare
  EXPECT_EQ(run("'abc' < 'abd' && 'b' > 'abc'"), "true");
  EXPECT_EQ(run("false < true"), "true");
  EXPECT_EQ(run("1 == 'a'"), "false");  // heterogeneous equality is false, not an error
  EXPECT_EQ(run("[1, 'a'] == [1, 'a'] && {'a': [1]} == {'a': [1]}"), "true");
  EXPECT_TRUE(isError(run("1 < 'a'")));
  EXPECT_TRUE(isError(run("1 < 2 < 3")));
}

TEST(CelOperators, Membership) {
  EXPECT_EQ(run("'b' in ['a', 'b']"), "true");
  EXPECT_EQ(run("2 in [1.0, 2.0]"), "true");
  EXPECT_EQ(run("'c' in ['a', 'b']"), "false");
  EXPECT_EQ(run("'x' in self && !('y' in self)", "{x: 1}"), "true");  // map keys
  EXPECT_EQ(run("'http' in self", "[http, grpc]"), "true");
  EXPECT_TRUE(isError(run("1 in 1")));
}

TEST(CelOperators, LogicAbsorbsErrors) {
  // The deciding side wins even when the other side fails, in either order.
  EXPECT_EQ(run("false && self.missing", "{}"), "false");
  EXPECT_EQ(run("self.missing && false", "{}"), "false");
  EXPECT_EQ(run("true || self.missing", "{}"), "true");
  EXPECT_EQ(run("self.missing || true", "{}"), "true");
  EXPECT_TRUE(isError(run("self.missing && true", "{}")));
  EXPECT_TRUE(isError(run("false || self.missing", "{}")));
  EXPECT_TRUE(isError(run("1 && true")));
  EXPECT_EQ(run("1 && false"), "false");
  EXPECT_EQ(run("true ? 1 == 1 : self.missing", "{}"), "true");
  EXPECT_EQ(run("false ? self.missing : true", "{}"), "true");
  EXPECT_TRUE(isError(run("1 ? true : false")));
  EXPECT_EQ(run("false ? 1 == 2 : true ? 1 == 1 : false"), "true");  // right-associative
  // CEL's grammar only allows a nested conditional in the middle inside parentheses.
  EXPECT_TRUE(isCompileError(run("true ? false ? 1 == 2 : 1 == 1 : false")));
  EXPECT_EQ(run("true ? (false ? 1 == 2 : 1 == 1) : false"), "true");
}

TEST(CelMacros, ListsAndMapKeys) {
  EXPECT_EQ(run("self.all(x, x > 0)", "[1, 2, 3]"), "true");
  EXPECT_EQ(run("self.all(x, x > 1)", "[1, 2, 3]"), "false");
  EXPECT_EQ(run("self.exists(x, x == 2)", "[1, 2, 3]"), "true");
  EXPECT_EQ(run("self.exists_one(x, x > 1)", "[1, 2, 3]"), "false");
  EXPECT_EQ(run("self.exists_one(x, x > 2)", "[1, 2, 3]"), "true");
  EXPECT_EQ(run("self.all(x, false)", "[]"), "true");
  EXPECT_EQ(run("self.exists(x, true)", "[]"), "false");
  EXPECT_EQ(run("self.all(k, k.startsWith('a'))", "{ab: 1, ac: 2}"), "true");  // keys
  EXPECT_EQ(run("self.exists(k, k == 'ac')", "{ab: 1, ac: 2}"), "true");
  EXPECT_EQ(run("[1, 2].all(x, [3, 4].exists(y, y == x + 2))"), "true");  // nested variables
  EXPECT_EQ(run("[1].all(x, [2].all(x, x == 2)) && [1].all(x, x == 1)"), "true");  // shadowing
  // all/exists let a deciding element absorb another element's error; exists_one does not.
  EXPECT_EQ(run("self.all(x, x.a == 1)", "[{b: 1}, {a: 2}]"), "false");
  EXPECT_TRUE(isError(run("self.all(x, x.a == 1)", "[{b: 1}, {a: 1}]")));
  EXPECT_EQ(run("self.exists(x, x.a == 1)", "[{b: 1}, {a: 1}]"), "true");
  EXPECT_TRUE(isError(run("self.exists_one(x, x.a == 1)", "[{b: 1}, {a: 1}]")));
  EXPECT_TRUE(isError(run("self.all(x, 1)", "[1]")));
  EXPECT_TRUE(isError(run("self.all(x, true)", "5")));
  EXPECT_TRUE(isCompileError(run("self.map(x, x)", "[1]")));
  EXPECT_TRUE(isCompileError(run("self.all(1, true)", "[1]")));
  EXPECT_TRUE(isCompileError(run("self.all(x, y)", "[1]")));
}

TEST(CelFunctions, Strings) {
  EXPECT_EQ(run("size('héllo') == 5 && 'héllo'.size() == 5"), "true");
  EXPECT_EQ(run("self.size() == 2 && size(self) == 2", "{a: 1, b: 2}"), "true");
  EXPECT_EQ(run("'abc'.contains('b') && 'abc'.startsWith('ab') && 'abc'.endsWith('bc')"), "true");
  EXPECT_EQ(run("'abc'.matches('^a.c$') && 'xabcx'.matches('b') && !'abc'.matches('^b')"), "true");
  EXPECT_EQ(run("'abc'.matches(self)", "'b+'"), "true");  // a pattern known only at run time
  EXPECT_TRUE(isError(run("'abc'.matches(self)", "'('")));
  EXPECT_TRUE(isCompileError(run("'abc'.matches('(')")));
  EXPECT_EQ(run("'unix://x'.substring(7, 8) == 'x' && 'abc'.substring(1) == 'bc'"), "true");
  EXPECT_EQ(run("'héllo'.substring(1, 2) == 'é' && 'abc'.substring(3) == ''"), "true");
  EXPECT_TRUE(isError(run("'abc'.substring(2, 4) == ''")));
  EXPECT_TRUE(isError(run("'abc'.substring(2, 1) == ''")));
  EXPECT_TRUE(isError(run("'abc'.substring(-1) == ''")));
  EXPECT_EQ(run("'AbC'.lowerAscii() == 'abc' && 'aBc'.upperAscii() == 'ABC'"), "true");
  EXPECT_TRUE(isError(run("1.contains('a')")));
  EXPECT_TRUE(isError(run("size(1) == 1")));
  EXPECT_TRUE(isCompileError(run("'a'.trim() == 'a'")));
  EXPECT_TRUE(isCompileError(run("'a'.contains() == 'a'")));
  EXPECT_TRUE(isCompileError(run("contains('a', 'a')")));
}

TEST(CelFunctions, Conversions) {
  EXPECT_EQ(run("int('42') == 42 && int('-7') == -7 && int('+7') == 7"), "true");
  EXPECT_EQ(run("int(2.9) == 2 && int(-2.9) == -2 && int(5) == 5"), "true");
  EXPECT_TRUE(isError(run("int('4x') == 4")));
  EXPECT_TRUE(isError(run("int('') == 0")));
  EXPECT_TRUE(isError(run("int(1e19) == 0")));
  EXPECT_TRUE(isError(run("int(true) == 1")));
  EXPECT_EQ(run("double('1.5') == 1.5 && double(2) == 2.0"), "true");
  EXPECT_EQ(run("string(42) == '42' && string('s') == 's' && string(true) == 'true'"), "true");
  EXPECT_EQ(run("string(1.5) == '1.5' && string(1e6) == '1e+06' && string(100000.0) == '100000'"),
            "true");
  EXPECT_EQ(run("string(duration('1m30s')) == '90s' && string(duration('1.5ms')) == '0.0015s'"),
            "true");
}

TEST(CelFunctions, Durations) {
  EXPECT_EQ(run("duration('1h') == duration('60m') && duration('1h30m') == duration('90m')"),
            "true");
  EXPECT_EQ(run("duration('1.5s') == duration('1500ms') && duration('1us') == duration('1000ns')"),
            "true");
  EXPECT_EQ(run("duration('-1s') < duration('0') && duration('0s') == duration('0')"), "true");
  EXPECT_EQ(run("duration('1ms') + duration('1ms') == duration('2ms')"), "true");
  EXPECT_EQ(run("-duration('1s') == duration('-1s')"), "true");
  EXPECT_EQ(run("duration(duration('1s')) == duration('1s')"), "true");
  EXPECT_TRUE(isError(run("duration('1d') > duration('0')")));
  EXPECT_TRUE(isError(run("duration('1') > duration('0')")));
  EXPECT_TRUE(isError(run("duration('') > duration('0')")));
  EXPECT_TRUE(isError(run("duration('1s') > 0")));
  EXPECT_TRUE(isError(run("duration(1) > duration('0')")));

  EXPECT_EQ(parseDuration("1h30m"), 5'400'000'000'000);
  EXPECT_EQ(parseDuration("1.5s"), 1'500'000'000);
  EXPECT_EQ(parseDuration(".5s"), 500'000'000);
  EXPECT_EQ(parseDuration("+5s"), 5'000'000'000);
  EXPECT_EQ(parseDuration("1\xC2\xB5s"), 1'000);
  EXPECT_EQ(parseDuration("-2562047h47m16.854775808s"), INT64_MIN);
  EXPECT_EQ(parseDuration("2562047h47m16.854775807s"), INT64_MAX);
  EXPECT_EQ(parseDuration("2562047h47m16.854775808s"), std::nullopt);
  EXPECT_EQ(parseDuration("3000000h"), std::nullopt);
  EXPECT_EQ(parseDuration("1s2"), std::nullopt);
  EXPECT_EQ(parseDuration("."), std::nullopt);
  EXPECT_EQ(parseDuration("-"), std::nullopt);
  EXPECT_EQ(formatDuration(-1'500'000'000), "-1.5s");
  EXPECT_EQ(formatDuration(-1), "-0.000000001s");
  EXPECT_EQ(formatDuration(0), "0s");
}

TEST(CelFunctions, Urls) {
  EXPECT_EQ(run("url('HTTPS://Example.com:8443/x?y').getScheme() == 'https'"), "true");
  EXPECT_EQ(run("url('https://u@example.com:8443/x').getHost() == 'example.com:8443'"), "true");
  EXPECT_EQ(run("url('https://[::1]:80').getHostname() == '::1' && "
                "url('https://[::1]:80').getPort() == '80'"),
            "true");
  EXPECT_EQ(run("url('/just/a/path').getScheme() == '' && url('/p').getHost() == ''"), "true");
  EXPECT_EQ(run("isURL('oci://ghcr.io/x:v1') && isURL('file:///opt/x.wasm') && isURL('a:b')"),
            "true");
  EXPECT_EQ(run("isURL('ghcr.io/x:v1') || isURL('') || isURL('http://a b') || isURL('http://h#f')"),
            "false");
  EXPECT_TRUE(isError(run("url('ghcr.io/x').getScheme() == ''")));
  EXPECT_TRUE(isError(run("'x'.getScheme() == ''")));

  EXPECT_FALSE(parseRequestUri("http://a%2").ok());     // malformed escape
  EXPECT_FALSE(parseRequestUri("http://a%41").ok());    // hosts escape only non-ASCII
  EXPECT_FALSE(parseRequestUri("http://h:80x/").ok());  // bad port
  EXPECT_FALSE(parseRequestUri("http://[::1/").ok());   // unclosed bracket
  EXPECT_FALSE(parseRequestUri("http://a\x01").ok());   // control character
  EXPECT_FALSE(parseRequestUri(":foo").ok());           // missing scheme
  EXPECT_TRUE(parseRequestUri("*").ok());
  EXPECT_EQ(parseRequestUri("http://caf%C3%A9.fr/").value().host, "caf\xC3\xA9.fr");
  EXPECT_EQ(parseRequestUri("localhost:5000/x").value().scheme, "localhost");  // opaque, as Go
}

TEST(CelCompile, ErrorsNameTheConstructAndOffset) {
  auto bad = compile("self.foo(1)");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "unsupported method 'foo' at offset 5");
  EXPECT_EQ(compile("timestamp('x')").error(), "unsupported function 'timestamp' at offset 0");
  EXPECT_EQ(compile("a.b{}").error(), "undeclared reference to 'a' at offset 0");
  EXPECT_EQ(compile("Msg{a: 1}").error(), "message construction is not supported at offset 0");
  EXPECT_EQ(compile("1 +").error(), "unexpected end of input at offset 3");
  EXPECT_EQ(compile(".x").error(), "leading '.' names are not supported at offset 0");
  EXPECT_TRUE(isCompileError(run("")));
  EXPECT_TRUE(isCompileError(run("(1 == 1")));
  EXPECT_TRUE(isCompileError(run("1 == 1)")));
  EXPECT_TRUE(isCompileError(run("if")));
}

TEST(CelCompile, DeepNestingIsRejectedNotACrash) {
  EXPECT_TRUE(isCompileError(run(std::string(100000, '(') + "1" + std::string(100000, ')'))));
  EXPECT_TRUE(isCompileError(run(std::string(100000, '!') + "true")));
  std::string sum = "1";
  for (int i = 0; i < 50000; ++i) sum += " + 1";
  EXPECT_TRUE(isCompileError(run(sum + " > 0")));
  std::string fine = "1";
  for (int i = 0; i < 50; ++i) fine += " + 1";
  EXPECT_EQ(run(fine + " == 51"), "true");
}

TEST(CelEvaluate, ResultMustBeBool) {
  EXPECT_TRUE(isError(run("1 + 1")));
  EXPECT_TRUE(isError(run("self", "'x'")));
  EXPECT_EQ(run("self", "true"), "true");
}

// These tests take each rule's text from Istio's CRDs (crdRule), in the external corpus: without
// it they skip.
class CelIstioRules : public ::testing::Test {
 protected:
  void SetUp() override { HALYARD_REQUIRE_SHARED_CORPUS(); }
};

TEST_F(CelIstioRules, EveryCrdRuleCompilesAndEvaluatesWithoutCrashing) {
  const auto& rules = crdRules();
  EXPECT_EQ(rules.size(), 398u);
  std::set<std::string> distinct(rules.begin(), rules.end());
  EXPECT_GE(distinct.size(), 36u);
  const std::vector<std::string> inputs = {
      "null",         "{}", "''", "0", "[]", "'unix://'", "{address: 'unix:///a', ports: {a: 1}}",
      "[{number: 1}]"};
  for (const std::string& rule : distinct) {
    auto program = compile(rule);
    ASSERT_TRUE(program.ok()) << rule << ": " << program.error();
    for (const std::string& input : inputs) (void)evaluate(**program, yaml(input));
  }
}

TEST_F(CelIstioRules, ServiceEntryWorkloadSelectorOrEndpoints) {
  std::string rule =
      crdRule("(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1");
  EXPECT_EQ(run(rule, "{hosts: [a]}"), "true");
  EXPECT_EQ(run(rule, "{endpoints: [{address: 1.2.3.4}]}"), "true");
  EXPECT_EQ(run(rule, "{workloadSelector: {labels: {app: a}}}"), "true");
  EXPECT_EQ(run(rule, "{workloadSelector: {labels: {app: a}}, endpoints: []}"), "false");
}

TEST_F(CelIstioRules, ServiceEntryUnixAddresses) {
  std::string abs = crdRule(
      "self.startsWith(\"unix://\") ? (self.substring(7, 8) == \"/\" || self.substring(7, 8) == "
      "\"@\") : true");
  EXPECT_EQ(run(abs, "'unix:///var/run/x.sock'"), "true");
  EXPECT_EQ(run(abs, "'unix://@abstract'"), "true");
  EXPECT_EQ(run(abs, "'10.0.0.1'"), "true");
  EXPECT_EQ(run(abs, "'unix://relative'"), "false");
  EXPECT_TRUE(isError(run(abs, "'unix://'")));  // substring past the end fails the rule
  std::string dir = crdRule("self.startsWith(\"unix://\") ? !self.endsWith(\"/\") : true");
  EXPECT_EQ(run(dir, "'unix:///var/run/'"), "false");
  EXPECT_EQ(run(dir, "'unix:///var/run/x'"), "true");
  std::string ports = crdRule(
      "(has(self.address) ? self.address : \"\").startsWith(\"unix://\") ? !has(self.ports) : "
      "true");
  EXPECT_EQ(run(ports, "{address: 'unix:///x', ports: {http: 80}}"), "false");
  EXPECT_EQ(run(ports, "{address: 'unix:///x'}"), "true");
  EXPECT_EQ(run(ports, "{address: 1.2.3.4, ports: {http: 80}}"), "true");
  EXPECT_EQ(run(ports, "{network: n1, ports: {http: 80}}"), "true");
  std::string required = crdRule("has(self.address) || has(self.network)");
  EXPECT_EQ(run(required, "{network: n1}"), "true");
  EXPECT_EQ(run(required, "{ports: {http: 80}}"), "false");
}

TEST_F(CelIstioRules, ServiceEntryResolutionRules) {
  std::string cidr = crdRule(
      "!((has(self.addresses) ? self.addresses : []).exists(k, k.contains(\"/\")) && "
      "!((has(self.resolution) ? self.resolution : \"NONE\") in [\"STATIC\", \"NONE\"]))");
  EXPECT_EQ(run(cidr, "{addresses: [10.0.0.0/8]}"), "true");
  EXPECT_EQ(run(cidr, "{addresses: [10.0.0.0/8], resolution: STATIC}"), "true");
  EXPECT_EQ(run(cidr, "{addresses: [10.0.0.0/8], resolution: DNS}"), "false");
  EXPECT_EQ(run(cidr, "{addresses: [10.0.0.1], resolution: DNS}"), "true");
  EXPECT_EQ(run(cidr, "{resolution: DNS}"), "true");
  std::string none = crdRule(
      "((has(self.resolution) ? self.resolution : \"NONE\") == \"NONE\") ? !has(self.endpoints) : "
      "true");
  EXPECT_EQ(run(none, "{endpoints: [{address: a}]}"), "false");
  EXPECT_EQ(run(none, "{resolution: STATIC, endpoints: [{address: a}]}"), "true");
  std::string rr = crdRule(
      "((has(self.resolution) ? self.resolution : \"\") == \"DNS_ROUND_ROBIN\") ? "
      "((has(self.endpoints) "
      "? self.endpoints : []).size() <= 1) : true");
  EXPECT_EQ(run(rr, "{resolution: DNS_ROUND_ROBIN, endpoints: [{address: a}]}"), "true");
  EXPECT_EQ(run(rr, "{resolution: DNS_ROUND_ROBIN, endpoints: [{address: a}, {address: b}]}"),
            "false");
  EXPECT_EQ(run(rr, "{resolution: DNS, endpoints: [{address: a}, {address: b}]}"), "true");
}

TEST_F(CelIstioRules, UniquePortNumbers) {
  std::string rule = crdRule("self.all(l1, self.exists_one(l2, l1.number == l2.number))");
  EXPECT_EQ(run(rule, "[{number: 80, name: a}, {number: 443, name: b}]"), "true");
  EXPECT_EQ(run(rule, "[{number: 80, name: a}, {number: 80, name: b}]"), "false");
  EXPECT_EQ(run(rule, "[]"), "true");
  EXPECT_TRUE(isError(run(rule, "[{name: a}]")));
}

TEST_F(CelIstioRules, DurationAtLeastOneMillisecond) {
  std::string rule = crdRule("duration(self) >= duration('1ms')");
  EXPECT_EQ(run(rule, "1ms"), "true");
  EXPECT_EQ(run(rule, "1.5s"), "true");
  EXPECT_EQ(run(rule, "1h30m"), "true");
  EXPECT_EQ(run(rule, "999us"), "false");
  EXPECT_EQ(run(rule, "0s"), "false");
  EXPECT_EQ(run(rule, "-1s"), "false");
  EXPECT_TRUE(isError(run(rule, "10")));    // an int, not a duration string
  EXPECT_TRUE(isError(run(rule, "'10'")));  // no unit
  EXPECT_TRUE(isError(run(rule, "1d")));
}

TEST_F(CelIstioRules, PortRange) {
  std::string rule = crdRule("0 < self && self <= 65535");
  EXPECT_EQ(run(rule, "1"), "true");
  EXPECT_EQ(run(rule, "65535"), "true");
  EXPECT_EQ(run(rule, "0"), "false");
  EXPECT_EQ(run(rule, "65536"), "false");
  EXPECT_TRUE(isError(run(rule, "'80'")));
}

TEST_F(CelIstioRules, PeerAuthenticationPortLevelMtlsRequiresSelector) {
  std::string rule = crdRule(
      "has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? "
      "self.selector.matchLabels : {}).size() > 0) : true");
  EXPECT_EQ(run(rule, "{mtls: {mode: STRICT}}"), "true");
  EXPECT_EQ(
      run(rule, "{portLevelMtls: {'8080': {mode: DISABLE}}, selector: {matchLabels: {app: a}}}"),
      "true");
  EXPECT_EQ(run(rule, "{portLevelMtls: {'8080': {mode: DISABLE}}}"), "false");
  EXPECT_EQ(run(rule, "{portLevelMtls: {'8080': {mode: DISABLE}}, selector: {}}"), "false");
  EXPECT_EQ(run(rule, "{portLevelMtls: {'8080': {mode: DISABLE}}, selector: {matchLabels: {}}}"),
            "false");
  std::string ports = crdRule("self.all(key, 0 < int(key) && int(key) <= 65535)");
  EXPECT_EQ(run(ports, "{'8080': {}, '1': {}}"), "true");
  EXPECT_EQ(run(ports, "{'0': {}}"), "false");
  EXPECT_EQ(run(ports, "{'70000': {}}"), "false");
  EXPECT_TRUE(isError(run(ports, "{http: {}}")));
}

TEST_F(CelIstioRules, LabelMapKeys) {
  std::string wildcard = crdRule("self.all(key, !key.contains(\"*\"))");
  EXPECT_EQ(run(wildcard, "{app: '*'}"), "true");  // values are checked by another rule
  EXPECT_EQ(run(wildcard, "{'ap*': x}"), "false");
  std::string empty = crdRule("self.all(key, key.size() != 0)");
  EXPECT_EQ(run(empty, "{app: x}"), "true");
  EXPECT_EQ(run(empty, "{'': x}"), "false");
  std::string value = crdRule("!self.contains(\"*\")");
  EXPECT_EQ(run(value, "'re*'"), "false");
  std::string name = crdRule(
      "self.all(key, size(key) < 63 && "
      "key.matches(\"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$\"))");
  EXPECT_EQ(run(name, "{http: 80, grpc-web: 81}"), "true");
  EXPECT_EQ(run(name, "{-bad: 80}"), "false");
  EXPECT_EQ(run(name, "{'" + std::string(63, 'a') + "': 80}"), "false");
}

TEST_F(CelIstioRules, WasmUrlScheme) {
  std::string rule = crdRule(
      "isURL(self) ? (url(self).getScheme() in [\"\", \"http\", \"https\", \"oci\", \"file\"]) : "
      "(isURL(\"http://\" + self) &&\nurl(\"http://\" + self).getScheme() in [\"\", \"http\", "
      "\"https\", \"oci\", \"file\"])");
  EXPECT_EQ(run(rule, "'oci://ghcr.io/istio/plugin:1.0'"), "true");
  EXPECT_EQ(run(rule, "'https://example.com/p.wasm'"), "true");
  EXPECT_EQ(run(rule, "'file:///opt/p.wasm'"), "true");
  EXPECT_EQ(run(rule, "'ghcr.io/istio/plugin'"), "true");  // retried with http://
  EXPECT_EQ(run(rule, "'ftp://example.com/p.wasm'"), "false");
  std::string jwks = crdRule("url(self).getScheme() in [\"http\", \"https\"]");
  EXPECT_EQ(run(jwks, "'https://example.com/jwks.json'"), "true");
  EXPECT_EQ(run(jwks, "'/jwks.json'"), "false");
  EXPECT_TRUE(isError(run(jwks, "'example.com/jwks.json'")));
}

TEST_F(CelIstioRules, TelemetryTagOverrides) {
  std::string upsert = crdRule(
      "((has(self.operation) ? self.operation : \"\") == \"UPSERT\") ? (self.value != \"\") : "
      "true");
  EXPECT_EQ(run(upsert, "{operation: UPSERT, value: x}"), "true");
  EXPECT_EQ(run(upsert, "{operation: UPSERT, value: ''}"), "false");
  EXPECT_TRUE(isError(run(upsert, "{operation: UPSERT}")));  // no value: the rule fails
  EXPECT_EQ(run(upsert, "{operation: REMOVE}"), "true");
  std::string remove = crdRule(
      "((has(self.operation) ? self.operation : \"\") == \"REMOVE\") ? !has(self.value) : true");
  EXPECT_EQ(run(remove, "{operation: REMOVE, value: x}"), "false");
  EXPECT_EQ(run(remove, "{operation: REMOVE}"), "true");
}

TEST_F(CelIstioRules, EnvoyFilterWaypointAndExactlyOne) {
  std::string waypoint = crdRule(
      "has(self.context) ? ((self.context == \"WAYPOINT\") ? has(self.waypoint) : "
      "!has(self.waypoint)) "
      ": !has(self.waypoint)");
  EXPECT_EQ(run(waypoint, "{context: WAYPOINT, waypoint: {}}"), "true");
  EXPECT_EQ(run(waypoint, "{context: WAYPOINT}"), "false");
  EXPECT_EQ(run(waypoint, "{context: SIDECAR_INBOUND, waypoint: {}}"), "false");
  EXPECT_EQ(run(waypoint, "{waypoint: {}}"), "false");
  EXPECT_EQ(run(waypoint, "{}"), "true");
  std::string one = crdRule("has(self.wasm) != has(self.lua)");
  EXPECT_EQ(run(one, "{wasm: {}}"), "true");
  EXPECT_EQ(run(one, "{wasm: {}, lua: {}}"), "false");
  EXPECT_EQ(run(one, "{}"), "false");
  std::string scheme = crdRule("self in [\"\", \"HTTP\", \"HTTPS\"]");
  EXPECT_EQ(run(scheme, "HTTPS"), "true");
  EXPECT_EQ(run(scheme, "https"), "false");
}

TEST(CelProgram, CompiledOnceEvaluatedManyTimes) {
  auto program = compile("self.all(p, p.number > 0)");
  ASSERT_TRUE(program.ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(evaluate(**program, yaml("[{number: 1}]")).value(), true);
    EXPECT_EQ(evaluate(**program, yaml("[{number: 0}]")).value(), false);
  }
}

}  // namespace
}  // namespace halyard::config::cel
