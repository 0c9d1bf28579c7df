#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "telemetry/access_log_format.h"
#include "telemetry/access_logger.h"
#include "telemetry/response_flags.h"
#include "telemetry/tag_overrides.h"

namespace halyard::telemetry {
namespace {

using namespace std::chrono_literals;

std::chrono::system_clock::time_point at(std::chrono::milliseconds since_midnight) {
  return std::chrono::sys_days{std::chrono::year{2026} / 12 / 1} + since_midnight;
}

AccessLogEntry sampleEntry() {
  AccessLogEntry e;
  e.start_time = at(8h + 123ms);
  e.method = "GET";
  e.path = "/productpage?u=1";
  e.protocol = "HTTP/1.1";
  e.response_code = 200;
  e.response_code_details = "via_upstream";
  e.bytes_received = 0;
  e.bytes_sent = 1234;
  e.duration = 15ms;
  e.upstream_service_time = 12ms;
  e.x_forwarded_for = "10.0.0.1";
  e.user_agent = "curl/8.5.0";
  e.request_id = "7f3c9a2e-0b1d-4e5f-9a8b-1c2d3e4f5a6b";
  e.authority = "shop.example.com";
  e.upstream_host = "10.1.2.3:9080";
  e.upstream_cluster = "outbound|9080||productpage.default.svc.cluster.local";
  e.upstream_local_address = "10.1.0.9:41234";
  e.downstream_local_address = "10.1.0.9:8080";
  e.downstream_remote_address = "10.0.0.1:53422";
  e.route_name = "default";
  return e;
}

// A request the proxy answered itself: no upstream, most fields empty.
AccessLogEntry localReply() {
  AccessLogEntry e;
  e.start_time = at(23h + 59min + 59s + 999ms);
  e.method = "GET";
  e.path = "/nope";
  e.protocol = "HTTP/1.1";
  e.response_code = 404;
  e.response_flags = {ResponseFlag::kNoRouteFound};
  e.response_code_details = "route_not_found";
  e.bytes_received = 76;
  e.authority = "other.example.com";
  e.downstream_local_address = "10.1.0.9:8080";
  e.downstream_remote_address = "10.0.0.1:53423";
  return e;
}

TEST(ResponseFlags, RenderInEnvoyOrder) {
  EXPECT_EQ(ResponseFlags{}.toString(), "-");
  ResponseFlags f;
  f.set(ResponseFlag::kUpstreamConnectionFailure);
  f.set(ResponseFlag::kNoHealthyUpstream);
  EXPECT_EQ(f.toString(), "UH,UF");
  EXPECT_TRUE(f.has(ResponseFlag::kNoHealthyUpstream));
  EXPECT_FALSE(f.has(ResponseFlag::kNoRouteFound));
  EXPECT_EQ((ResponseFlags{ResponseFlag::kUpstreamRetryLimitExceeded,
                           ResponseFlag::kUpstreamRemoteReset, ResponseFlag::kDelayInjected})
                .toString(),
            "UR,DI,URX");
}

TEST(ResponseFlags, EveryShortName) {
  std::string all;
  ResponseFlags f;
  for (unsigned i = 0; i < static_cast<unsigned>(ResponseFlag::kCount); ++i) {
    f.set(static_cast<ResponseFlag>(i));
  }
  EXPECT_EQ(f.toString(),
            "LH,UH,UT,LR,UR,UF,UC,UO,NR,DI,FI,RL,UAEX,RLSE,DC,URX,SI,IH,DPE,UMSDR,RFCF,NFCF,DT,UPE,"
            "NC,OM,DF,DO,DR,UDO");
  EXPECT_EQ(shortName(ResponseFlag::kNoClusterFound), "NC");
}

TEST(AccessLogFormat, StartTime) {
  std::string s;
  appendStartTime(s, at(8h));
  EXPECT_EQ(s, "2026-12-01T08:00:00.000Z");
  s.clear();
  appendStartTime(s, std::chrono::sys_days{std::chrono::year{1999} / 1 / 9} + 7h + 5min + 3s +
                         42ms + std::chrono::microseconds(999));
  EXPECT_EQ(s, "1999-01-09T07:05:03.042Z");  // truncated, not rounded, like Envoy
}

TEST(AccessLogFormat, TextGolden) {
  std::string s;
  appendTextLine(s, sampleEntry());
  EXPECT_EQ(
      s,
      "[2026-12-01T08:00:00.123Z] \"GET /productpage?u=1 HTTP/1.1\" 200 - via_upstream - \"-\" "
      "0 1234 15 12 \"10.0.0.1\" \"curl/8.5.0\" \"7f3c9a2e-0b1d-4e5f-9a8b-1c2d3e4f5a6b\" "
      "\"shop.example.com\" \"10.1.2.3:9080\" "
      "outbound|9080||productpage.default.svc.cluster.local 10.1.0.9:41234 10.1.0.9:8080 "
      "10.0.0.1:53422 - default\n");
  s.clear();
  appendTextLine(s, localReply());
  EXPECT_EQ(
      s,
      "[2026-12-01T23:59:59.999Z] \"GET /nope HTTP/1.1\" 404 NR route_not_found - \"-\" 76 0 0 "
      "- \"-\" \"-\" \"-\" \"other.example.com\" \"-\" - - 10.1.0.9:8080 10.0.0.1:53423 - -\n");
}

TEST(AccessLogFormat, JsonGolden) {
  std::string s;
  appendJsonLine(s, sampleEntry());
  EXPECT_EQ(s,
            "{\"start_time\":\"2026-12-01T08:00:00.123Z\",\"route_name\":\"default\","
            "\"method\":\"GET\",\"path\":\"/productpage?u=1\",\"protocol\":\"HTTP/1.1\","
            "\"response_code\":200,\"response_flags\":\"-\","
            "\"response_code_details\":\"via_upstream\",\"connection_termination_details\":null,"
            "\"bytes_received\":0,\"bytes_sent\":1234,\"duration\":15,"
            "\"upstream_service_time\":\"12\",\"x_forwarded_for\":\"10.0.0.1\","
            "\"user_agent\":\"curl/8.5.0\","
            "\"request_id\":\"7f3c9a2e-0b1d-4e5f-9a8b-1c2d3e4f5a6b\","
            "\"authority\":\"shop.example.com\",\"upstream_host\":\"10.1.2.3:9080\","
            "\"upstream_cluster\":\"outbound|9080||productpage.default.svc.cluster.local\","
            "\"upstream_local_address\":\"10.1.0.9:41234\","
            "\"downstream_local_address\":\"10.1.0.9:8080\","
            "\"downstream_remote_address\":\"10.0.0.1:53422\",\"requested_server_name\":null,"
            "\"upstream_transport_failure_reason\":null,\"downstream_peer_uri_san\":null,"
            "\"upstream_peer_uri_san\":null}\n");
  s.clear();
  AccessLogEntry e = localReply();
  e.user_agent = "evil\"agent\\\x01";
  e.response_flags.set(ResponseFlag::kDownstreamConnectionTermination);
  appendJsonLine(s, e);
  EXPECT_NE(s.find("\"user_agent\":\"evil\\\"agent\\\\\\u0001\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"response_flags\":\"NR,DC\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"upstream_service_time\":null"), std::string::npos) << s;
  EXPECT_NE(s.find("\"response_code\":404"), std::string::npos) << s;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AccessLoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/halyard_access_log_XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(AccessLoggerTest, WritesTextThenJsonAfterSwitch) {
  AccessLogger logger;
  ASSERT_TRUE(logger.open(path_).ok());
  {
    AccessLogWriter w(logger);
    w.log(sampleEntry());
    logger.setFormat(AccessLogFormat::kJson);
    w.log(localReply());
    EXPECT_EQ(readFile(path_), "");  // still buffered
    w.flush();
    logger.setFormat(AccessLogFormat::kOff);
    w.log(sampleEntry());
  }  // the destructor flushes (nothing: the last line was off)
  std::string text, json;
  appendTextLine(text, sampleEntry());
  appendJsonLine(json, localReply());
  EXPECT_EQ(readFile(path_), text + json);
}

TEST_F(AccessLoggerTest, FlushesAtThresholdAndWithoutDestinationWritesNothing) {
  AccessLogger logger;
  AccessLogWriter w(logger, 0);
  w.log(sampleEntry());  // no destination yet: dropped
  ASSERT_TRUE(logger.open(path_).ok());
  w.log(sampleEntry());  // threshold 0: written at once
  std::string text;
  appendTextLine(text, sampleEntry());
  EXPECT_EQ(readFile(path_), text);

  ASSERT_TRUE(logger.open("").ok());
  w.log(sampleEntry());
  EXPECT_EQ(readFile(path_), text);
}

TEST_F(AccessLoggerTest, LongBuffersArriveWhole) {
  AccessLogger logger;
  ASSERT_TRUE(logger.open(path_).ok());
  AccessLogEntry e = sampleEntry();
  const std::string long_agent(6000, 'a');  // one line above PIPE_BUF, written alone
  std::string expected;
  {
    AccessLogWriter w(logger, 1 << 20);
    for (int i = 0; i < 100; ++i) {
      e.user_agent = i == 50 ? std::string_view(long_agent) : std::string_view("curl");
      w.log(e);
      appendTextLine(expected, e);
    }
  }
  EXPECT_EQ(readFile(path_), expected);
}

TEST_F(AccessLoggerTest, OpenFailureKeepsThePreviousDestination) {
  AccessLogger logger;
  ASSERT_TRUE(logger.open(path_).ok());
  auto r = logger.open("/nonexistent-dir/x/access.log");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent-dir/x/access.log"), std::string::npos);
  AccessLogWriter w(logger, 0);
  w.log(sampleEntry());
  EXPECT_FALSE(readFile(path_).empty());
}

// Headers beyond the entry's own fields, as the connection manager's view answers them.
std::optional<std::string_view> someHeaders(const void*, std::string_view name) {
  if (name == "x-user") return std::string_view("alice\"s");
  return std::nullopt;
}

translate::AccessLogTemplate compiledText(std::string_view text) {
  return std::get<translate::AccessLogTemplate>(translate::AccessLogTemplate::parseText(text));
}

TEST(AccessLogFormat, ProviderTextFormat) {
  AccessLogEntry e = sampleEntry();
  e.request_headers = {nullptr, &someHeaders};
  std::string s;
  appendTemplateLine(s, e,
                     compiledText("%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% "
                                  "%RESPONSE_CODE% %REQ(x-user)% %REQ(x-none)% "
                                  "%REQ(USER-AGENT):4% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% "
                                  "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %RESPONSE_FLAGS%"));
  EXPECT_EQ(s, "GET /productpage?u=1 200 alice\"s - curl 10.0.0.1 12 -\n");
  std::string with_newline;
  appendTemplateLine(with_newline, e, compiledText("%START_TIME%\n"));
  EXPECT_EQ(with_newline, "2026-12-01T08:00:00.123Z\n");  // no second newline
}

TEST(AccessLogFormat, ProviderLabelsFormat) {
  AccessLogEntry e = localReply();
  e.request_headers = {nullptr, &someHeaders};
  auto t =
      translate::AccessLogTemplate::parseLabels({{"code", "%RESPONSE_CODE%"},
                                                 {"user", "%REQ(x-user)%"},
                                                 {"upstream", "%UPSTREAM_HOST%"},
                                                 {"ust", "%RESP(x-envoy-upstream-service-time)%"},
                                                 {"line", "%REQ(:METHOD)% %UPSTREAM_HOST%"},
                                                 {"fixed", "mesh"}});
  std::string s;
  appendTemplateLine(s, e, std::get<translate::AccessLogTemplate>(t));
  EXPECT_EQ(s,
            "{\"code\":404,\"user\":\"alice\\\"s\",\"upstream\":null,\"ust\":null,"
            "\"line\":\"GET -\",\"fixed\":\"mesh\"}\n");
}

TEST_F(AccessLoggerTest, ProvidersWriteToTheirOwnFilesAndReopen) {
  const std::string second = path_ + ".second";
  AccessLogger logger;  // no --access-log
  translate::AccessLogProvider text;
  text.name = "text";
  text.path = path_;
  translate::AccessLogProvider custom;
  custom.name = "custom";
  custom.path = second;
  custom.encoding = translate::AccessLogProvider::Encoding::kText;
  custom.text = "%REQ(:PATH)% %RESPONSE_CODE%";
  translate::compileAccessLogFormat(custom, nullptr);
  const std::vector<translate::AccessLogProvider> providers = {text, custom};
  std::string expected;
  appendTextLine(expected, sampleEntry());
  {
    AccessLogWriter w(logger);
    for (const auto& provider : providers) w.log(sampleEntry(), provider);
    w.flush();
    EXPECT_EQ(readFile(path_), expected);
    EXPECT_EQ(readFile(second), "/productpage?u=1 200\n");
    // Rotation: the file is moved away, SIGUSR1 reopens; the next line goes to a new file.
    const std::string rotated = second + ".1";
    ASSERT_EQ(std::rename(second.c_str(), rotated.c_str()), 0);
    logger.reopen();
    for (const auto& provider : providers) w.log(localReply(), provider);
    w.flush();
    EXPECT_EQ(readFile(second), "/nope 404\n");
    EXPECT_EQ(readFile(rotated), "/productpage?u=1 200\n");
    std::remove(rotated.c_str());
  }
  std::remove(second.c_str());
}

TEST(TagUpserter, ReplacesAndAddsLabels) {
  translate::MetricsSide side;
  translate::TagUpsert host;
  host.tag = "destination_service";
  host.compiled = *translate::parseAttributeValue("request.host");
  host.metrics[static_cast<size_t>(translate::IstioMetric::kRequestCount)] = true;
  translate::TagUpsert user;
  user.tag = "user";
  user.compiled = *translate::parseAttributeValue("request.headers['x-user'] | 'anonymous'");
  user.metrics.fill(true);
  side.upserts = {host, user};
  translate::AccessLogAttributes request;
  request.host = "shop.example.com";
  TagUpserter upserter;
  const std::vector<Label> base = {{"reporter", "source"}, {"destination_service", "shop"}};
  upserter.evaluate(side, request);
  auto count = upserter.apply(base, side, translate::IstioMetric::kRequestCount);
  EXPECT_EQ(std::vector<Label>(count.begin(), count.end()),
            (std::vector<Label>{{"reporter", "source"},
                                {"destination_service", "shop.example.com"},
                                {"user", "anonymous"}}));
  auto duration = upserter.apply(base, side, translate::IstioMetric::kRequestDuration);
  EXPECT_EQ(std::vector<Label>(duration.begin(), duration.end()),
            (std::vector<Label>{
                {"reporter", "source"}, {"destination_service", "shop"}, {"user", "anonymous"}}));
  translate::MetricsSide none;
  EXPECT_EQ(upserter.apply(base, none, translate::IstioMetric::kRequestCount).data(), base.data());
}

TEST(TagUpserter, ARemovalEmptiesTheLabelOfTheMetricsItNamesOnly) {
  // tagOverrides {request_protocol: {operation: REMOVE}} matched to REQUEST_COUNT: the label goes
  // from that metric (an empty value is no label to Prometheus); the others keep it.
  translate::MetricsSide side;
  translate::TagUpsert removal;
  removal.tag = "request_protocol";
  removal.remove = true;
  removal.metrics[static_cast<size_t>(translate::IstioMetric::kRequestCount)] = true;
  side.upserts = {removal};
  TagUpserter upserter;
  const std::vector<Label> base = {{"reporter", "source"}, {"request_protocol", "http"}};
  upserter.evaluate(side, {});
  auto count = upserter.apply(base, side, translate::IstioMetric::kRequestCount);
  EXPECT_EQ(std::vector<Label>(count.begin(), count.end()),
            (std::vector<Label>{{"reporter", "source"}, {"request_protocol", ""}}));
  auto duration = upserter.apply(base, side, translate::IstioMetric::kRequestDuration);
  EXPECT_EQ(std::vector<Label>(duration.begin(), duration.end()), base);
}

}  // namespace
}  // namespace halyard::telemetry
