#include "control/jwks/http_get.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace halyard::control::jwks {

namespace {

using Clock = std::chrono::steady_clock;
using common::ErrorKind;

struct Url {
  bool https = false;
  std::string host;
  std::string port;
  std::string target;  // path and query
};

common::Expected<Url> parseUrl(const std::string& url) {
  Url u;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    u.https = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return common::fail(ErrorKind::kInvalidArgument,
                        "jwksUri " + url + " is not an http:// or https:// URL");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // userinfo is never sent
  }
  size_t colon = authority.rfind(':');
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return common::fail(ErrorKind::kInvalidArgument, "jwksUri " + url + " has a bad IPv6 host");
    }
    u.host = std::string(authority.substr(1, close - 1));
    colon = authority.size() > close + 1 && authority[close + 1] == ':' ? close + 1
                                                                        : std::string_view::npos;
  } else {
    u.host = std::string(authority.substr(0, colon));
  }
  u.port = colon == std::string_view::npos ? (u.https ? "443" : "80")
                                           : std::string(authority.substr(colon + 1));
  if (u.host.empty()) {
    return common::fail(ErrorKind::kInvalidArgument, "jwksUri " + url + " has no host");
  }
  return u;
}

int remainingMs(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

bool waitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int ms = remainingMs(deadline);
    if (ms == 0) return false;
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
    if (n == 0) return false;
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::string sslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "TLS failure";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

common::Expected<int> connectTo(const Url& u, const std::string& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &found); rc != 0) {
    return common::fail(ErrorKind::kIo,
                        "cannot resolve the host of jwksUri " + url + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    if (errno == EINPROGRESS && waitFor(fd, POLLOUT, deadline)) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) return fd;
      last = std::strerror(err);
    } else {
      last = remainingMs(deadline) == 0 ? "timed out" : std::strerror(errno);
    }
    ::close(fd);
  }
  return common::fail(ErrorKind::kIo, "cannot connect to jwksUri " + url + ": " + last);
}

// The body of a complete HTTP/1.1 answer read until the server closed the connection.
common::Expected<std::string> parseResponse(const std::string& raw, const std::string& url) {
  const size_t end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || end == std::string::npos) {
    return common::fail(ErrorKind::kProtocol, "jwksUri " + url + " did not answer with HTTP/1.x");
  }
  const size_t sp = raw.find(' ');
  const std::string status = raw.substr(sp + 1, 3);
  if (status != "200") {
    return common::fail(ErrorKind::kProtocol,
                        "jwksUri " + url + " answered status " + status + ", expected 200");
  }
  std::string head = raw.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string body = raw.substr(end + 4);
  if (head.find("\r\ntransfer-encoding: chunked") == std::string::npos) {
    if (const size_t cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
      const size_t length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
      if (body.size() < length) {
        return common::fail(ErrorKind::kProtocol,
                            "jwksUri " + url + " closed the connection before the whole body");
      }
      body.resize(length);
    }
    return body;
  }
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const size_t size = std::strtoul(body.c_str() + at, nullptr, 16);
    if (size == 0) return out;
    if (line_end + 2 + size > body.size()) break;
    out.append(body, line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return common::fail(ErrorKind::kProtocol, "jwksUri " + url + " sent a truncated chunked body");
}

}  // namespace

