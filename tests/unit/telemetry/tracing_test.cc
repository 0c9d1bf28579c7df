// Trace context propagation (W3C, B3) and the span export formats (issue 14).
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "telemetry/span_exporter.h"
#include "telemetry/trace_context.h"

namespace halyard::telemetry {
namespace {

using Headers = std::map<std::string, std::string, std::less<>>;

// A request's fields as the proxy's request view has them: name and value views, in order.
struct Field {
  std::string_view name, value;
};
using Fields = std::vector<Field>;

std::shared_ptr<const translate::TracingSettings> settings(double pct) {
  auto s = std::make_shared<translate::TracingSettings>();
  s->sampling_percentage = pct;
  s->custom_tags.push_back({"tenant", translate::TracingCustomTag::Kind::kHeader, "x-tenant", "-"});
  return s;
}

struct Counter {
  uint64_t n = 0x1234;
  uint64_t operator()() { return n += 0x1111111111111111ull; }
};

Headers upstream(const TraceContext& t) {
  Headers out;
  t.forEachHeader([&](std::string_view n, std::string_view v) { out[std::string(n)] = v; });
  return out;
}

TEST(TraceContext, ContinuesAW3cTraceAsAChildSpan) {
  const Fields in{{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
                  {"x-tenant", "acme"}};
  TraceContext t;
  t.begin(settings(0), in, Counter{});
  EXPECT_TRUE(t.sampled());  // the caller's decision, not the 0% of this hop
  EXPECT_EQ(t.traceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t.parentId(), "00f067aa0ba902b7");
  EXPECT_NE(t.spanId(), "00f067aa0ba902b7");
  const Headers out = upstream(t);
  EXPECT_EQ(out.at("traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-" + std::string(t.spanId()) + "-01");
  EXPECT_EQ(out.at("x-b3-traceid"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(out.at("x-b3-spanid"), t.spanId());
  EXPECT_EQ(out.at("x-b3-parentspanid"), "00f067aa0ba902b7");
  EXPECT_EQ(out.at("x-b3-sampled"), "1");
  ASSERT_EQ(t.customTags().size(), 1u);
  EXPECT_EQ(t.customTags()[0].second, "acme");
}

TEST(TraceContext, ReadsB3SingleAndMultiHeaders) {
  TraceContext single;
  const Fields b3{{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}};
  single.begin(settings(100), b3, Counter{});
  EXPECT_EQ(single.traceId(), "80f198ee56343ba864fe8b2a57d3eff7");
  EXPECT_EQ(single.parentId(), "e457b5a2e4d86bd1");
  EXPECT_FALSE(single.sampled());  // "0" from the caller wins over 100%

  TraceContext multi;
  const Fields x{{"x-b3-traceid", "a3ce929d0e0e4736"}, {"x-b3-spanid", "00f067aa0ba902b7"}};
  multi.begin(settings(100), x, Counter{});
  EXPECT_EQ(multi.traceId(), "0000000000000000a3ce929d0e0e4736");  // 64-bit ids padded
  EXPECT_EQ(multi.parentId(), "00f067aa0ba902b7");
  EXPECT_TRUE(multi.sampled());  // no decision came in: this hop's 100%
}

TEST(TraceContext, TheFirstOfEachHeaderCountsAndB3DebugForcesSampling) {
  // The fields are read in one pass: a repeated header does not replace the first.
  const Fields x{{"x-b3-flags", "1"},
                 {"x-b3-sampled", "0"},
                 {"x-b3-traceid", "a3ce929d0e0e4736"},
                 {"x-b3-spanid", "00f067aa0ba902b7"},
                 {"x-b3-spanid", "1111111111111111"}};
  TraceContext t;
  t.begin(settings(0), x, Counter{});
  EXPECT_TRUE(t.sampled());  // debug (x-b3-flags: 1) wins over x-b3-sampled: 0
  EXPECT_EQ(t.parentId(), "00f067aa0ba902b7");

  // W3C's sampled flag is the low bit of the flags byte; traceparent wins over B3.
  const Fields w3c{{"x-b3-sampled", "1"},
                   {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"}};
  TraceContext w;
  w.begin(settings(100), w3c, Counter{});
  EXPECT_FALSE(w.sampled());
  EXPECT_EQ(w.traceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceContext, StartsATraceWhenNoneCameInOrItWasMalformed) {
  const Fields bad{{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}};
  TraceContext t;
  t.begin(settings(100), bad, Counter{});
  EXPECT_TRUE(t.sampled());
  EXPECT_EQ(t.parentId(), "");
  EXPECT_NE(t.traceId(), "00000000000000000000000000000000");
  EXPECT_EQ(upstream(t).count("x-b3-parentspanid"), 0u);

  TraceContext off;
  const Fields none;
  off.begin(settings(0), none, Counter{});
  EXPECT_FALSE(off.sampled());
  EXPECT_EQ(upstream(off).at("x-b3-sampled"), "0");
  EXPECT_TRUE(off.customTags().empty());  // not captured for unsampled requests
}

TEST(TraceContext, WithoutSettingsNothingIsTouched) {
  TraceContext t;
  const Fields none;
  t.begin(nullptr, none, Counter{});
  EXPECT_FALSE(t.active());
  EXPECT_TRUE(upstream(t).empty());
}

// The HTTP/1.1 block an upstream head appends is forEachHeader's headers as text, in order.
TEST(TraceContext, TheHttp1BlockIsTheUpstreamHeadersAsText) {
  auto text = [](const TraceContext& t) {
    std::string out;
    t.forEachHeader([&](std::string_view n, std::string_view v) {
      out.append(n).append(": ").append(v).append("\r\n");
    });
    return out;
  };
  TraceContext child;
  const Fields in{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  child.begin(settings(100), in, Counter{});
  EXPECT_EQ(child.http1Block(), text(child));
  EXPECT_NE(child.http1Block().find("x-b3-parentspanid: 00f067aa0ba902b7\r\n"),
            std::string_view::npos);
  TraceContext root;
  const Fields none;
  root.begin(settings(0), none, Counter{});
  EXPECT_EQ(root.http1Block(), text(root));
  EXPECT_EQ(root.http1Block().find("x-b3-parentspanid"), std::string_view::npos);
  TraceContext off;
  off.begin(nullptr, none, Counter{});
  EXPECT_TRUE(off.http1Block().empty());
}

// A random number per request draws one id whatever the request; the hex of each byte comes
// from a table, checked here against the plain digit-by-digit form.
// Every byte at several places of a W3C trace id and parent id: the context is continued exactly
// when every byte is a hex digit, and taken in lowercase.
TEST(TraceContext, IdsAreHexDigitsOnlyAndLowercased) {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736", parent = "00f067aa0ba902b7";
  for (int c = 1; c < 256; ++c) {
    const bool hex = std::isxdigit(c) != 0;
    for (const size_t at : {size_t{0}, size_t{7}, size_t{15}, size_t{16}, size_t{31}}) {
      std::string t = trace, p = parent;
      t[at] = static_cast<char>(c);
      if (at < 16) p[at] = static_cast<char>(c);
      for (const bool in_trace : {true, false}) {
        if (!in_trace && at >= 16) continue;
        const std::string header =
            "00-" + (in_trace ? t : trace) + "-" + (in_trace ? parent : p) + "-01";
        const Fields in{{"traceparent", header}};
        TraceContext ctx;
        ctx.begin(settings(0), in, Counter{});
        ASSERT_EQ(ctx.parentId().empty(), !hex) << "byte " << c << " at " << at;
        if (!hex) continue;
        std::string want_trace = in_trace ? t : trace, want_parent = in_trace ? parent : p;
        for (char& ch : want_trace) ch = static_cast<char>(std::tolower(ch));
        for (char& ch : want_parent) ch = static_cast<char>(std::tolower(ch));
        ASSERT_EQ(ctx.traceId(), want_trace) << "byte " << c << " at " << at;
        ASSERT_EQ(ctx.parentId(), want_parent) << "byte " << c << " at " << at;
      }
    }
  }
}

TEST(TraceContext, PropagationHeadersAreKnownByName) {
  for (const char* name : {"traceparent", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
                           "x-b3-sampled", "x-b3-flags"}) {
    EXPECT_TRUE(TraceContext::isPropagationHeader(name)) << name;
  }
  for (const char* name :
       {"", "b", "b4", "tracestate", "traceparens", "x-b3-spanie", "x-b3-traceie", "x-b3-sampleD",
        "y-b3-sampled", "x-b3-parentspanie", "x-b3-flagz", "x-request-id", "user-agent"}) {
    EXPECT_FALSE(TraceContext::isPropagationHeader(name)) << name;
  }
}

TEST(TraceContext, NewIdsAreTheRandomValuesInLowercaseHex) {
  TraceContext t;
  const Fields none;
  uint64_t calls = 0;
  t.begin(settings(100), none, [&calls]() -> uint64_t {
    return ++calls == 1 ? 0x0123456789abcdefull : 0xfedcba9876543210ull;
  });
  EXPECT_EQ(t.traceId(), "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(t.spanId(), "fedcba9876543210");
}

// useRequestIdForTraceSampling (translate::TracingSettings::sample_by_request_id): Envoy's rule,
// the UUID's last eight hex digits modulo 10,000 against the percentage in hundredths.
TEST(TraceContext, ARequestIdDecidesTheSamplingAsInEnvoy) {
  EXPECT_TRUE(TraceContext::sampleRequestId(50, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001387"));  // 4999
  EXPECT_FALSE(TraceContext::sampleRequestId(50, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001388"));
  EXPECT_TRUE(TraceContext::sampleRequestId(0.01, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00002710"));  // 0
  EXPECT_FALSE(TraceContext::sampleRequestId(0.01, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00002711"));
  // Upper-case digits read the same; the first digits do not count.
  EXPECT_TRUE(TraceContext::sampleRequestId(50, "FFFFFFFF-5C2D-4E3F-9A0B-1C2D00001387"));
  EXPECT_TRUE(TraceContext::sampleRequestId(100, "not-a-uuid"));
  EXPECT_FALSE(TraceContext::sampleRequestId(0, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00000000"));

  // In a request: the id decides whatever the random numbers, unless the settings say random.
  const Fields none;
  for (const uint64_t seed : {0x1ull, 0x77ull, 0x123456ull}) {
    TraceContext in, out;
    in.begin(settings(50), none, Counter{seed}, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001387");
    out.begin(settings(50), none, Counter{seed}, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001388");
    EXPECT_TRUE(in.sampled());
    EXPECT_FALSE(out.sampled());
  }
  auto random = std::make_shared<translate::TracingSettings>(*settings(50));
  random->sample_by_request_id = false;
  int sampled = 0;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    TraceContext t;
    uint64_t state = seed * 0x2545f4914f6cdd1dull;
    t.begin(
        random, none, [&state] { return state += 0x9e3779b97f4a7c15ull; },
        "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001388");
    sampled += t.sampled() ? 1 : 0;
  }
  EXPECT_GT(sampled, 0);  // the random draw, not the id, which says no
  // An incoming decision still wins over the id.
  TraceContext continued;
  const Fields yes{{"x-b3-sampled", "1"}};
  continued.begin(settings(50), yes, Counter{}, "6a1f4b8e-5c2d-4e3f-9a0b-1c2d00001388");
  EXPECT_TRUE(continued.sampled());
}

// An id that is not a UUID is hashed: the same id always takes the same decision.
TEST(TraceContext, AnIdThatIsNotAUuidStillDecidesAlikeAtEveryHop) {
  int sampled = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string id = "request-" + std::to_string(i);
    const bool first = TraceContext::sampleRequestId(50, id);
    EXPECT_EQ(TraceContext::sampleRequestId(50, id), first);
    sampled += first ? 1 : 0;
  }
  EXPECT_GT(sampled, 60);
  EXPECT_LT(sampled, 140);
}

SpanRecord span() {
  SpanRecord s;
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736", id = "00f067aa0ba902b7",
                    parent = "e457b5a2e4d86bd1";
  std::copy(trace.begin(), trace.end(), s.trace_id.begin());
  std::copy(id.begin(), id.end(), s.span_id.begin());
  std::copy(parent.begin(), parent.end(), s.parent_id.begin());
  s.has_parent = true;
  s.server = true;
  s.start_us = 1'700'000'000'000'000;
  s.duration_us = 1500;
  s.status = 503;
  s.error = true;
  s.setTexts({"GET", "reviews:9080", "/a-long-path", "UF",
              "outbound|9080||reviews.default.svc.cluster.local", "", "", ""});
  auto source = std::make_shared<SpanSource>();
  source->service_name = "reviews.default";
  source->tags = {{"component", "proxy"}};
  s.source = source;
  s.custom_tags = {{"team", "a \"quoted\" value"}};
  return s;
}

TEST(SpanExporter, ZipkinV2Json) {
  const SpanRecord s = span();
  const auto doc = nlohmann::json::parse(SpanExporter::zipkinJson({&s}, 20));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(doc[0]["id"], "00f067aa0ba902b7");
  EXPECT_EQ(doc[0]["parentId"], "e457b5a2e4d86bd1");
  EXPECT_EQ(doc[0]["name"], "reviews.default.svc.cluster.local:9080/*");
  EXPECT_EQ(doc[0]["tags"]["component"], "proxy");
  EXPECT_EQ(doc[0]["tags"]["response_flags"], "UF");
  EXPECT_EQ(doc[0]["tags"]["team"], "a \"quoted\" value");
  EXPECT_EQ(doc[0]["kind"], "SERVER");
  EXPECT_EQ(doc[0]["timestamp"], s.start_us);
  EXPECT_EQ(doc[0]["duration"], 1500);
  EXPECT_EQ(doc[0]["localEndpoint"]["serviceName"], "reviews.default");
  EXPECT_EQ(doc[0]["tags"]["http.status_code"], "503");
  EXPECT_EQ(doc[0]["tags"]["http.url"], "http://reviews:9080/");  // maxTagLength 20
  EXPECT_EQ(doc[0]["tags"]["upstream_cluster"],
            "outbound|9080||revie");  // clipped too
  EXPECT_EQ(doc[0]["tags"]["error"], "true");
}

// What spans share (the name, the service, the steady tags: method, protocol, flags, cluster, user
// agent) is written once per batch and copied after: a batch is byte for byte the spans encoded
// one by one, whatever repeats and whatever changes.
TEST(SpanExporter, RepeatedValuesEncodeAsTheyWouldAlone) {
  SpanRecord a = span();
  a.setText(SpanRecord::kUserAgent, "curl/8 \"quoted\"");
  SpanRecord b = span();
  b.setText(SpanRecord::kUpstreamCluster, "outbound|80||other \"svc\"");
  b.setText(SpanRecord::kMethod, "POST");
  b.setText(SpanRecord::kUserAgent, "");
  SpanRecord c = a;
  // Named by the authority (no cluster), then by another one; then other flags and protocol.
  SpanRecord d = span();
  d.setText(SpanRecord::kUpstreamCluster, "");
  SpanRecord e = d;
  e.setText(SpanRecord::kAuthority, "ratings:9080");
  SpanRecord f = e;
  f.setText(SpanRecord::kFlags, "");
  f.protocol = "HTTP/2";
  for (const size_t max : {size_t{0}, size_t{12}}) {
    auto alone = [max](const SpanRecord& s) {
      const std::string one = SpanExporter::zipkinJson({&s}, max);
      return one.substr(1, one.size() - 2);  // without the brackets
    };
    EXPECT_EQ(SpanExporter::zipkinJson({&a, &b, &c, &a}, max),
              "[" + alone(a) + "," + alone(b) + "," + alone(c) + "," + alone(a) + "]");
    EXPECT_EQ(SpanExporter::zipkinJson({&d, &e, &f, &e}, max),
              "[" + alone(d) + "," + alone(e) + "," + alone(f) + "," + alone(e) + "]");
    const auto doc = nlohmann::json::parse(SpanExporter::otlpJson({&a, &b, &c}, max));
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    ASSERT_EQ(spans.size(), 3u);
    auto attribute = [](const nlohmann::json& span, const std::string& key) {
      for (const auto& a : span["attributes"]) {
        if (a["key"] == key) return a["value"]["stringValue"].get<std::string>();
      }
      return std::string("(none)");
    };
    auto clip = [max](std::string_view v) {
      return std::string(max > 0 && v.size() > max ? v.substr(0, max) : v);
    };
    EXPECT_EQ(attribute(spans[0], "upstream_cluster.name"),
              clip(a.text(SpanRecord::kUpstreamCluster)));
    EXPECT_EQ(attribute(spans[1], "upstream_cluster"), clip(b.text(SpanRecord::kUpstreamCluster)));
    EXPECT_EQ(attribute(spans[1], "http.method"), "POST");
    EXPECT_EQ(attribute(spans[1], "user_agent"), "-");
    EXPECT_EQ(attribute(spans[2], "user_agent"), clip(a.text(SpanRecord::kUserAgent)));
    EXPECT_EQ(attribute(spans[2], "upstream_cluster"), clip(a.text(SpanRecord::kUpstreamCluster)));
  }
}

TEST(SpanExporter, OtlpHttpJson) {
  const SpanRecord s = span();
  const auto doc = nlohmann::json::parse(SpanExporter::otlpJson({&s}, 256));
  const auto& rs = doc["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "reviews.default");
  const auto& o = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(o["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(o["spanId"], "00f067aa0ba902b7");
  EXPECT_EQ(o["parentSpanId"], "e457b5a2e4d86bd1");
  EXPECT_EQ(o["kind"], 2);
  EXPECT_EQ(o["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(o["endTimeUnixNano"], "1700000000001500000");
  EXPECT_EQ(o["status"]["code"], 2);
}

// The proxy's tags encoded once give the same batches as tags encoded span by span, and a
// provider that clips one of them still gets it clipped.
TEST(SpanExporter, SourceTagsEncodedOnce) {
  SpanRecord plain = span();
  auto source = std::make_shared<SpanSource>(*plain.source);
  source->tags.emplace_back("istio.namespace", "a-namespace-name-longer-than-twenty");
  plain.source = source;
  SpanRecord encoded = plain;
  auto encoded_source = std::make_shared<SpanSource>(*source);
  encoded_source->encodeTags();
  encoded.source = encoded_source;
  for (const size_t max : {size_t{0}, size_t{20}, size_t{256}}) {
    EXPECT_EQ(SpanExporter::zipkinJson({&encoded}, max), SpanExporter::zipkinJson({&plain}, max));
    EXPECT_EQ(SpanExporter::otlpJson({&encoded}, max), SpanExporter::otlpJson({&plain}, max));
  }
  const auto doc = nlohmann::json::parse(SpanExporter::zipkinJson({&encoded}, 20));
  EXPECT_EQ(doc[0]["tags"]["istio.namespace"], "a-namespace-name-lon");
}

// A worker's records are reused once the exporter hands them back: the second batch is filled
// over the first one's records, and a field left unassigned would show.
TEST(SpanBuffer, RecordsTakeTurns) {
  SpanBuffer buffer;
  for (int i = 0; i < 3; ++i)
    buffer.add([&](SpanRecord& r) { r.setText(SpanRecord::kPath, "/first/" + std::to_string(i)); });
  SpanBuffer::Taken first = buffer.take();
  ASSERT_EQ(first.count, 3u);
  EXPECT_EQ(first.records[2].text(SpanRecord::kPath), "/first/2");
  buffer.add([](SpanRecord& r) {
    r.setText(SpanRecord::kPath, "/during");
  });  // filled while the exporter encodes
  buffer.giveBack(std::move(first.records));
  SpanBuffer::Taken second = buffer.take();
  ASSERT_EQ(second.count, 1u);
  EXPECT_EQ(second.records[0].text(SpanRecord::kPath), "/during");
  buffer.giveBack(std::move(second.records));
  buffer.add([](SpanRecord& r) { r.setText(SpanRecord::kMethod, "GET"); });
  SpanBuffer::Taken third = buffer.take();
  ASSERT_EQ(third.count, 1u);
  EXPECT_EQ(third.records[0].text(SpanRecord::kPath),
            "/first/0");  // the earlier span's value, kept in place
  EXPECT_EQ(third.records[0].text(SpanRecord::kMethod), "GET");
}

// A worker's buffer asks for an early export once, when it reaches kFlushAt, and drops (counting)
// past kMaxBuffered.
TEST(SpanBuffer, AsksForAnEarlyExportWhenFillingUp) {
  SpanBuffer buffer;
  size_t asked = 0, asked_at = 0;
  for (size_t i = 1; i <= SpanBuffer::kMaxBuffered + 5; ++i) {
    if (buffer.add([](SpanRecord& r) { r.setText(SpanRecord::kPath, "/"); })) {
      ++asked;
      asked_at = i;
    }
  }
  EXPECT_EQ(asked, 1u);
  EXPECT_EQ(asked_at, SpanBuffer::kFlushAt);
  EXPECT_EQ(buffer.dropped(), 5u);
  EXPECT_EQ(buffer.take().count, SpanBuffer::kMaxBuffered);
}

}  // namespace
}  // namespace halyard::telemetry
