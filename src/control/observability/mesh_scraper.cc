#include "control/observability/mesh_scraper.h"

#include <algorithm>
#include <array>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "control/observability/control_metrics.h"
#include "control/observability/dashboard_json.h"

namespace halyard::control {

namespace {

// A body larger than this is cut off and counted as a failed scrape: a proxy's metrics are tens
// of kilobytes, so this only stops a wrong target from filling the control plane's memory.
constexpr size_t kMaxBody = 8 * 1024 * 1024;
constexpr size_t kDurationsKept = 200;
// A proxy's /stats/prometheus is 50-150 KB with traffic: most fit the first read buffer.
constexpr size_t kBufferSize = 256 * 1024;
// Only the two families the dashboard reads (Envoy's ?filter=REGEX, percent-encoded:
// ^istio_request(s_total|_duration_milliseconds)$): the proxy neither sums nor prints the rest,
// and the body shrinks to a fraction. A proxy that ignores the filter still answers in full,
// and the body is sifted anyway.
constexpr std::string_view kScrapePath =
    "/stats/prometheus?filter=%5Eistio_request%28s_total%7C_duration_milliseconds%29%24";

// The p-quantile of a cumulative histogram (le -> count), interpolated within its bucket.
double quantile(const std::map<double, double>& buckets, double q) {
  if (buckets.empty()) return 0;
  const double total = buckets.rbegin()->second;
  if (total <= 0) return 0;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;
      const double in = count - below;
      return in <= 0 ? le : lower + (le - lower) * (rank - below) / in;
    }
    lower = le;
    below = count;
  }
  return lower;
}

// The labels the dashboard reads, in the order of kWanted.
enum Wanted : size_t {
  kReporter,
  kResponseCode,
  kSourceWorkload,
  kSourceNamespace,
  kSourcePrincipal,
  kDestinationWorkload,
  kDestinationService,
  kSecurityPolicy,
  kLe,
  kWantedCount
};
constexpr std::array<std::string_view, kWantedCount> kWanted = {"reporter",
                                                                "response_code",
                                                                "source_workload",
                                                                "source_workload_namespace",
                                                                "source_principal",
                                                                "destination_workload",
                                                                "destination_service",
                                                                "connection_security_policy",
                                                                "le"};

// Reads the wanted labels of one series line (after "name{") into `values` ("unknown" when
// absent or empty, as Istio's dashboards show them) and returns the sample's value, or NaN when
// `source_only` and the reporter is not "source" (the rest of the line is then skipped). Values
// are found with memchr and copied into strings whose capacity is reused from line to line: a
// scrape of a thousand proxies reads tens of megabytes a minute, so this loop is most of its CPU.
double readSeries(std::string_view line, size_t i, std::array<std::string, kWantedCount>& values,
                  bool source_only = false) {
  for (auto& v : values) v.clear();
  const char* const data = line.data();
  while (i < line.size() && line[i] != '}') {
    const size_t eq = line.find("=\"", i);
    if (eq == std::string_view::npos) break;
    const std::string_view key = line.substr(i, eq - i);
    std::string* out = nullptr;
    for (size_t k = 0; k < kWantedCount; ++k) {
      if (kWanted[k] == key) out = &values[k];
    }
    size_t j = eq + 2;
    const void* quote = std::memchr(data + j, '"', line.size() - j);
    size_t close =
        quote ? static_cast<size_t>(static_cast<const char*>(quote) - data) : line.size();
    if (std::memchr(data + j, '\\', close - j) == nullptr) {
      if (out) out->assign(data + j, close - j);
      j = close;
    } else {
      // Escapes: slowly, character by character (an escaped quote does not end the value).
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          if (out) *out += line[j] == 'n' ? '\n' : line[j];
        } else if (out) {
          *out += line[j];
        }
      }
    }
    if (source_only && out == &values[kReporter] && *out != "source") return std::nan("");
    i = j + 1;
    if (i < line.size() && line[i] == ',') ++i;
  }
  for (auto& v : values) {
    if (v.empty()) v = "unknown";
  }
  const size_t space = line.rfind(' ');
  if (space == std::string_view::npos) return 0;
  return std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
}