common::Expected<std::string> httpGet(const std::string& url, const HttpGetOptions& options) {
  auto u = parseUrl(url);
  if (!u) return common::unexpected(u.error());
  const Clock::time_point deadline = Clock::now() + options.timeout;
  auto connected = connectTo(*u, url, deadline);
  if (!connected) return common::unexpected(connected.error());
  Fd fd{*connected};
  const std::string timed_out = "fetching jwksUri " + url + " timed out after " +
                                std::to_string(options.timeout.count()) + " ms";

  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  std::unique_ptr<SSL, SslFree> ssl;
  if (u->https) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return common::fail(ErrorKind::kInternal, "cannot make a TLS context: " + sslError());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    // Many servers close without close_notify; the body's own framing (Content-Length,
    // chunked) is what tells a complete answer from a cut one.
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_default_verify_paths(ctx.get());
    if (!options.ca_file.empty() &&
        SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
      return common::fail(ErrorKind::kInvalidArgument,
                          "cannot read the JWKS CA bundle " + options.ca_file + ": " + sslError());
    }
    ssl.reset(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd.fd);
    // An IP address is checked against the certificate's IP SANs (and sends no SNI); a name
    // against its DNS SANs.
    unsigned char ip[16];
    const bool literal = inet_pton(AF_INET, u->host.c_str(), ip) == 1 ||
                         inet_pton(AF_INET6, u->host.c_str(), ip) == 1;
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), u->host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl.get(), u->host.c_str());
      SSL_set1_host(ssl.get(), u->host.c_str());
    }
    while (true) {
      ERR_clear_error();
      const int rc = SSL_connect(ssl.get());
      if (rc == 1) break;
      const int err = SSL_get_error(ssl.get(), rc);
      short events = 0;
      if (err == SSL_ERROR_WANT_READ) events = POLLIN;
      if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (events == 0) {
        const long verify = SSL_get_verify_result(ssl.get());
        const std::string why =
            verify != X509_V_OK ? X509_verify_cert_error_string(verify) : sslError();
        return common::fail(ErrorKind::kIo,
                            "TLS handshake with jwksUri " + url + " failed: " + why);
      }
      if (!waitFor(fd.fd, events, deadline)) return common::fail(ErrorKind::kTimeout, timed_out);
    }
  }

  std::string host_header = u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  if (u->port != (u->https ? "443" : "80")) host_header += ":" + u->port;
  const std::string request = "GET " + u->target + " HTTP/1.1\r\nHost: " + host_header +
                              "\r\nAccept: application/json\r\nUser-Agent: halyard-control\r\n"
                              "Connection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n;
    if (ssl) {
      ERR_clear_error();
      const int rc =
          SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
      if (rc <= 0) {
        const int err = SSL_get_error(ssl.get(), rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          return common::fail(ErrorKind::kIo, "cannot send to jwksUri " + url + ": " + sslError());
        }
        if (!waitFor(fd.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return common::fail(ErrorKind::kTimeout, timed_out);
        }
        continue;
      }
      n = rc;
    } else {
      n = ::send(fd.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          return common::fail(ErrorKind::kIo,
                              "cannot send to jwksUri " + url + ": " + std::strerror(errno));
        }
        if (!waitFor(fd.fd, POLLOUT, deadline)) return common::fail(ErrorKind::kTimeout, timed_out);
        continue;
      }
    }
    sent += static_cast<size_t>(n);
  }

  std::string raw;
  char buf[8192];
  while (true) {
    ssize_t n;
    if (ssl) {
      ERR_clear_error();
      const int rc = SSL_read(ssl.get(), buf, sizeof(buf));
      if (rc <= 0) {
        const int err = SSL_get_error(ssl.get(), rc);
        if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) break;  // closed
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          return common::fail(ErrorKind::kIo,
                              "cannot read from jwksUri " + url + ": " + sslError());
        }
        if (!waitFor(fd.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return common::fail(ErrorKind::kTimeout, timed_out);
        }
        continue;
      }
      n = rc;
    } else {
      n = ::recv(fd.fd, buf, sizeof(buf), 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          return common::fail(ErrorKind::kIo,
                              "cannot read from jwksUri " + url + ": " + std::strerror(errno));
        }
        if (!waitFor(fd.fd, POLLIN, deadline)) return common::fail(ErrorKind::kTimeout, timed_out);
        continue;
      }
    }
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > options.max_body + 16384) {
      return common::fail(ErrorKind::kOverflow, "jwksUri " + url + " answered more than " +
                                                    std::to_string(options.max_body) + " bytes");
    }
  }
  return parseResponse(raw, url);
}

}  // namespace halyard::control::jwks
