// Our HPACK (src/proxy/http/hpack_*) against nghttp2's (the nghttp2_hd_* API the proxy's HTTP/2
// runs on today) on what a gateway does per proxied HTTP/2 request: decode the client's request
// block, encode the request for the upstream, decode the upstream's response block, encode the
// response for the client. The blocks are those of h2load through the gateway to an nginx
// backend: h2load's request fields, the gateway's additions (UpstreamRequest::buildHead: the
// peer metadata, x-forwarded-for and -proto, a fresh x-request-id on every request), nginx's
// response (a date that moves every 500 requests) and the gateway's
// x-envoy-upstream-service-time. nghttp2 gets each field with the flags the proxy gives it
// (nghttp2Field: never indexed for the per-request ones). What the peers send (the blocks decoded)
// is encoded once beforehand by nghttp2's deflater, as h2load's would be; both decoders read
// the same bytes. Each connection carries kPerConnection requests, then both sides start over
// with empty tables.
//
// Prints nanoseconds and bytes per block for both (medians of the rounds, libraries in turns),
// and the memory one connection's four coders hold after its requests (nghttp2's counted
// through its allocator hooks, ours by memoryBytes()).
// Under callgrind (`valgrind --tool=callgrind build/bin/hpack_bench 3`) each phase of each
// library over all rounds is dumped on its own, labelled "library|phase|blocks"; its total
// divided by the blocks is instructions per block, a figure that does not move with the load:
//
//     for f in callgrind.out.*.*; do
//       grep -m1 '^desc: Trigger' $f; grep -m1 '^totals:\|^summary:' $f; done
//
//     ninja -C build hpack_bench && build/bin/hpack_bench [rounds]
//
// Not a test.
#include <nghttp2/nghttp2.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/hpack_decoder.h"
#include "proxy/http/hpack_encoder.h"

using halyard::proxy::http::HpackDecoder;
using halyard::proxy::http::HpackEncoder;
using halyard::proxy::http::HpackField;

namespace {

constexpr int kPerConnection = 1000;

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Load {
  std::vector<Fields> client_req, upstream_req, upstream_resp, downstream_resp;
  std::vector<std::string> client_req_bytes, upstream_resp_bytes;  // as the peers send them
};

std::string uuid(int i) {
  char b[40];
  std::snprintf(b, sizeof b, "%08x-%04x-4%03x-a%03x-%012x", i * 2654435761u, i & 0xffff,
                (i * 7) & 0xfff, (i * 13) & 0xfff, i * 40503u);
  return b;
}

Load makeLoad() {
  Load l;
  for (int i = 0; i < kPerConnection; ++i) {
    Fields req = {{":method", "GET"},
                  {":scheme", "http"},
                  {":authority", "127.0.0.1:18080"},
                  {":path", "/"},
                  {"accept-encoding", "gzip, deflate"},
                  {"user-agent", "h2load nghttp2/1.52.0"}};
    l.client_req.push_back(req);
    Fields up = req;
    up.push_back({"x-halyard-peer-metadata",
                  "workload=istio-ingressgateway;app=istio-ingressgateway;version=unknown;"
                  "revision=latest"});
    up.push_back({"x-forwarded-for", "127.0.0.1"});
    up.push_back({"x-forwarded-proto", "http"});
    up.push_back({"x-request-id", uuid(i)});
    l.upstream_req.push_back(up);
    char date[40];
    std::snprintf(date, sizeof date, "Sun, 06 Dec 2026 23:%02d:%02d GMT", (i / 500) / 60 % 60,
                  (i / 500) % 60);
    Fields resp = {{":status", "200"},
                   {"server", "nginx/1.22.1"},
                   {"date", date},
                   {"content-type", "text/html"},
                   {"content-length", "612"},
                   {"last-modified", "Tue, 13 Jun 2023 15:08:10 GMT"},
                   {"etag", "\"6488865a-264\""},
                   {"accept-ranges", "bytes"}};
    l.upstream_resp.push_back(resp);
    Fields down = resp;
    down.push_back({"x-envoy-upstream-service-time", std::to_string(i % 4)});
    l.downstream_resp.push_back(down);
  }
  auto deflateAll = [](const std::vector<Fields>& blocks, std::vector<std::string>& out) {
    nghttp2_hd_deflater* d = nullptr;
    nghttp2_hd_deflate_new(&d, 4096);
    for (const Fields& f : blocks) {
      std::vector<nghttp2_nv> nva;
      for (const auto& [n, v] : f) {
        nva.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), 0});
      }
      std::string b(nghttp2_hd_deflate_bound(d, nva.data(), nva.size()), '\0');
      auto len = nghttp2_hd_deflate_hd(d, (uint8_t*)b.data(), b.size(), nva.data(), nva.size());
      b.resize(static_cast<size_t>(len));
      out.push_back(std::move(b));
    }
    nghttp2_hd_deflate_del(d);
  };
  deflateAll(l.client_req, l.client_req_bytes);
  deflateAll(l.upstream_resp, l.upstream_resp_bytes);
  return l;
}