// "host:port" (IPv4, [IPv6] or a name) as an endpoint when the host is an address.
bool literalEndpoint(const std::string& address, asio::ip::tcp::endpoint& out, std::string& host,
                     std::string& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  const int number = std::atoi(port.c_str());
  if (ec || number <= 0 || number > 65535) return false;
  out = asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(number));
  return true;
}

}  // namespace

// One GET /stats/prometheus, on a kept-alive connection to the proxy or a new one, ended by its
// timer at the latest.
struct MeshScraper::Fetch : std::enable_shared_from_this<Fetch> {
  Fetch(asio::io_context& io, size_t index) : socket(io), resolver(io), timer(io), index(index) {}
  asio::ip::tcp::socket socket;
  asio::ip::tcp::resolver resolver;
  asio::steady_timer timer;
  size_t index;
  std::string address;
  std::string request;
  bool reused = false;     // sent on a kept-alive connection
  bool timed_out = false;  // ended by its timer
  // The response's whole size once its head says (Content-Length), else npos: read to the end.
  size_t expected = std::string::npos;
  bool keep_alive = false;  // the proxy keeps the connection for the next scrape
  // The response so far is response[0, used); the string is larger (a pooled buffer, so no
  // allocation or zero-filling per scrape).
  std::string response;
  size_t used = 0;
  bool finished = false;
};

struct MeshScraper::Round {
  Clock::time_point started;
  v1::StatusResponse status;
  size_t next = 0;     // the next proxy to scrape
  size_t pending = 0;  // scrapes under way
  std::vector<bool> scraped;
};

namespace {

// ASCII case-insensitive search of `needle` (lowercase) in `text`.
size_t findNoCase(std::string_view text, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= text.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() &&
           std::tolower(static_cast<unsigned char>(text[i + k])) == needle[k]) {
      ++k;
    }
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

// Once the head is in: the whole response's size from its Content-Length, and whether the proxy
// keeps the connection (no "Connection: close"). A head without a length is read to the end.
void readHead(std::string_view response, size_t& expected, bool& keep_alive) {
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return;
  const std::string_view head = response.substr(0, head_end + 2);
  const size_t length = findNoCase(head, "\r\ncontent-length:");
  if (length == std::string_view::npos) return;
  const size_t value = length + 17;
  const size_t eol = head.find("\r\n", value);
  const uint64_t n =
      std::strtoull(std::string(head.substr(value, eol - value)).c_str(), nullptr, 10);
  expected = head_end + 4 + n;
  keep_alive = findNoCase(head, "\r\nconnection: close") == std::string_view::npos;
}

}  // namespace

// Reads the response until its Content-Length is in (or the proxy closes the connection), then
// hands it to `finish`.
void MeshScraper::readMore(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish) {
  if (fetch->used == fetch->response.size()) {
    if (fetch->response.size() >= kMaxBody) return finish(fetch, false);
    fetch->response.resize(std::max<size_t>(fetch->response.size() * 2, kBufferSize));
  }
  fetch->socket.async_read_some(
      asio::buffer(fetch->response.data() + fetch->used, fetch->response.size() - fetch->used),
      [fetch, finish](std::error_code ec, size_t n) {
        fetch->used += n;
        // Closed by the proxy: the response is complete if it had no length, or all of it came.
        if (ec == asio::error::eof) {
          fetch->keep_alive = false;
          return finish(fetch, fetch->used > 0 && (fetch->expected == std::string::npos ||
                                                   fetch->used >= fetch->expected));
        }
        if (ec) return finish(fetch, false);
        if (fetch->expected == std::string::npos) {
          readHead(std::string_view(fetch->response.data(), fetch->used), fetch->expected,
                   fetch->keep_alive);
        }
        if (fetch->expected != std::string::npos && fetch->used >= fetch->expected) {
          return finish(fetch, true);
        }
        readMore(fetch, finish);
      });
}

void MeshScraper::send(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish) {
  asio::async_write(fetch->socket, asio::buffer(fetch->request),
                    [fetch, finish](std::error_code ec, size_t) {
                      if (ec) return finish(fetch, false);
                      readMore(fetch, finish);
                    });
}

