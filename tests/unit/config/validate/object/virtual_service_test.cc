#include <gmock/gmock.h>

#include "validate_test_util.h"

namespace halyard::config {
namespace {

using testing::describe;
using ::testing::ElementsAre;
using testing::errorPaths;
using ::testing::IsEmpty;
using testing::validate;

// A VirtualService with the given spec body (indented by two spaces under `spec:`).
std::string vs(const std::string& spec) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
         "  namespace: ns\nspec:\n" +
         spec;
}

// A VirtualService for host "reviews" with one HTTP rule whose body follows "  - ".
std::string httpRule(const std::string& rule) {
  return vs("  hosts: [reviews]\n  http:\n  - " + rule);
}

const std::string kRoute = "route:\n    - destination:\n        host: reviews\n";

TEST(VirtualServiceValidation, AcceptsAPlainRoute) {
  auto d = validate(httpRule(kRoute));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

TEST(VirtualServiceValidation, ReportsFieldPathLineAndMessage) {
  auto d =
      validate(httpRule("route:\n    - destination:\n        host: reviews\n      weight: -5\n"
                        "    - destination:\n        host: ratings\n"));
  ASSERT_EQ(d.size(), 1u) << describe(d);
  EXPECT_EQ(d[0].code, "IST0106");
  EXPECT_EQ(d[0].type, "SchemaValidationError");
  EXPECT_EQ(d[0].level, Level::kError);
  EXPECT_EQ(d[0].resource.str(), "VirtualService ns/vs");
  EXPECT_EQ(d[0].field_path, "spec.http[0].route[0].weight");
  EXPECT_EQ(d[0].pos.line, 12);
  EXPECT_EQ(d[0].message, "spec.http[0].route[0].weight: negative weight (-5, expected >= 0)");
}

TEST(VirtualServiceValidation, NeedsSomeRoutes) {
  EXPECT_THAT(errorPaths(validate(vs("  hosts: [reviews]\n"))), ElementsAre("spec"));
}

TEST(VirtualServiceValidation, HostSyntax) {
  auto paths = [](const std::string& host) {
    return errorPaths(validate(vs("  hosts: [\"" + host + "\"]\n  http:\n  - " + kRoute)));
  };
  EXPECT_THAT(paths("reviews.prod.svc.cluster.local"), IsEmpty());
  EXPECT_THAT(paths("*.example.com"), IsEmpty());
  EXPECT_THAT(paths("10.0.0.1"), IsEmpty());  // IP addresses pass
  EXPECT_THAT(paths("foo.*.com"), ElementsAre("spec.hosts[0]"));
  EXPECT_THAT(paths("bad_host.com"), ElementsAre("spec.hosts[0]"));
  EXPECT_THAT(paths("example.123"), ElementsAre("spec.hosts[0]"));
  // Bound to the mesh (no gateways), "*" is not allowed.
  EXPECT_THAT(paths("*"), ElementsAre("spec.hosts[0]"));
}

TEST(VirtualServiceValidation, WildcardHostOnGateway) {
  auto d = validate(vs("  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - " + kRoute));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(vs("  hosts: [\"*\"]\n  gateways: [gw, mesh]\n  http:\n  - " + kRoute));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.hosts[0]"));
}

TEST(VirtualServiceValidation, DuplicateHosts) {
  auto d = validate(vs("  hosts: [\"*.foo.com\", a.foo.com]\n  http:\n  - " + kRoute));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.hosts[1]"));
}

TEST(VirtualServiceValidation, GatewayReferences) {
  auto paths = [](const std::string& gws) {
    return errorPaths(
        validate(vs("  hosts: [a.com]\n  gateways: " + gws + "\n  http:\n  - " + kRoute)));
  };
  EXPECT_THAT(paths("[istio-system/gw, gw, mesh]"), IsEmpty());
  EXPECT_THAT(paths("[gw.istio-system.svc.cluster.local]"), IsEmpty());
  EXPECT_THAT(paths("[Bad_Ns/gw]"), ElementsAre("spec.gateways[0]"));
  EXPECT_THAT(paths("[ns/gw.name]"), ElementsAre("spec.gateways[0]"));
}

TEST(VirtualServiceValidation, DelegateRules) {
  // No hosts: a delegate, which may have neither gateways nor tcp/tls routes.
  auto d = validate(vs("  gateways: [gw]\n  http:\n  - " + kRoute +
                       "  tcp:\n  - route:\n    - destination:\n        host: db\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.gateways", "spec.tcp")) << describe(d);
  // A delegate's rules may not delegate again.
  d = validate(vs("  http:\n  - delegate:\n      name: other\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].delegate", "spec.http[0]"));
  // A root rule delegates and has no route of its own.
  d = validate(httpRule("delegate:\n      name: child\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(httpRule("delegate:\n      name: child\n    " + kRoute));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].route"));
}

TEST(VirtualServiceValidation, ExactlyOneAction) {
  EXPECT_THAT(errorPaths(validate(httpRule("name: nothing\n"))), ElementsAre("spec.http[0]"));
  auto d = validate(httpRule("redirect:\n      uri: /x\n    " + kRoute));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].route"));
  d = validate(httpRule("redirect:\n      uri: /x\n    directResponse:\n      status: 200\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].directResponse"));
  d = validate(httpRule("directResponse:\n      status: 503\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

TEST(VirtualServiceValidation, RedirectAndDirectResponseExcludeFaultAndRewrite) {
  auto d =
      validate(httpRule("redirect:\n      uri: /x\n    rewrite:\n      uri: /y\n"
                        "    fault:\n      abort:\n        httpStatus: 500\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].fault", "spec.http[0].rewrite"));
  d = validate(httpRule("directResponse:\n      status: 200\n    rewrite:\n      uri: /y\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].rewrite"));
}

TEST(VirtualServiceValidation, MirrorXorMirrors) {
  auto d = validate(httpRule(kRoute + "    mirror:\n      host: shadow\n    mirrors:\n"
                                      "    - destination:\n        host: shadow2\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].mirrors"));
}

TEST(VirtualServiceValidation, MirrorPercentages) {
  auto d = validate(httpRule(kRoute + "    mirror:\n      host: shadow\n"
                                      "    mirrorPercentage:\n      value: 150\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].mirrorPercentage.value"));
  d = validate(httpRule(kRoute + "    mirrors:\n    - destination:\n        host: shadow\n"
                                 "      percentage:\n        value: -1\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].mirrors[0].percentage.value"));
}

TEST(VirtualServiceValidation, Weights) {
  auto two = [](const std::string& w1, const std::string& w2) {
    return errorPaths(
        validate(httpRule("route:\n    - destination:\n        host: a\n      weight: " + w1 +
                          "\n    - destination:\n        host: b\n      weight: " + w2 + "\n")));
  };
  EXPECT_THAT(two("49", "50"), IsEmpty());  // the sum need not be 100
  EXPECT_THAT(two("0", "0"), ElementsAre("spec.http[0].route"));
  EXPECT_THAT(two("-1", "2"), ElementsAre("spec.http[0].route[0].weight"));
  EXPECT_THAT(two("-1", "1"), ElementsAre("spec.http[0].route[0].weight", "spec.http[0].route"));
  // A single destination may have weight 0.
  EXPECT_THAT(errorPaths(validate(httpRule(kRoute + "      weight: 0\n"))), IsEmpty());
}

TEST(VirtualServiceValidation, Destinations) {
  auto dest = [](const std::string& body) {
    return errorPaths(validate(httpRule("route:\n    - destination:\n" + body)));
  };
  EXPECT_THAT(dest("        host: \"*\"\n"), ElementsAre("spec.http[0].route[0].destination.host"));
  EXPECT_THAT(dest("        host: a\n        subset: V_1\n"),
              ElementsAre("spec.http[0].route[0].destination.subset"));
  EXPECT_THAT(dest("        host: a\n        port:\n          number: 70000\n"),
              ElementsAre("spec.http[0].route[0].destination.port.number"));
  EXPECT_THAT(dest("        host: a\n        port:\n          number: 9080\n"), IsEmpty());
}

TEST(VirtualServiceValidation, Regexes) {
  auto match = [](const std::string& m) {
    return errorPaths(validate(httpRule("match:\n    - " + m + "\n    " + kRoute)));
  };
  EXPECT_THAT(match("uri:\n        regex: \"/api/v[0-9]+/.*\""), IsEmpty());
  EXPECT_THAT(match("uri:\n        regex: \"/api/(\""),
              ElementsAre("spec.http[0].match[0].uri.regex"));
  EXPECT_THAT(match("uri:\n        regex: \"" + std::string(1025, 'a') + "\""),
              ElementsAre("spec.http[0].match[0].uri.regex"));
  EXPECT_THAT(match("headers:\n        x-id:\n          regex: \"[\""),
              ElementsAre("spec.http[0].match[0].headers[x-id].regex"));
  EXPECT_THAT(match("queryParams:\n        v:\n          regex: \"*\""),
              ElementsAre("spec.http[0].match[0].queryParams[v].regex"));
  EXPECT_THAT(match("authority:\n        regex: \"(a\""),
              ElementsAre("spec.http[0].match[0].authority.regex"));
  // In withoutHeaders, regex "*" means "absent", not a regex.
  EXPECT_THAT(match("withoutHeaders:\n        x-id:\n          regex: \"*\""), IsEmpty());
  auto d = validate(httpRule(kRoute + "    rewrite:\n      uriRegexRewrite:\n        match: \"(\"\n"
                                      "        rewrite: /x\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].rewrite.uriRegexRewrite.match"));
  d = validate(httpRule(kRoute + "    corsPolicy:\n      allowOrigins:\n      - regex: \"(\"\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].corsPolicy.allowOrigins[0].regex"));
}

TEST(VirtualServiceValidation, EmptyPrefixes) {
  auto match = [](const std::string& m) {
    return errorPaths(validate(httpRule("match:\n    - " + m + "\n    " + kRoute)));
  };
  // Envoy accepts an empty URI prefix, not an empty header/query/scheme/method/authority one.
  EXPECT_THAT(match("uri:\n        prefix: \"\""), IsEmpty());
  EXPECT_THAT(match("headers:\n        x:\n          prefix: \"\""),
              ElementsAre("spec.http[0].match[0].headers[x].prefix"));
  EXPECT_THAT(match("queryParams:\n        x:\n          prefix: \"\""),
              ElementsAre("spec.http[0].match[0].queryParams[x].prefix"));
  EXPECT_THAT(match("scheme:\n        prefix: \"\""),
              ElementsAre("spec.http[0].match[0].scheme.prefix"));
  EXPECT_THAT(match("method:\n        prefix: \"\""),
              ElementsAre("spec.http[0].match[0].method.prefix"));
  EXPECT_THAT(match("authority:\n        prefix: \"\""),
              ElementsAre("spec.http[0].match[0].authority.prefix"));
}

TEST(VirtualServiceValidation, MatchHeaderNames) {
  auto match = [](const std::string& name) {
    return errorPaths(validate(httpRule("match:\n    - headers:\n        \"" + name +
                                        "\":\n          exact: v\n    " + kRoute)));
  };
  EXPECT_THAT(match("x-request-id"), IsEmpty());
  EXPECT_THAT(match(":authority"), IsEmpty());
  EXPECT_THAT(match("bad header"), ElementsAre("spec.http[0].match[0].headers[bad header]"));
  // JWT claims are matched only on gateway-bound VirtualServices.
  EXPECT_THAT(match("@request.auth.claims.group"),
              ElementsAre("spec.http[0].match[0].headers[@request.auth.claims.group]"));
  auto d =
      validate(vs("  hosts: [a.com]\n  gateways: [gw]\n  http:\n  - match:\n    - headers:\n"
                  "        \"@request.auth.claims.group\":\n          exact: admin\n    " +
                  kRoute));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

TEST(VirtualServiceValidation, MatchFields) {
  auto match = [](const std::string& m) {
    return errorPaths(validate(httpRule("match:\n    - " + m + "\n    " + kRoute)));
  };
  EXPECT_THAT(match("port: 70000"), ElementsAre("spec.http[0].match[0].port"));
  EXPECT_THAT(match("sourceNamespace: Bad_Ns"),
              ElementsAre("spec.http[0].match[0].sourceNamespace"));
  EXPECT_THAT(match("sourceLabels:\n        \"bad key!\": v"),
              ElementsAre("spec.http[0].match[0].sourceLabels[bad key!]"));
  EXPECT_THAT(match("gateways: [\"a/B_\"]"), ElementsAre("spec.http[0].match[0].gateways[0]"));
}

TEST(VirtualServiceValidation, Retries) {
  auto retries = [](const std::string& r) {
    return errorPaths(validate(httpRule(kRoute + "    retries:\n" + r)));
  };
  EXPECT_THAT(
      retries(
          "      attempts: 3\n      perTryTimeout: 2s\n      retryOn: 5xx,connect-failure,503\n"),
      IsEmpty());
  EXPECT_THAT(retries("      attempts: 0\n      perTryTimeout: 2s\n"),
              ElementsAre("spec.http[0].retries"));
  EXPECT_THAT(retries("      retryOn: 5xx\n"), ElementsAre("spec.http[0].retries"));
  EXPECT_THAT(retries("      attempts: -1\n"), ElementsAre("spec.http[0].retries.attempts"));
  EXPECT_THAT(retries("      attempts: 2\n      retryOn: 5xx,bogus\n"),
              ElementsAre("spec.http[0].retries.retryOn"));
  EXPECT_THAT(retries("      attempts: 2\n      retryOn: \"5xx, reset\"\n"),
              ElementsAre("spec.http[0].retries.retryOn"));  // no spaces
  EXPECT_THAT(retries("      attempts: 2\n      retryOn: \"999\"\n"),
              ElementsAre("spec.http[0].retries.retryOn"));  // not an HTTP status
  EXPECT_THAT(retries("      attempts: 2\n      perTryTimeout: 1500us\n"),
              ElementsAre("spec.http[0].retries.perTryTimeout"));  // finer than ms
}

TEST(VirtualServiceValidation, Durations) {
  EXPECT_THAT(errorPaths(validate(httpRule(kRoute + "    timeout: 0.5s\n"))), IsEmpty());
  EXPECT_THAT(errorPaths(validate(httpRule(kRoute + "    timeout: 1h\n"))), IsEmpty());
  EXPECT_THAT(errorPaths(validate(httpRule(kRoute + "    timeout: 1.0005s\n"))),
              ElementsAre("spec.http[0].timeout"));
  auto d = validate(httpRule(kRoute + "    corsPolicy:\n      maxAge: 1500ms\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].corsPolicy.maxAge"));  // whole seconds
}

TEST(VirtualServiceValidation, Faults) {
  auto fault = [](const std::string& f) {
    return errorPaths(validate(httpRule(kRoute + "    fault:\n" + f)));
  };
  EXPECT_THAT(
      fault("      delay:\n        fixedDelay: 5s\n        percentage:\n          value: 10\n"
            "      abort:\n        grpcStatus: UNAVAILABLE\n"),
      IsEmpty());
  EXPECT_THAT(fault("      abort:\n        httpStatus: 700\n"),
              ElementsAre("spec.http[0].fault.abort.httpStatus"));
  EXPECT_THAT(fault("      abort:\n        grpcStatus: \"14\"\n"),
              ElementsAre("spec.http[0].fault.abort.grpcStatus"));
  EXPECT_THAT(fault("      abort:\n        http2Error: x\n"),
              ElementsAre("spec.http[0].fault.abort.http2Error"));
  EXPECT_THAT(
      fault("      abort:\n        httpStatus: 500\n        percentage:\n          value: 101\n"),
      ElementsAre("spec.http[0].fault.abort.percentage.value"));
  EXPECT_THAT(fault("      delay:\n        exponentialDelay: 1s\n"),
              ElementsAre("spec.http[0].fault.delay.exponentialDelay"));
  EXPECT_THAT(fault("      {}\n"), ElementsAre("spec.http[0].fault"));
}

TEST(VirtualServiceValidation, DirectResponse) {
  EXPECT_THAT(errorPaths(validate(httpRule("directResponse:\n      status: 199\n"))),
              ElementsAre("spec.http[0].directResponse.status"));
  std::string big(1024 * 1024 + 1, 'x');
  auto d = validate(
      httpRule("directResponse:\n      status: 200\n      body:\n        string: " + big + "\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].directResponse.body"));
  std::string medium(200 * 1024, 'x');  // over 100 KiB only warns in Istio
  d = validate(httpRule(
      "directResponse:\n      status: 200\n      body:\n        string: " + medium + "\n"));
  EXPECT_THAT(errorPaths(d), IsEmpty());
}

TEST(VirtualServiceValidation, Redirects) {
  auto redirect = [](const std::string& r, const std::string& match = "") {
    return errorPaths(validate(httpRule(match + "redirect:\n" + r)));
  };
  EXPECT_THAT(redirect("      uri: /new\n      redirectCode: 308\n"), IsEmpty());
  EXPECT_THAT(redirect("      uri: /new\n      redirectCode: 399\n"), IsEmpty());  // any 3xx passes
  EXPECT_THAT(redirect("      uri: /new\n      redirectCode: 200\n"),
              ElementsAre("spec.http[0].redirect.redirectCode"));
  EXPECT_THAT(redirect("      redirectCode: 301\n"), ElementsAre("spec.http[0].redirect"));
  EXPECT_THAT(redirect("      scheme: ftp\n"), ElementsAre("spec.http[0].redirect.scheme"));
  EXPECT_THAT(redirect("      derivePort: FROM_REQUEST_PORT\n"), IsEmpty());
  EXPECT_THAT(
      redirect("      prefixRewrite: /v2\n", "match:\n    - uri:\n        prefix: /v1\n    "),
      IsEmpty());
  EXPECT_THAT(
      redirect("      prefixRewrite: /v2\n", "match:\n    - uri:\n        exact: /v1\n    "),
      ElementsAre("spec.http[0].redirect.prefixRewrite"));
}

TEST(VirtualServiceValidation, Rewrites) {
  auto rewrite = [](const std::string& r) {
    return errorPaths(validate(httpRule(kRoute + "    rewrite:\n" + r)));
  };
  EXPECT_THAT(rewrite("      uri: /v2\n      authority: new.host\n"), IsEmpty());
  EXPECT_THAT(
      rewrite("      uri: /v2\n      uriRegexRewrite:\n        match: a\n        rewrite: b\n"),
      ElementsAre("spec.http[0].rewrite"));
  EXPECT_THAT(rewrite("      uriRegexRewrite:\n        match: a\n"),
              ElementsAre("spec.http[0].rewrite.uriRegexRewrite"));
  EXPECT_THAT(rewrite("      {}\n"), ElementsAre("spec.http[0].rewrite"));
}

TEST(VirtualServiceValidation, AuthorityRewriteConflict) {
  auto d = validate(httpRule(kRoute + "    rewrite:\n      authority: a.com\n    headers:\n"
                                      "      request:\n        set:\n          host: b.com\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].headers.request"));
  d = validate(
      httpRule(kRoute + "    headers:\n      request:\n        set:\n          host: b.com\n"));
  EXPECT_THAT(errorPaths(d), IsEmpty());
}

TEST(VirtualServiceValidation, HeaderOperations) {
  auto headers = [](const std::string& h) {
    return errorPaths(validate(httpRule(kRoute + "    headers:\n" + h)));
  };
  EXPECT_THAT(headers("      response:\n        set:\n          x-a: \"%HOSTNAME% 100%%\"\n"),
              IsEmpty());
  EXPECT_THAT(headers("      response:\n        set:\n          x-a: \"50%\"\n"),
              ElementsAre("spec.http[0].headers.response.set[x-a]"));
  EXPECT_THAT(headers("      request:\n        add:\n          \":path\": /x\n"),
              ElementsAre("spec.http[0].headers.request.add[:path]"));
  EXPECT_THAT(headers("      request:\n        remove: [host]\n"),
              ElementsAre("spec.http[0].headers.request.remove[0]"));
  EXPECT_THAT(headers("      response:\n        set:\n          host: x\n"),
              ElementsAre("spec.http[0].headers.response.set[host]"));
  // Destination-level header operations follow the same rules.
  auto d = validate(
      httpRule(kRoute + "      headers:\n        response:\n          remove: [\":status\"]\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.http[0].route[0].headers.response.remove[0]"));
}

TEST(VirtualServiceValidation, Cors) {
  auto cors = [](const std::string& c) {
    return errorPaths(validate(httpRule(kRoute + "    corsPolicy:\n" + c)));
  };
  EXPECT_THAT(
      cors("      allowOrigins:\n      - exact: https://a.com\n      allowMethods: [GET, POST]\n"
           "      allowHeaders: [\"*\", x-custom]\n      maxAge: 24h\n"),
      IsEmpty());
  EXPECT_THAT(cors("      allowMethods: [get]\n"),
              ElementsAre("spec.http[0].corsPolicy.allowMethods[0]"));
  EXPECT_THAT(cors("      exposeHeaders: [\"a b\"]\n"),
              ElementsAre("spec.http[0].corsPolicy.exposeHeaders[0]"));
  EXPECT_THAT(cors("      allowOrigins:\n      - exact: \"\"\n"),
              ElementsAre("spec.http[0].corsPolicy.allowOrigins[0]"));
}

TEST(VirtualServiceValidation, TlsRoutes) {
  auto tls = [](const std::string& hosts, const std::string& sni) {
    return errorPaths(validate(vs("  hosts: " + hosts + "\n  tls:\n  - match:\n    - sniHosts: " +
                                  sni + "\n    route:\n    - destination:\n        host: a\n")));
  };
  EXPECT_THAT(tls("[\"*.example.com\"]", "[a.example.com]"), IsEmpty());
  EXPECT_THAT(tls("[a.example.com]", "[b.example.com]"),
              ElementsAre("spec.tls[0].match[0].sniHosts[0]"));
  EXPECT_THAT(tls("[a.example.com]", "[]"), ElementsAre("spec.tls[0].match[0].sniHosts"));
  EXPECT_THAT(tls("[a.example.com]", "[\"10.0.0.1\"]"), IsEmpty());  // only a warning in Istio
  auto d = validate(vs("  hosts: [a.com]\n  tls:\n  - match: []\n    route: []\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.tls[0].match", "spec.tls[0].route"));
}

TEST(VirtualServiceValidation, LeavesMissingRequiredFieldsToTheSchema) {
  // tls[].match and match[].sniHosts are required by the CRD: only empty lists are reported here.
  auto d = validate(
      vs("  hosts: [a.com]\n  tls:\n  - route:\n    - destination:\n        host: a\n"
         "  - match:\n    - port: 443\n    route:\n    - destination:\n        host: a\n"));
  EXPECT_THAT(errorPaths(d), IsEmpty()) << describe(d);
}

TEST(VirtualServiceValidation, TcpRoutes) {
  auto tcp = [](const std::string& match) {
    return errorPaths(validate(vs("  hosts: [db]\n  tcp:\n  - match:\n    - " + match +
                                  "\n    route:\n    - destination:\n        host: db\n")));
  };
  EXPECT_THAT(tcp("port: 5432\n      destinationSubnets: [10.0.0.0/8, 10.1.1.1]"), IsEmpty());
  EXPECT_THAT(tcp("destinationSubnets: [10.0.0.0/33]"),
              ElementsAre("spec.tcp[0].match[0].destinationSubnets[0]"));
  EXPECT_THAT(tcp("port: 0"), IsEmpty());  // 0 means unset
  auto d = validate(vs("  hosts: [db]\n  tcp:\n  - route: []\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.tcp[0].route"));
}

TEST(VirtualServiceValidation, ExportTo) {
  auto exportTo = [](const std::string& e) {
    return errorPaths(validate(vs("  hosts: [a]\n  exportTo: " + e + "\n  http:\n  - " + kRoute)));
  };
  EXPECT_THAT(exportTo("[\".\", other]"), IsEmpty());
  EXPECT_THAT(exportTo("[\".\", ns]"), ElementsAre("spec.exportTo[1]"));  // "." is ns
  EXPECT_THAT(exportTo("[a, a]"), ElementsAre("spec.exportTo[1]"));
  EXPECT_THAT(exportTo("[\"*\", a]"), ElementsAre("spec.exportTo"));
  EXPECT_THAT(exportTo("[\"~\", a]"), ElementsAre("spec.exportTo"));
  EXPECT_THAT(exportTo("[Bad_Ns]"), ElementsAre("spec.exportTo[0]"));
}

}  // namespace
}  // namespace halyard::config