volatile size_t g_sink;

// One connection's worth of each phase. Each returns the bytes it produced or consumed.
size_t oursDecode(const std::vector<std::string>& blocks) {
  HpackDecoder d;
  std::vector<HpackField> out;
  out.reserve(32);
  size_t n = 0;
  for (const std::string& b : blocks) {
    out.clear();
    if (!d.decode(b, out).ok()) std::abort();
    for (const HpackField& f : out) n += f.name.size() + f.value.size();
  }
  g_sink = n;
  size_t bytes = 0;
  for (const std::string& b : blocks) bytes += b.size();
  return bytes;
}

size_t nghttpDecode(const std::vector<std::string>& blocks) {
  nghttp2_hd_inflater* inf = nullptr;
  nghttp2_hd_inflate_new(&inf);
  size_t n = 0;
  size_t bytes = 0;
  for (const std::string& b : blocks) {
    auto* in = reinterpret_cast<const uint8_t*>(b.data());
    size_t left = b.size();
    bytes += left;
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      auto used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
      if (used < 0) std::abort();
      in += used;
      left -= static_cast<size_t>(used);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) n += nv.namelen + nv.valuelen;
      if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
      if (used == 0 && left == 0) break;
    }
    nghttp2_hd_inflate_end_headers(inf);
  }
  nghttp2_hd_inflate_del(inf);
  g_sink = n;
  return bytes;
}

// A field as the proxy handed it to nghttp2 while nghttp2 did its HTTP/2 (before
// h2_session_core.h): a value new in every message (request and trace ids, the upstream time)
// was sent without indexing.
bool newInEveryMessage(std::string_view name) {
  return name == "b3" || name == "traceparent" || name == "x-b3-spanid" || name == "x-request-id" ||
         name == "x-b3-traceid" || name == "x-b3-parentspanid" ||
         name == "x-envoy-upstream-service-time";
}

nghttp2_nv nghttp2Field(std::string_view name, std::string_view value) {
  const uint8_t flags = newInEveryMessage(name) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), flags};
}

struct Prepared {
  std::vector<std::vector<HpackField>> ours;
  std::vector<std::vector<nghttp2_nv>> nghttp;
};

Prepared prepare(const std::vector<Fields>& blocks) {
  Prepared p;
  for (const Fields& f : blocks) {
    std::vector<HpackField> a;
    std::vector<nghttp2_nv> b;
    for (const auto& [n, v] : f) {
      a.push_back({n, v});
      b.push_back(nghttp2Field(n, v));
    }
    p.ours.push_back(std::move(a));
    p.nghttp.push_back(std::move(b));
  }
  return p;
}

size_t oursEncode(const Prepared& p) {
  HpackEncoder e;
  std::string out;
  out.reserve(4096);
  size_t bytes = 0;
  for (const auto& fields : p.ours) {
    out.clear();
    e.encode(fields, out);
    bytes += out.size();
  }
  return bytes;
}

size_t nghttpEncode(const Prepared& p) {
  nghttp2_hd_deflater* d = nullptr;
  nghttp2_hd_deflate_new(&d, 4096);
  std::vector<uint8_t> buf(65536);
  size_t bytes = 0;
  for (const auto& nva : p.nghttp) {
    auto len = nghttp2_hd_deflate_hd(d, buf.data(), buf.size(), nva.data(), nva.size());
    if (len < 0) std::abort();
    bytes += static_cast<size_t>(len);
  }
  nghttp2_hd_deflate_del(d);
  return bytes;
}