void MeshScraper::connect(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish) {
  auto connected = [fetch, finish](std::error_code ec) {
    if (ec) return finish(fetch, false);
    send(fetch, finish);
  };
  asio::ip::tcp::endpoint endpoint;
  std::string host, port;
  if (literalEndpoint(fetch->address, endpoint, host, port)) {
    fetch->socket.async_connect(endpoint, connected);
  } else if (!host.empty()) {
    fetch->resolver.async_resolve(
        host, port,
        [fetch, finish, connected](std::error_code ec,
                                   asio::ip::tcp::resolver::results_type results) {
          if (ec) return finish(fetch, false);
          asio::async_connect(
              fetch->socket, results,
              [connected](std::error_code ec, const asio::ip::tcp::endpoint&) { connected(ec); });
        });
  } else {
    // Not host:port: fail on the next turn of the loop, like any unreachable target.
    asio::post(io_, [fetch, finish] { finish(fetch, false); });
  }
}

MeshScraper::FetchDone MeshScraper::fetchDone() {
  return [this, alive = alive_](const std::shared_ptr<Fetch>& f, bool ok) {
    if (*alive) finishFetchOf(f, ok);
  };
}

// Every step of a fetch ends here exactly once: success, failure or the timer.
void MeshScraper::finishFetchOf(const std::shared_ptr<Fetch>& f, bool ok) {
  if (f->finished) return;
  if (!ok && f->reused && f->used == 0 && !f->timed_out) {
    // The proxy closed the kept connection meanwhile (a restart, its idle timeout): once more
    // on a new connection.
    std::error_code ignored;
    f->socket.close(ignored);
    f->socket = asio::ip::tcp::socket(io_);
    f->reused = false;
    return connect(f, fetchDone());
  }
  f->finished = true;
  f->timer.cancel();
  f->resolver.cancel();
  std::string_view body;
  if (ok) {
    const std::string_view response(f->response.data(), f->used);
    const auto head_end = response.find("\r\n\r\n");
    ok = response.starts_with("HTTP/1.1 200") && head_end != std::string::npos;
    if (ok)
      body = response.substr(head_end + 4, f->expected == std::string::npos
                                               ? std::string_view::npos
                                               : f->expected - head_end - 4);
  }
  std::error_code ignored;
  if (ok && f->keep_alive && f->used == f->expected) {
    idle_.insert_or_assign(f->address, std::move(f->socket));
  } else {
    f->socket.close(ignored);
  }
  finishFetch(f->index, ok, body);
  if (f->response.size() <= 4 * kBufferSize) buffers_.push_back(std::move(f->response));
}

MeshScraper::MeshScraper(asio::io_context& io, StatusSource status, MeshScraperOptions options)
    : io_(io), status_(std::move(status)), options_(options), timer_(io) {
  if (options_.concurrency == 0) options_.concurrency = 1;
}

MeshScraper::~MeshScraper() {
  *alive_ = false;
}

void MeshScraper::start() {
  if (options_.interval.count() > 0) schedule(std::chrono::milliseconds(0));
}

void MeshScraper::schedule(Clock::duration delay) {
  timer_.expires_after(delay);
  timer_.async_wait([this, alive = alive_](std::error_code ec) {
    if (ec || !*alive) return;
    if (!round_) beginRound();
    schedule(std::max<Clock::duration>(options_.interval, options_.per_proxy * targets_));
  });
}

void MeshScraper::dashboard(std::chrono::milliseconds max_age,
                            std::function<void(std::string)> done) {
  const auto now = Clock::now();
  if (has_round_ && now - last_started_ <= max_age) {
    done(render());
    return;
  }
  waiters_.push_back({now, std::move(done)});
  if (!round_) beginRound();  // else the round under way starts the next when it ends
}

void MeshScraper::beginRound() {
  round_ = std::make_unique<Round>();
  round_->started = Clock::now();
  round_->status = status_();
  round_->scraped.assign(static_cast<size_t>(round_->status.proxies_size()), false);
  targets_ = round_->status.proxies_size();
  launchNext();
  if (round_->pending == 0) endRound();
}

void MeshScraper::launchNext() {
  Round& r = *round_;
  const auto& proxies = r.status.proxies();
  while (r.pending < options_.concurrency && r.next < static_cast<size_t>(proxies.size())) {
    const size_t index = r.next++;
    const std::string& address = proxies[static_cast<int>(index)].admin_address();
    if (address.empty()) continue;
    ++r.pending;
    auto fetch = std::make_shared<Fetch>(io_, index);
    if (!buffers_.empty()) {
      fetch->response = std::move(buffers_.back());
      buffers_.pop_back();
    }
    fetch->address = address;
    fetch->request =
        "GET " + std::string(kScrapePath) + " HTTP/1.1\r\nHost: " + address + "\r\n\r\n";
    const FetchDone finish = fetchDone();
    fetch->timer.expires_after(options_.timeout);
    fetch->timer.async_wait([fetch, finish](std::error_code ec) {
      if (ec) return;
      fetch->timed_out = true;
      std::error_code ignored;
      fetch->socket.close(ignored);  // whatever is under way ends with operation_aborted
      finish(fetch, false);
    });
    if (auto kept = idle_.find(address); kept != idle_.end()) {
      fetch->socket = std::move(kept->second);
      idle_.erase(kept);
      fetch->reused = true;
      send(fetch, finish);
    } else {
      connect(fetch, finish);
    }
  }
}

void MeshScraper::finishFetch(size_t index, bool ok, std::string_view body) {
  Round& r = *round_;
  const auto& p = r.status.proxies(static_cast<int>(index));
  if (ok) {
    last_good_[p.id()] = summarize(body, p.role() == "gateway");
    r.scraped[index] = true;
  } else {
    controlMetrics().scrape_failures.fetch_add(1, std::memory_order_relaxed);
  }
  --r.pending;
  launchNext();
  if (r.pending == 0 && r.next >= static_cast<size_t>(r.status.proxies_size())) endRound();
}

void MeshScraper::endRound() {
  std::unique_ptr<Round> r = std::move(round_);
  const auto now = Clock::now();
  controlMetrics().scrape_duration.record(now - r->started);
  // The kept connections of proxies that left are closed.
  std::set<std::string_view> present;
  for (const auto& p : r->status.proxies()) present.insert(p.admin_address());
  for (auto it = idle_.begin(); it != idle_.end();) {
    it = present.count(it->first) ? std::next(it) : idle_.erase(it);
  }
  durations_ms_.push_back(std::chrono::duration<double, std::milli>(now - r->started).count());
  if (durations_ms_.size() > kDurationsKept) durations_ms_.pop_front();
  ++rounds_;

  // Proxies that left are forgotten; one that failed this time counts with its last good
  // totals, so a missed scrape does not read as a drop in the mesh's counters.
  std::map<std::string, ProxyTotals> kept;
  Point point;
  point.at = now;
  point.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  last_denials_.clear();
  for (const auto& p : r->status.proxies()) {
    auto it = last_good_.find(p.id());
    if (it == last_good_.end()) continue;
    for (const auto& [key, t] : it->second.edges) {
      Totals& e = point.edges[key];
      e.requests += t.requests;
      e.errors += t.errors;
      e.mtls = e.mtls || t.mtls;
    }
    for (const auto& [key, t] : it->second.services) {
      Totals& s = point.services[key];
      s.requests += t.requests;
      s.errors += t.errors;
      for (const auto& [le, count] : t.buckets) s.buckets[le] += count;
    }
    last_denials_.insert(last_denials_.end(), it->second.denials.begin(), it->second.denials.end());
    kept.insert(last_good_.extract(it));
  }
  last_good_ = std::move(kept);
  history_.push_back(std::move(point));
  while (history_.size() > 2 && now - history_.front().at > options_.history) {
    history_.pop_front();
  }
  last_status_ = std::move(r->status);
  last_scraped_ = std::move(r->scraped);
  last_started_ = r->started;
  has_round_ = true;
  rendered_.clear();

  std::vector<Waiter> still;
  for (auto& w : waiters_) {
    if (w.not_before <= last_started_) {
      w.done(render());
    } else {
      still.push_back(std::move(w));
    }
  }
  waiters_ = std::move(still);
  if (!waiters_.empty()) beginRound();
}