// nghttp2's allocations, counted: each block carries its size in front.
struct Counted {
  size_t live = 0;
};
void* countedMalloc(size_t size, void* user) {
  auto* p = static_cast<size_t*>(std::malloc(size + 16));
  if (p == nullptr) return nullptr;
  p[0] = size;
  static_cast<Counted*>(user)->live += size;
  return reinterpret_cast<char*>(p) + 16;
}
void countedFree(void* ptr, void* user) {
  if (ptr == nullptr) return;
  auto* p = reinterpret_cast<size_t*>(static_cast<char*>(ptr) - 16);
  static_cast<Counted*>(user)->live -= p[0];
  std::free(p);
}
void* countedCalloc(size_t n, size_t size, void* user) {
  void* p = countedMalloc(n * size, user);
  if (p != nullptr) std::memset(p, 0, n * size);
  return p;
}
void* countedRealloc(void* ptr, size_t size, void* user) {
  void* p = countedMalloc(size, user);
  if (p != nullptr && ptr != nullptr) {
    size_t old = reinterpret_cast<size_t*>(static_cast<char*>(ptr) - 16)[0];
    std::memcpy(p, ptr, old < size ? old : size);
  }
  countedFree(ptr, user);
  return p;
}

// Memory one connection's coders hold after kPerConnection requests: the proxy decodes the
// client's requests and encodes its responses on the downstream connection, and encodes
// requests and decodes responses on the upstream one.
void printMemory(const Load& l, const Prepared& up, const Prepared& down) {
  HpackDecoder req_dec;
  HpackEncoder req_enc;
  HpackDecoder resp_dec;
  HpackEncoder resp_enc;
  std::vector<HpackField> out;
  std::string buf;
  for (int i = 0; i < kPerConnection; ++i) {
    out.clear();
    if (!req_dec.decode(l.client_req_bytes[i], out).ok()) std::abort();
    buf.clear();
    req_enc.encode(up.ours[i], buf);
    out.clear();
    if (!resp_dec.decode(l.upstream_resp_bytes[i], out).ok()) std::abort();
    buf.clear();
    resp_enc.encode(down.ours[i], buf);
  }
  size_t ours = req_dec.memoryBytes() + req_enc.memoryBytes() + resp_dec.memoryBytes() +
                resp_enc.memoryBytes();

  Counted counted;
  nghttp2_mem mem{&counted, countedMalloc, countedFree, countedCalloc, countedRealloc};
  nghttp2_hd_inflater* infl[2];
  nghttp2_hd_deflater* defl[2];
  for (int k = 0; k < 2; ++k) {
    nghttp2_hd_inflate_new2(&infl[k], &mem);
    nghttp2_hd_deflate_new2(&defl[k], 4096, &mem);
  }
  std::vector<uint8_t> wire(65536);
  for (int i = 0; i < kPerConnection; ++i) {
    const std::string* in[2] = {&l.client_req_bytes[i], &l.upstream_resp_bytes[i]};
    for (int k = 0; k < 2; ++k) {
      auto* p = reinterpret_cast<const uint8_t*>(in[k]->data());
      size_t left = in[k]->size();
      for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        auto used = nghttp2_hd_inflate_hd2(infl[k], &nv, &flags, p, left, 1);
        if (used < 0) std::abort();
        p += used;
        left -= static_cast<size_t>(used);
        if ((flags & NGHTTP2_HD_INFLATE_FINAL) || (used == 0 && left == 0)) break;
      }
      nghttp2_hd_inflate_end_headers(infl[k]);
    }
    const auto& a = up.nghttp[i];
    const auto& b = down.nghttp[i];
    if (nghttp2_hd_deflate_hd(defl[0], wire.data(), wire.size(), a.data(), a.size()) < 0 ||
        nghttp2_hd_deflate_hd(defl[1], wire.data(), wire.size(), b.data(), b.size()) < 0) {
      std::abort();
    }
  }
  size_t theirs = counted.live;
  for (int k = 0; k < 2; ++k) {
    nghttp2_hd_inflate_del(infl[k]);
    nghttp2_hd_deflate_del(defl[k]);
  }
  std::printf(
      "memory held by the four coders after %d requests: ours %zu bytes, nghttp2 %zu "
      "bytes\n",
      kPerConnection, ours, theirs);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  if (rounds < 1) rounds = 1;
  Load load = makeLoad();
  Prepared up = prepare(load.upstream_req);
  Prepared down = prepare(load.downstream_resp);

  struct Phase {
    const char* name;
    size_t (*ours)(const Load&, const Prepared&, const Prepared&);
    size_t (*nghttp)(const Load&, const Prepared&, const Prepared&);
  };
  const Phase phases[] = {
      {"decode request (client's)",
       [](const Load& l, const Prepared&, const Prepared&) {
         return oursDecode(l.client_req_bytes);
       },
       [](const Load& l, const Prepared&, const Prepared&) {
         return nghttpDecode(l.client_req_bytes);
       }},
      {"encode request (upstream)",
       [](const Load&, const Prepared& u, const Prepared&) { return oursEncode(u); },
       [](const Load&, const Prepared& u, const Prepared&) { return nghttpEncode(u); }},
      {"decode response (upstream's)",
       [](const Load& l, const Prepared&, const Prepared&) {
         return oursDecode(l.upstream_resp_bytes);
       },
       [](const Load& l, const Prepared&, const Prepared&) {
         return nghttpDecode(l.upstream_resp_bytes);
       }},
      {"encode response (client)",
       [](const Load&, const Prepared&, const Prepared& d) { return oursEncode(d); },
       [](const Load&, const Prepared&, const Prepared& d) { return nghttpEncode(d); }},
  };
  constexpr int kPhases = 4;

  if (RUNNING_ON_VALGRIND) {
    // One dump per phase and library, each over all rounds.
    for (const Phase& ph : phases) {
      for (int lib = 0; lib < 2; ++lib) {
        CALLGRIND_ZERO_STATS;
        for (int r = 0; r < rounds; ++r) (lib == 0 ? ph.ours : ph.nghttp)(load, up, down);
        char label[96];
        std::snprintf(label, sizeof label, "%s|%s|%d", lib == 0 ? "ours" : "nghttp2", ph.name,
                      rounds * kPerConnection);
        CALLGRIND_DUMP_STATS_AT(label);
      }
    }
    return 0;
  }

  std::vector<double> ns[kPhases][2];
  size_t bytes[kPhases][2] = {};
  for (int r = 0; r < rounds; ++r) {
    for (int p = 0; p < kPhases; ++p) {
      for (int k = 0; k < 2; ++k) {
        int lib = (r + p + k) % 2;  // alternate which library goes first
        auto t0 = std::chrono::steady_clock::now();
        bytes[p][lib] = (lib == 0 ? phases[p].ours : phases[p].nghttp)(load, up, down);
        auto t1 = std::chrono::steady_clock::now();
        ns[p][lib].push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                             kPerConnection);
      }
    }
  }
  std::printf("HPACK per block, %d connections x %d requests, medians\n", rounds, kPerConnection);
  std::printf("%-30s %12s %12s %8s %14s %14s\n", "phase", "ours ns", "nghttp2 ns", "ratio",
              "ours bytes", "nghttp2 bytes");
  double total[2] = {};
  for (int p = 0; p < kPhases; ++p) {
    double o = median(ns[p][0]);
    double n = median(ns[p][1]);
    total[0] += o;
    total[1] += n;
    std::printf("%-30s %12.1f %12.1f %8.2f %14.1f %14.1f\n", phases[p].name, o, n, o / n,
                static_cast<double>(bytes[p][0]) / kPerConnection,
                static_cast<double>(bytes[p][1]) / kPerConnection);
  }
  std::printf("%-30s %12.1f %12.1f %8.2f\n", "per proxied request (4 blocks)", total[0], total[1],
              total[0] / total[1]);
  printMemory(load, up, down);
  return 0;
}