MeshScraper::ProxyTotals MeshScraper::summarize(std::string_view body, bool gateway) {
  static constexpr std::string_view kRequests = "istio_requests_total{";
  static constexpr std::string_view kBuckets = "istio_request_duration_milliseconds_bucket{";
  ProxyTotals out;
  std::array<std::string, kWantedCount> v;
  std::string key;
  // A histogram's buckets differ only in their last label, le: the labels before it are read
  // once per series, and the following buckets of the series only compared with them.
  std::string_view series;
  bool series_wanted = false;
  Totals* series_totals = nullptr;  // its service's, when wanted
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] != 'i') continue;  // comments and other families, quickly
    if (line.starts_with(kRequests)) {
      series = {};
      const double value = readSeries(line, kRequests.size(), v);
      const std::string& code = v[kResponseCode];
      const bool error = code[0] == '5';
      // The server's view for the graph (it knows the caller over mutual TLS), each request
      // once; a gateway's own report only for requests that reached no workload (a fault abort,
      // no endpoint), which no server saw. The clients' view for services: it sees what never
      // reached a server (faults, 503s).
      const bool destination = v[kReporter] == "destination";
      if (destination || (gateway && v[kDestinationWorkload] == "unknown")) {
        key.clear();
        key.append(v[kSourceWorkload]).append("|").append(v[kDestinationWorkload]);
        key.append("|").append(v[kDestinationService]);
        Totals& e = out.edges[key];
        e.requests += value;
        if (error) e.errors += value;
        if (v[kSecurityPolicy] == "mutual_tls") e.mtls = true;
        if (destination && (code == "401" || code == "403")) {
          out.denials.push_back({v[kSourceWorkload], v[kSourceNamespace], v[kSourcePrincipal],
                                 v[kDestinationWorkload], code, value});
        }
      }
      if (v[kReporter] == "source") {
        Totals& s = out.services[v[kDestinationService]];
        s.requests += value;
        if (error) s.errors += value;
      }
    } else if (line.starts_with(kBuckets)) {
      // The le label last (as proxies print it), else every line is read whole.
      size_t le = line.rfind(",le=\"");
      if (le != std::string_view::npos) {
        const size_t close = line.find('"', le + 5);
        if (close == std::string_view::npos || close + 1 >= line.size() || line[close + 1] != '}') {
          le = std::string_view::npos;
        }
      }
      if (le != std::string_view::npos && !series.empty() && line.substr(0, le) == series) {
        if (!series_wanted) continue;
        const size_t close = line.find('"', le + 5);
        const size_t space = line.rfind(' ');
        if (close == std::string_view::npos || space == std::string_view::npos) continue;
        const std::string_view bound_text = line.substr(le + 5, close - le - 5);
        const double bound =
            bound_text == "+Inf" ? INFINITY : std::strtod(std::string(bound_text).c_str(), nullptr);
        const double value = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
        series_totals->buckets[bound] += value;
        continue;
      }
      const double value = readSeries(line, kBuckets.size(), v, true);
      series = le == std::string_view::npos ? std::string_view() : line.substr(0, le);
      series_wanted = !std::isnan(value) && v[kReporter] == "source";
      if (!series_wanted) continue;
      series_totals = &out.services[v[kDestinationService]];
      const double bound = v[kLe] == "+Inf" ? INFINITY : std::strtod(v[kLe].c_str(), nullptr);
      series_totals->buckets[bound] += value;
    }
  }
  return out;
}

std::vector<MeshScraper::Sample> MeshScraper::parse(const std::string& text,
                                                    const std::string& metric) {
  std::vector<Sample> out;
  const std::string prefix = metric + "{";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(prefix)) continue;
    Sample s;
    size_t i = prefix.size();
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find("=\"", i);
      if (eq == std::string_view::npos) break;
      std::string key(line.substr(i, eq - i));
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value += line[j] == 'n' ? '\n' : line[j];
        } else {
          value += line[j];
        }
      }
      s.labels[std::move(key)] = std::move(value);
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    s.value = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::string MeshScraper::render() {
  using nlohmann::json;
  if (!rendered_.empty()) return rendered_;
  const Point& latest = history_.back();
  // The rounds the rates may start from: those within the rate window before the newest, else
  // the one before it.
  size_t first = history_.size() - 1;
  while (first > 0 && latest.at - history_[first - 1].at <= options_.rate_window) --first;
  if (first == history_.size() - 1 && first > 0) --first;
  auto between = [](const Totals& now, const Totals* before, double dt, json& out) {
    out["rps"] = nullptr;
    out["error_percent"] = nullptr;
    out["p99_ms"] = nullptr;
    if (!before || dt <= 0) return;
    const double d_req = std::max(0.0, now.requests - before->requests);
    const double d_err = std::max(0.0, now.errors - before->errors);
    out["rps"] = d_req / dt;
    out["error_percent"] = d_req > 0 ? 100.0 * d_err / d_req : 0.0;
    std::map<double, double> delta;
    for (const auto& [le, count] : now.buckets) {
      auto p = before->buckets.find(le);
      delta[le] = std::max(0.0, count - (p == before->buckets.end() ? 0 : p->second));
    }
    if (!delta.empty() && delta.rbegin()->second > 0) out["p99_ms"] = quantile(delta, 0.99);
  };
  auto find = [](const std::map<std::string, Totals>& in, const std::string& key) -> const Totals* {
    auto it = in.find(key);
    return it == in.end() ? nullptr : &it->second;
  };
  // An edge or service is rated from the oldest of those rounds that has it: one that appeared
  // within the window (its first requests) is rated from its first round.
  double dt = 0;
  auto baseOf = [&](std::map<std::string, Totals> Point::*member, const std::string& key) {
    for (size_t i = first; i + 1 < history_.size(); ++i) {
      if (const Totals* t = find(history_[i].*member, key)) {
        dt = std::chrono::duration<double>(latest.at - history_[i].at).count();
        return t;
      }
    }
    dt = 0;
    return static_cast<const Totals*>(nullptr);
  };

  json edges = json::array();
  for (const auto& [key, t] : latest.edges) {
    const auto a = key.find('|'), b = key.find('|', a + 1);
    json e{{"source", key.substr(0, a)},   {"destination", key.substr(a + 1, b - a - 1)},
           {"service", key.substr(b + 1)}, {"mtls", t.mtls},
           {"requests", t.requests},       {"errors", t.errors}};
    const Totals* before = baseOf(&Point::edges, key);
    between(t, before, dt, e);
    edges.push_back(std::move(e));
  }
  json services = json::array();
  for (const auto& [name, t] : latest.services) {
    json s{{"service", name}, {"requests", t.requests}, {"errors", t.errors}};
    const Totals* before = baseOf(&Point::services, name);
    between(t, before, dt, s);
    // p99 over everything so far when there is no earlier round to subtract.
    if (s["p99_ms"].is_null() && !t.buckets.empty() && t.buckets.rbegin()->second > 0) {
      s["p99_ms_total"] = quantile(t.buckets, 0.99);
    }
    // Golden signals round by round over the history: [wall ms, req/s, error %, p99 ms].
    json series = json::array();
    for (size_t i = 1; i < history_.size(); ++i) {
      const Totals* now = find(history_[i].services, name);
      if (!now) continue;
      json step;
      between(*now, find(history_[i - 1].services, name),
              std::chrono::duration<double>(history_[i].at - history_[i - 1].at).count(), step);
      series.push_back({history_[i].wall_ms, step["rps"], step["error_percent"], step["p99_ms"]});
    }
    s["history"] = std::move(series);
    services.push_back(std::move(s));
  }
  json denials = json::array();
  for (const auto& d : last_denials_) {
    denials.push_back({{"source", d.source},
                       {"source_namespace", d.source_namespace},
                       {"principal", d.principal},
                       {"destination", d.destination},
                       {"code", d.code},
                       {"count", d.count}});
  }
  size_t scraped = 0;
  for (bool s : last_scraped_) scraped += s ? 1 : 0;
  json scrape{
      {"interval_ms",
       options_.interval.count() == 0
           ? 0
           : std::max(options_.interval, options_.per_proxy * last_status_.proxies_size()).count()},
      {"timeout_ms", options_.timeout.count()},
      {"rounds", rounds_},
      {"targets", last_status_.proxies_size()},
      {"scraped", scraped},
      {"rate_window_s", options_.rate_window.count()},
      {"at_ms", latest.wall_ms},
      {"durations_ms", json(std::vector<double>(durations_ms_.begin(), durations_ms_.end()))}};
  json doc{{"source", "scrape"},
           {"edges", std::move(edges)},
           {"services", std::move(services)},
           {"denials", std::move(denials)},
           {"scrape", std::move(scrape)}};
  putStatusJson(doc, last_status_, [this](int i) {
    return static_cast<size_t>(i) < last_scraped_.size() && last_scraped_[static_cast<size_t>(i)];
  });
  rendered_ = doc.dump();
  return rendered_;
}

}  // namespace halyard::control
