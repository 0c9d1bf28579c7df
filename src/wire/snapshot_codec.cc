#include "wire/snapshot_codec.h"

#include <algorithm>
#include <limits>

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

namespace tr = translate;

namespace {

using common::ErrorKind;
using common::Expected;
using common::fail;

// ---- encode -----------------------------------------------------------------------------

void encodeMatcher(const tr::StringMatcher& in, v1::StringMatcher* out) {
  switch (in.kind) {
    case tr::StringMatcher::Kind::kExact:
      out->set_kind(v1::StringMatcher::EXACT);
      break;
    case tr::StringMatcher::Kind::kPrefix:
      out->set_kind(v1::StringMatcher::PREFIX);
      break;
    case tr::StringMatcher::Kind::kRegex:
      out->set_kind(v1::StringMatcher::REGEX);
      break;
    case tr::StringMatcher::Kind::kPresent:
      out->set_kind(v1::StringMatcher::PRESENT);
      break;
  }
  out->set_value(in.value);
  if (in.regex) out->set_regex(in.regex->pattern());
  out->set_ignore_case(in.ignore_case);
}

void encodeOptionalMatcher(const std::optional<tr::StringMatcher>& in,
                           v1::StringMatcher* (v1::RouteMatch::*mutable_field)(),
                           v1::RouteMatch* out) {
  if (in) encodeMatcher(*in, (out->*mutable_field)());
}

void encodeHeaderOps(const tr::HeaderOps& in, v1::HeaderOps* out) {
  for (const auto& [name, value] : in.set) {
    auto* h = out->add_set();
    h->set_name(name);
    h->set_value(value);
  }
  for (const auto& [name, value] : in.add) {
    auto* h = out->add_add();
    h->set_name(name);
    h->set_value(value);
  }
  for (const auto& name : in.remove) out->add_remove(name);
}

void encodeForward(const tr::ForwardAction& in, v1::ForwardAction* out) {
  for (const auto& c : in.clusters) {
    auto* w = out->add_clusters();
    w->set_cluster(c.cluster);
    w->set_weight(c.weight);
    encodeHeaderOps(c.request_headers, w->mutable_request_headers());
    encodeHeaderOps(c.response_headers, w->mutable_response_headers());
    if (c.authority_rewrite) w->set_authority_rewrite(*c.authority_rewrite);
  }
  out->set_total_weight(in.total_weight);
  if (in.uri_rewrite) {
    auto* rw = out->mutable_uri_rewrite();
    if (in.uri_rewrite->prefix_replacement) {
      rw->set_prefix_replacement(*in.uri_rewrite->prefix_replacement);
    }
    if (in.uri_rewrite->regex) rw->set_regex(in.uri_rewrite->regex->pattern());
    rw->set_regex_substitution(in.uri_rewrite->regex_substitution);
  }
  if (in.authority_rewrite) out->set_authority_rewrite(*in.authority_rewrite);
  if (in.timeout) out->set_timeout_ms(in.timeout->count());
  auto* retry = out->mutable_retry();
  retry->set_attempts(in.retry.attempts);
  retry->set_retry_on(in.retry.retry_on);
  for (uint16_t code : in.retry.retriable_status_codes) retry->add_retriable_status_codes(code);
  if (in.retry.per_try_timeout) retry->set_per_try_timeout_ms(in.retry.per_try_timeout->count());
  retry->set_backoff_base_ms(in.retry.backoff_base.count());
  retry->set_retry_other_hosts(in.retry.retry_other_hosts);
  for (const auto& m : in.mirrors) {
    auto* mirror = out->add_mirrors();
    mirror->set_cluster(m.cluster);
    mirror->set_per_million(m.per_million);
  }
}

void encodeRedirect(const tr::RedirectAction& in, v1::RedirectAction* out) {
  if (in.uri) out->set_uri(*in.uri);
  if (in.prefix_rewrite) out->set_prefix_rewrite(*in.prefix_rewrite);
  if (in.authority) out->set_authority(*in.authority);
  if (in.scheme) out->set_scheme(*in.scheme);
  if (in.port) out->set_port(*in.port);
  switch (in.derive_port) {
    case tr::RedirectAction::DerivePort::kNone:
      out->set_derive_port(v1::RedirectAction::NONE);
      break;
    case tr::RedirectAction::DerivePort::kFromProtocolDefault:
      out->set_derive_port(v1::RedirectAction::FROM_PROTOCOL_DEFAULT);
      break;
    case tr::RedirectAction::DerivePort::kFromRequestPort:
      out->set_derive_port(v1::RedirectAction::FROM_REQUEST_PORT);
      break;
  }
  out->set_code(in.code);
}

void encodeFault(const tr::FaultPolicy& in, v1::FaultPolicy* out) {
  if (in.delay) {
    auto* d = out->mutable_delay();
    d->set_duration_ms(in.delay->duration.count());
    d->set_per_million(in.delay->per_million);
  }
  if (in.abort) {
    auto* a = out->mutable_abort();
    a->set_http_status(in.abort->http_status);
    if (in.abort->grpc_status) a->set_grpc_status(*in.abort->grpc_status);
    a->set_per_million(in.abort->per_million);
  }
}

void encodeCors(const tr::CorsPolicy& in, v1::CorsPolicy* out) {
  for (const auto& m : in.allow_origins) encodeMatcher(m, out->add_allow_origins());
  out->set_allow_methods(in.allow_methods);
  out->set_allow_headers(in.allow_headers);
  out->set_expose_headers(in.expose_headers);
  if (in.max_age_seconds) out->set_max_age_seconds(*in.max_age_seconds);
  if (in.allow_credentials) out->set_allow_credentials(*in.allow_credentials);
  out->set_forward_unmatched_preflights(in.forward_unmatched_preflights);
}

void encodeRoute(const tr::Route& in, v1::Route* out) {
  out->set_name(in.name);
  auto* match = out->mutable_match();
  encodeOptionalMatcher(in.match.uri, &v1::RouteMatch::mutable_uri, match);
  encodeOptionalMatcher(in.match.scheme, &v1::RouteMatch::mutable_scheme, match);
  encodeOptionalMatcher(in.match.method, &v1::RouteMatch::mutable_method, match);
  encodeOptionalMatcher(in.match.authority, &v1::RouteMatch::mutable_authority, match);
  for (const auto& h : in.match.headers) {
    auto* m = match->add_headers();
    m->set_name(h.name);
    encodeMatcher(h.match, m->mutable_match());
    m->set_invert(h.invert);
  }
  for (const auto& q : in.match.query_params) {
    auto* m = match->add_query_params();
    m->set_name(q.name);
    encodeMatcher(q.match, m->mutable_match());
  }
  if (const auto* f = std::get_if<tr::ForwardAction>(&in.action)) {
    encodeForward(*f, out->mutable_forward());
  } else if (const auto* r = std::get_if<tr::RedirectAction>(&in.action)) {
    encodeRedirect(*r, out->mutable_redirect());
  } else if (const auto* d = std::get_if<tr::DirectResponseAction>(&in.action)) {
    auto* dr = out->mutable_direct_response();
    dr->set_status(d->status);
    dr->set_body(d->body);
  }
  if (in.fault) encodeFault(*in.fault, out->mutable_fault());
  if (in.cors) encodeCors(*in.cors, out->mutable_cors());
  encodeHeaderOps(in.request_headers, out->mutable_request_headers());
  encodeHeaderOps(in.response_headers, out->mutable_response_headers());
  out->set_origin(in.origin);
}

void encodePem(const tr::PemSource& in, v1::PemSource* out) {
  out->set_inline_pem(in.inline_pem);
  out->set_path(in.path);
  out->set_origin(in.origin);
}

// Absent PEM sources stay absent on the wire.
template <typename Message>
void encodePemIfSet(const tr::PemSource& in, Message* parent,
                    v1::PemSource* (Message::*mutable_field)()) {
  if (!in.empty() || !in.origin.empty()) encodePem(in, (parent->*mutable_field)());
}

void encodeCertificate(const tr::TlsCertificate& in, v1::TlsCertificate* out) {
  encodePemIfSet(in.certificate_chain, out, &v1::TlsCertificate::mutable_certificate_chain);
  encodePemIfSet(in.private_key, out, &v1::TlsCertificate::mutable_private_key);
}

v1::ServerTls::Version encodeVersion(tr::TlsVersion v) {
  switch (v) {
    case tr::TlsVersion::kAuto:
      return v1::ServerTls::TLS_AUTO;
    case tr::TlsVersion::kTls10:
      return v1::ServerTls::TLSV1_0;
    case tr::TlsVersion::kTls11:
      return v1::ServerTls::TLSV1_1;
    case tr::TlsVersion::kTls12:
      return v1::ServerTls::TLSV1_2;
    case tr::TlsVersion::kTls13:
      return v1::ServerTls::TLSV1_3;
  }
  return v1::ServerTls::TLS_AUTO;
}

void encodeServerTls(const tr::ServerTls& in, v1::ServerTls* out) {
  switch (in.mode) {
    case tr::ServerTls::Mode::kSimple:
      out->set_mode(v1::ServerTls::SIMPLE);
      break;
    case tr::ServerTls::Mode::kMutual:
      out->set_mode(v1::ServerTls::MUTUAL);
      break;
    case tr::ServerTls::Mode::kOptionalMutual:
      out->set_mode(v1::ServerTls::OPTIONAL_MUTUAL);
      break;
    case tr::ServerTls::Mode::kIstioMutual:
      out->set_mode(v1::ServerTls::ISTIO_MUTUAL);
      break;
  }
  for (const auto& h : in.sni_hosts) out->add_sni_hosts(h);
  for (const auto& c : in.certificates) encodeCertificate(c, out->add_certificates());
  encodePemIfSet(in.client_ca, out, &v1::ServerTls::mutable_client_ca);
  encodePemIfSet(in.crl, out, &v1::ServerTls::mutable_crl);
  out->set_min_version(encodeVersion(in.min_version));
  out->set_max_version(encodeVersion(in.max_version));
  for (const auto& c : in.cipher_suites) out->add_cipher_suites(c);
  for (const auto& n : in.subject_alt_names) out->add_subject_alt_names(n);
  for (const auto& k : in.verify_spki) out->add_verify_spki(k);
  for (const auto& h : in.verify_hash) out->add_verify_hash(h);
  out->set_origin(in.origin);
}

void encodeUpstreamTls(const tr::UpstreamTls& in, v1::UpstreamTls* out) {
  switch (in.mode) {
    case tr::UpstreamTls::Mode::kSimple:
      out->set_mode(v1::UpstreamTls::SIMPLE);
      break;
    case tr::UpstreamTls::Mode::kMutual:
      out->set_mode(v1::UpstreamTls::MUTUAL);
      break;
    case tr::UpstreamTls::Mode::kIstioMutual:
      out->set_mode(v1::UpstreamTls::ISTIO_MUTUAL);
      break;
  }
  encodePemIfSet(in.ca, out, &v1::UpstreamTls::mutable_ca);
  const auto& cert = in.client_certificate;
  if (!cert.certificate_chain.empty() || !cert.private_key.empty()) {
    encodeCertificate(cert, out->mutable_client_certificate());
  }
  encodePemIfSet(in.crl, out, &v1::UpstreamTls::mutable_crl);
  out->set_sni(in.sni);
  for (const auto& n : in.subject_alt_names) out->add_subject_alt_names(n);
  out->set_insecure_skip_verify(in.insecure_skip_verify);
  out->set_origin(in.origin);
}

// ---- decode -----------------------------------------------------------------------------

// Decoding errors carry the resource and field they are about: "cluster x: port 70000 ...".
class Context {
 public:
  explicit Context(std::string where) : where_(std::move(where)) {}
  common::Unexpected<common::Error> error(const std::string& what) const {
    return fail(ErrorKind::kProtocol, where_ + ": " + what);
  }
  Context at(const std::string& field) const { return Context(where_ + " " + field); }

 private:
  std::string where_;
};

Expected<uint16_t> port16(uint32_t value, const Context& ctx, const char* field) {
  if (value > std::numeric_limits<uint16_t>::max()) {
    return ctx.error(std::string(field) + " " + std::to_string(value) + " is out of range");
  }
  return static_cast<uint16_t>(value);
}

Expected<std::shared_ptr<const re2::RE2>> regex(const std::string& pattern, const Context& ctx) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) {
    return ctx.error("regex \"" + pattern + "\" does not compile with RE2: " + re->error());
  }
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

Expected<tr::StringMatcher> decodeMatcher(const v1::StringMatcher& in, const Context& ctx) {
  tr::StringMatcher m;
  switch (in.kind()) {
    case v1::StringMatcher::EXACT:
      m.kind = tr::StringMatcher::Kind::kExact;
      break;
    case v1::StringMatcher::PREFIX:
      m.kind = tr::StringMatcher::Kind::kPrefix;
      break;
    case v1::StringMatcher::REGEX:
      m.kind = tr::StringMatcher::Kind::kRegex;
      break;
    case v1::StringMatcher::PRESENT:
      m.kind = tr::StringMatcher::Kind::kPresent;
      break;
    default:
      return ctx.error("unknown match kind " + std::to_string(in.kind()));
  }
  m.value = in.value();
  if (m.kind == tr::StringMatcher::Kind::kRegex) {
    auto re = regex(in.regex(), ctx);
    if (!re) return common::unexpected(re.error());
    m.regex = std::move(*re);
  }
  m.ignore_case = in.ignore_case();
  return m;
}

void decodeHeaderOps(const v1::HeaderOps& in, tr::HeaderOps& out) {
  for (const auto& h : in.set()) out.set.emplace_back(h.name(), h.value());
  for (const auto& h : in.add()) out.add.emplace_back(h.name(), h.value());
  out.remove.assign(in.remove().begin(), in.remove().end());
}

Expected<tr::ForwardAction> decodeForward(const v1::ForwardAction& in, const Context& ctx) {
  tr::ForwardAction out;
  if (in.clusters().empty()) return ctx.error("forwards to no cluster");
  for (const auto& w : in.clusters()) {
    tr::WeightedCluster c;
    c.cluster = w.cluster();
    c.weight = w.weight();
    decodeHeaderOps(w.request_headers(), c.request_headers);
    decodeHeaderOps(w.response_headers(), c.response_headers);
    if (w.has_authority_rewrite()) c.authority_rewrite = w.authority_rewrite();
    out.clusters.push_back(std::move(c));
  }
  out.total_weight = in.total_weight();
  if (in.has_uri_rewrite()) {
    const auto& rw = in.uri_rewrite();
    if (rw.has_prefix_replacement() == rw.has_regex()) {
      return ctx.error("uri rewrite needs exactly one of prefix replacement and regex");
    }
    tr::UriRewrite u;
    if (rw.has_prefix_replacement()) u.prefix_replacement = rw.prefix_replacement();
    if (rw.has_regex()) {
      auto re = regex(rw.regex(), ctx.at("uri rewrite"));
      if (!re) return common::unexpected(re.error());
      u.regex = std::move(*re);
    }
    u.regex_substitution = rw.regex_substitution();
    out.uri_rewrite = std::move(u);
  }
  if (in.has_authority_rewrite()) out.authority_rewrite = in.authority_rewrite();
  if (in.has_timeout_ms()) out.timeout = tr::Millis(in.timeout_ms());
  const auto& retry = in.retry();
  out.retry.attempts = retry.attempts();
  out.retry.retry_on = retry.retry_on();
  for (uint32_t code : retry.retriable_status_codes()) {
    if (code > 999) return ctx.error("retriable status code " + std::to_string(code));
    out.retry.retriable_status_codes.push_back(static_cast<uint16_t>(code));
  }
  if (retry.has_per_try_timeout_ms()) {
    out.retry.per_try_timeout = tr::Millis(retry.per_try_timeout_ms());
  }
  out.retry.backoff_base = tr::Millis(retry.backoff_base_ms());
  out.retry.retry_other_hosts = retry.retry_other_hosts();
  for (const auto& m : in.mirrors()) out.mirrors.push_back({m.cluster(), m.per_million()});
  return out;
}

Expected<tr::RedirectAction> decodeRedirect(const v1::RedirectAction& in, const Context& ctx) {
  tr::RedirectAction out;
  if (in.has_uri()) out.uri = in.uri();
  if (in.has_prefix_rewrite()) out.prefix_rewrite = in.prefix_rewrite();
  if (in.has_authority()) out.authority = in.authority();
  if (in.has_scheme()) out.scheme = in.scheme();
  if (in.has_port()) {
    auto port = port16(in.port(), ctx, "redirect port");
    if (!port) return common::unexpected(port.error());
    out.port = *port;
  }
  switch (in.derive_port()) {
    case v1::RedirectAction::NONE:
      out.derive_port = tr::RedirectAction::DerivePort::kNone;
      break;
    case v1::RedirectAction::FROM_PROTOCOL_DEFAULT:
      out.derive_port = tr::RedirectAction::DerivePort::kFromProtocolDefault;
      break;
    case v1::RedirectAction::FROM_REQUEST_PORT:
      out.derive_port = tr::RedirectAction::DerivePort::kFromRequestPort;
      break;
    default:
      return ctx.error("unknown redirect port derivation " + std::to_string(in.derive_port()));
  }
  if (in.code() < 300 || in.code() > 399) {
    return ctx.error("redirect code " + std::to_string(in.code()) + " is not a 3xx");
  }
  out.code = static_cast<uint16_t>(in.code());
  return out;
}

Expected<tr::Route> decodeRoute(const v1::Route& in, const Context& ctx) {
  tr::Route out;
  out.name = in.name();
  const auto& match = in.match();
  struct Optional {
    bool present;
    const v1::StringMatcher& in;
    std::optional<tr::StringMatcher>& out;
    const char* field;
  };
  for (const Optional& o :
       {Optional{match.has_uri(), match.uri(), out.match.uri, "uri"},
        Optional{match.has_scheme(), match.scheme(), out.match.scheme, "scheme"},
        Optional{match.has_method(), match.method(), out.match.method, "method"},
        Optional{match.has_authority(), match.authority(), out.match.authority, "authority"}}) {
    if (!o.present) continue;
    auto m = decodeMatcher(o.in, ctx.at(o.field));
    if (!m) return common::unexpected(m.error());
    o.out = std::move(*m);
  }
  for (const auto& h : match.headers()) {
    auto m = decodeMatcher(h.match(), ctx.at("header " + h.name()));
    if (!m) return common::unexpected(m.error());
    out.match.headers.push_back(tr::HeaderMatcher{h.name(), std::move(*m), h.invert()});
  }
  for (const auto& q : match.query_params()) {
    auto m = decodeMatcher(q.match(), ctx.at("query parameter " + q.name()));
    if (!m) return common::unexpected(m.error());
    out.match.query_params.push_back(tr::QueryParamMatcher{q.name(), std::move(*m)});
  }
  switch (in.action_case()) {
    case v1::Route::kForward: {
      auto f = decodeForward(in.forward(), ctx);
      if (!f) return common::unexpected(f.error());
      out.action = std::move(*f);
      break;
    }
    case v1::Route::kRedirect: {
      auto r = decodeRedirect(in.redirect(), ctx);
      if (!r) return common::unexpected(r.error());
      out.action = std::move(*r);
      break;
    }
    case v1::Route::kDirectResponse: {
      const auto& d = in.direct_response();
      if (d.status() < 100 || d.status() > 599) {
        return ctx.error("direct response status " + std::to_string(d.status()));
      }
      out.action = tr::DirectResponseAction{static_cast<uint16_t>(d.status()), d.body()};
      break;
    }
    case v1::Route::ACTION_NOT_SET:
      return ctx.error("has no action");
  }
  if (in.has_fault()) {
    tr::FaultPolicy fault;
    if (in.fault().has_delay()) {
      const auto& d = in.fault().delay();
      fault.delay = tr::FaultPolicy::Delay{tr::Millis(d.duration_ms()), d.per_million()};
    }
    if (in.fault().has_abort()) {
      const auto& a = in.fault().abort();
      if (a.http_status() > 599)
        return ctx.error("fault abort status " + std::to_string(a.http_status()));
      tr::FaultPolicy::Abort abort;
      abort.http_status = static_cast<uint16_t>(a.http_status());
      if (a.has_grpc_status()) abort.grpc_status = a.grpc_status();
      abort.per_million = a.per_million();
      fault.abort = std::move(abort);
    }
    out.fault = std::move(fault);
  }
  if (in.has_cors()) {
    const auto& c = in.cors();
    tr::CorsPolicy cors;
    for (const auto& o : c.allow_origins()) {
      auto m = decodeMatcher(o, ctx.at("cors origin"));
      if (!m) return common::unexpected(m.error());
      cors.allow_origins.push_back(std::move(*m));
    }
    cors.allow_methods = c.allow_methods();
    cors.allow_headers = c.allow_headers();
    cors.expose_headers = c.expose_headers();
    if (c.has_max_age_seconds()) cors.max_age_seconds = c.max_age_seconds();
    if (c.has_allow_credentials()) cors.allow_credentials = c.allow_credentials();
    cors.forward_unmatched_preflights = c.forward_unmatched_preflights();
    out.cors = std::move(cors);
  }
  decodeHeaderOps(in.request_headers(), out.request_headers);
  decodeHeaderOps(in.response_headers(), out.response_headers);
  out.origin = in.origin();
  return out;
}

Expected<tr::PemSource> decodePem(const v1::PemSource& in, const Context& ctx) {
  if (!in.inline_pem().empty() && !in.path().empty()) {
    return ctx.error("has both inline PEM and the path " + in.path());
  }
  tr::PemSource out;
  out.inline_pem = in.inline_pem();
  out.path = in.path();
  out.origin = in.origin();
  return out;
}

// A certificate the proxy can serve: both halves present.
Expected<tr::TlsCertificate> decodeCertificate(const v1::TlsCertificate& in, const Context& ctx) {
  auto chain = decodePem(in.certificate_chain(), ctx.at("certificate chain"));
  if (!chain) return common::unexpected(chain.error());
  auto key = decodePem(in.private_key(), ctx.at("private key"));
  if (!key) return common::unexpected(key.error());
  if (chain->empty()) return ctx.error("has no certificate chain");
  if (key->empty()) return ctx.error("has no private key");
  return tr::TlsCertificate{std::move(*chain), std::move(*key)};
}

Expected<tr::TlsVersion> decodeVersion(int value, const Context& ctx, const char* field) {
  switch (value) {
    case v1::ServerTls::TLS_AUTO:
      return tr::TlsVersion::kAuto;
    case v1::ServerTls::TLSV1_0:
      return tr::TlsVersion::kTls10;
    case v1::ServerTls::TLSV1_1:
      return tr::TlsVersion::kTls11;
    case v1::ServerTls::TLSV1_2:
      return tr::TlsVersion::kTls12;
    case v1::ServerTls::TLSV1_3:
      return tr::TlsVersion::kTls13;
    default:
      return ctx.error(std::string("unknown ") + field + " " + std::to_string(value));
  }
}

Expected<tr::ServerTls> decodeServerTls(const v1::ServerTls& in, const Context& ctx) {
  tr::ServerTls out;
  switch (in.mode()) {
    case v1::ServerTls::SIMPLE:
      out.mode = tr::ServerTls::Mode::kSimple;
      break;
    case v1::ServerTls::MUTUAL:
      out.mode = tr::ServerTls::Mode::kMutual;
      break;
    case v1::ServerTls::OPTIONAL_MUTUAL:
      out.mode = tr::ServerTls::Mode::kOptionalMutual;
      break;
    case v1::ServerTls::ISTIO_MUTUAL:
      out.mode = tr::ServerTls::Mode::kIstioMutual;
      break;
    default:
      return ctx.error("unknown mode " + std::to_string(in.mode()));
  }
  out.sni_hosts.assign(in.sni_hosts().begin(), in.sni_hosts().end());
  // ISTIO_MUTUAL carries no certificate: the proxy's workload certificate is used.
  const bool mesh = out.mode == tr::ServerTls::Mode::kIstioMutual;
  if (mesh && in.certificates_size() != 0) {
    return ctx.error("is ISTIO_MUTUAL but carries certificates (none expected)");
  }
  if (!mesh && (in.certificates_size() < 1 || in.certificates_size() > 2)) {
    return ctx.error("has " + std::to_string(in.certificates_size()) +
                     " certificates (1 or 2 expected)");
  }
  for (int i = 0; i < in.certificates_size(); ++i) {
    auto c =
        decodeCertificate(in.certificates(i), ctx.at("certificate[" + std::to_string(i) + "]"));
    if (!c) return common::unexpected(c.error());
    out.certificates.push_back(std::move(*c));
  }
  auto ca = decodePem(in.client_ca(), ctx.at("client CA"));
  if (!ca) return common::unexpected(ca.error());
  out.client_ca = std::move(*ca);
  if (out.mode != tr::ServerTls::Mode::kSimple && !mesh && out.client_ca.empty()) {
    return ctx.error("verifies client certificates without a client CA");
  }
  auto crl = decodePem(in.crl(), ctx.at("CRL"));
  if (!crl) return common::unexpected(crl.error());
  out.crl = std::move(*crl);
  auto min = decodeVersion(in.min_version(), ctx, "min version");
  if (!min) return common::unexpected(min.error());
  auto max = decodeVersion(in.max_version(), ctx, "max version");
  if (!max) return common::unexpected(max.error());
  out.min_version = *min;
  out.max_version = *max;
  out.cipher_suites.assign(in.cipher_suites().begin(), in.cipher_suites().end());
  out.subject_alt_names.assign(in.subject_alt_names().begin(), in.subject_alt_names().end());
  out.verify_spki.assign(in.verify_spki().begin(), in.verify_spki().end());
  out.verify_hash.assign(in.verify_hash().begin(), in.verify_hash().end());
  out.origin = in.origin();
  return out;
}

Expected<tr::UpstreamTls> decodeUpstreamTls(const v1::UpstreamTls& in, const Context& ctx) {
  tr::UpstreamTls out;
  switch (in.mode()) {
    case v1::UpstreamTls::SIMPLE:
      out.mode = tr::UpstreamTls::Mode::kSimple;
      break;
    case v1::UpstreamTls::MUTUAL:
      out.mode = tr::UpstreamTls::Mode::kMutual;
      break;
    case v1::UpstreamTls::ISTIO_MUTUAL:
      out.mode = tr::UpstreamTls::Mode::kIstioMutual;
      // The workload certificate and the mesh roots are the proxy's own: anything else here
      // would be silently ignored, so it is refused.
      if (in.has_ca() || in.has_client_certificate()) {
        return ctx.error(std::string("is ISTIO_MUTUAL but carries a ") +
                         (in.has_ca() ? "CA" : "client certificate") +
                         " (Istio mutual TLS uses the workload certificate and the mesh roots)");
      }
      break;
    default:
      return ctx.error("unknown mode " + std::to_string(in.mode()));
  }
  auto ca = decodePem(in.ca(), ctx.at("CA"));
  if (!ca) return common::unexpected(ca.error());
  out.ca = std::move(*ca);
  if (out.mode == tr::UpstreamTls::Mode::kMutual) {
    auto cert = decodeCertificate(in.client_certificate(), ctx.at("client certificate"));
    if (!cert) return common::unexpected(cert.error());
    out.client_certificate = std::move(*cert);
  }
  auto crl = decodePem(in.crl(), ctx.at("CRL"));
  if (!crl) return common::unexpected(crl.error());
  out.crl = std::move(*crl);
  out.sni = in.sni();
  out.subject_alt_names.assign(in.subject_alt_names().begin(), in.subject_alt_names().end());
  out.insecure_skip_verify = in.insecure_skip_verify();
  out.origin = in.origin();
  return out;
}

}  // namespace

std::string virtualHostKey(std::string_view listener, std::string_view name) {
  std::string key(listener);
  key += '/';
  key += name;
  return key;
}

void encodeConditions(const std::vector<tr::AuthzCondition>& in,
                      google::protobuf::RepeatedPtrField<v1::AuthzCondition>* out) {
  for (const auto& c : in) {
    v1::AuthzCondition* o = out->Add();
    o->set_attribute(static_cast<v1::AuthzCondition::Attribute>(c.attribute));
    o->set_key(c.key);
    o->set_negated(c.negated);
    for (const auto& m : c.values) {
      v1::AuthzMatcher* v = o->add_values();
      v->set_kind(static_cast<v1::AuthzMatcher::Kind>(m.kind));
      v->set_value(m.value);
      v->set_prefix_length(m.prefix_length);
    }
  }
}

// The enums mirror translate's in declaration order (discovery.proto), hence the casts.
static_assert(static_cast<int>(tr::AuthzAttribute::kSni) == v1::AuthzCondition::SNI);
static_assert(static_cast<int>(tr::AuthzAttribute::kAuthClaim) == v1::AuthzCondition::AUTH_CLAIM);
static_assert(static_cast<int>(tr::AuthzMatcher::Kind::kCidr) == v1::AuthzMatcher::CIDR);
static_assert(static_cast<int>(tr::AuthzAction::kCustom) == v1::AuthzPolicy::CUSTOM);
void encodeMatchers(const std::vector<tr::AuthzMatcher>& in,
                    google::protobuf::RepeatedPtrField<v1::AuthzMatcher>* out) {
  for (const auto& m : in) {
    v1::AuthzMatcher* v = out->Add();
    v->set_kind(static_cast<v1::AuthzMatcher::Kind>(m.kind));
    v->set_value(m.value);
    v->set_prefix_length(m.prefix_length);
  }
}

void encodeExtProvider(const tr::AuthzExtProvider& in, v1::AuthzExtProvider* out) {
  out->set_name(in.name);
  out->set_protocol(in.protocol == tr::AuthzExtProvider::Protocol::kGrpc
                        ? v1::AuthzExtProvider::GRPC
                        : v1::AuthzExtProvider::HTTP);
  out->set_service(in.service);
  out->set_port(in.port);
  out->set_cluster(in.cluster);
  out->set_timeout_ms(in.timeout_ms);
  out->set_path_prefix(in.path_prefix);
  out->set_fail_open(in.fail_open);
  out->set_status_on_error(in.status_on_error);
  encodeMatchers(in.include_request_headers, out->mutable_include_request_headers());
  for (const auto& [name, value] : in.include_additional_headers) {
    v1::AuthzHeader* h = out->add_include_additional_headers();
    h->set_name(name);
    h->set_value(value);
  }
  encodeMatchers(in.headers_to_upstream_on_allow, out->mutable_headers_to_upstream_on_allow());
  encodeMatchers(in.headers_to_downstream_on_allow, out->mutable_headers_to_downstream_on_allow());
  encodeMatchers(in.headers_to_downstream_on_deny, out->mutable_headers_to_downstream_on_deny());
}

void encodeAuthz(const tr::AuthzPolicy& in, v1::AuthzPolicy* out) {
  out->set_name(in.name);
  out->set_action(static_cast<v1::AuthzPolicy::Action>(in.action));
  out->set_dry_run(in.dry_run);
  out->set_provider(in.provider);
  for (const auto& r : in.rules) {
    v1::AuthzRule* rule = out->add_rules();
    for (const auto& f : r.from) encodeConditions(f, rule->add_from()->mutable_conditions());
    for (const auto& t : r.to) encodeConditions(t, rule->add_to()->mutable_conditions());
    encodeConditions(r.when, rule->mutable_when());
  }
  if (in.ext_provider) encodeExtProvider(*in.ext_provider, out->mutable_ext_provider());
}

// Listener.path_normalization: 0 is BASE, so that an absent field is Istio's default.
uint32_t pathNormalizationNumber(tr::PathNormalization p) {
  switch (p) {
    case tr::PathNormalization::kBase:
      return 0;
    case tr::PathNormalization::kNone:
      return 1;
    case tr::PathNormalization::kMergeSlashes:
      return 2;
    case tr::PathNormalization::kDecodeAndMergeSlashes:
      return 3;
  }
  return 0;
}

void encodeJwtRule(const tr::JwtRule& in, v1::JwtRule* out) {
  out->set_issuer(in.issuer);
  for (const auto& a : in.audiences) out->add_audiences(a);
  out->set_jwks(in.jwks);
  out->set_jwks_uri(in.jwks_uri);
  for (const auto& h : in.from_headers) {
    v1::JwtRule::HeaderLocation* l = out->add_from_headers();
    l->set_name(h.name);
    l->set_prefix(h.prefix);
  }
  for (const auto& p : in.from_params) out->add_from_params(p);
  for (const auto& c : in.from_cookies) out->add_from_cookies(c);
  out->set_forward_original_token(in.forward_original_token);
  out->set_output_payload_to_header(in.output_payload_to_header);
  for (const auto& [claim, header] : in.output_claim_to_headers) {
    v1::JwtRule::ClaimToHeader* c = out->add_output_claim_to_headers();
    c->set_claim(claim);
    c->set_header(header);
  }
  for (const auto& c : in.space_delimited_claims) out->add_space_delimited_claims(c);
  out->set_origin(in.origin);
}

tr::JwtRule decodeJwtRule(const v1::JwtRule& in) {
  tr::JwtRule out;
  out.issuer = in.issuer();
  out.audiences.assign(in.audiences().begin(), in.audiences().end());
  out.jwks = in.jwks();
  out.jwks_uri = in.jwks_uri();
  for (const auto& h : in.from_headers()) out.from_headers.push_back({h.name(), h.prefix()});
  out.from_params.assign(in.from_params().begin(), in.from_params().end());
  out.from_cookies.assign(in.from_cookies().begin(), in.from_cookies().end());
  out.forward_original_token = in.forward_original_token();
  out.output_payload_to_header = in.output_payload_to_header();
  for (const auto& c : in.output_claim_to_headers()) {
    out.output_claim_to_headers.emplace_back(c.claim(), c.header());
  }
  out.space_delimited_claims.assign(in.space_delimited_claims().begin(),
                                    in.space_delimited_claims().end());
  out.origin = in.origin();
  return out;
}

// Listener::tracing (issue 14).
void encodeTracing(const tr::TracingSettings& t, v1::ObsTracing* out) {
  for (const auto& p : t.providers) {
    v1::ObsTracingProvider* o = out->add_providers();
    o->set_name(p.name);
    o->set_kind(p.kind == tr::TracingProvider::Kind::kZipkin
                    ? v1::ObsTracingProvider::ZIPKIN
                    : v1::ObsTracingProvider::OPENTELEMETRY);
    o->set_host(p.host);
    o->set_port(p.port);
    o->set_path(p.path);
    o->set_max_tag_length(p.max_tag_length);
  }
  out->set_sampling_percentage(t.sampling_percentage);
  out->set_sample_randomly(!t.sample_by_request_id);
  for (const auto& c : t.custom_tags) {
    v1::ObsCustomTag* o = out->add_custom_tags();
    o->set_tag(c.tag);
    o->set_kind(static_cast<v1::ObsCustomTag::Kind>(static_cast<int>(c.kind)));
    o->set_value(c.value);
    o->set_default_value(c.default_value);
  }
  out->set_origin(t.origin);
}

std::shared_ptr<const tr::TracingSettings> decodeTracing(const v1::ObsTracing& in) {
  auto t = std::make_shared<tr::TracingSettings>();
  for (const auto& p : in.providers()) {
    tr::TracingProvider o;
    o.name = p.name();
    o.kind = p.kind() == v1::ObsTracingProvider::ZIPKIN ? tr::TracingProvider::Kind::kZipkin
                                                        : tr::TracingProvider::Kind::kOpenTelemetry;
    o.host = p.host();
    o.port = static_cast<uint16_t>(p.port());
    o.path = p.path();
    o.max_tag_length = p.max_tag_length();
    t->providers.push_back(std::move(o));
  }
  t->sampling_percentage = in.sampling_percentage();
  t->sample_by_request_id = !in.sample_randomly();
  for (const auto& c : in.custom_tags()) {
    tr::TracingCustomTag o;
    o.tag = c.tag();
    o.kind = c.kind() == v1::ObsCustomTag::HEADER        ? tr::TracingCustomTag::Kind::kHeader
             : c.kind() == v1::ObsCustomTag::ENVIRONMENT ? tr::TracingCustomTag::Kind::kEnvironment
                                                         : tr::TracingCustomTag::Kind::kLiteral;
    o.value = c.value();
    o.default_value = c.default_value();
    t->custom_tags.push_back(std::move(o));
  }
  t->origin = in.origin();
  return t;
}

void encodeTelemetry(const tr::ListenerTelemetry& t, v1::ObsTelemetry* out) {
  for (size_t i = 0; i < tr::kIstioMetricCount; ++i) {
    const std::string name(tr::kIstioMetricNames[i]);
    if (t.client.disabled[i]) out->add_client_disabled_metrics(name);
    if (t.server.disabled[i]) out->add_server_disabled_metrics(name);
  }
  out->set_origin(t.origin);
  auto sinks = [](const std::vector<tr::AccessLogSink>& in, auto add) {
    for (const auto& s : in) {
      auto* o = add();
      if (!s.own_log) o->set_provider(s.provider.name);
      o->set_own_log(s.own_log);
      o->set_filter(s.filter);
    }
  };
  sinks(t.client_logs, [out] { return out->add_client_access_logs(); });
  sinks(t.server_logs, [out] { return out->add_server_access_logs(); });
  for (const auto& p : t.access_log_providers) {
    auto* o = out->add_access_log_providers();
    o->set_name(p.name);
    o->set_path(p.path);
    using E = tr::AccessLogProvider::Encoding;
    o->set_encoding(p.encoding == E::kDefaultJson ? v1::ObsAccessLogProvider::DEFAULT_JSON
                    : p.encoding == E::kText      ? v1::ObsAccessLogProvider::TEXT
                    : p.encoding == E::kLabels    ? v1::ObsAccessLogProvider::LABELS
                                                  : v1::ObsAccessLogProvider::DEFAULT_TEXT);
    o->set_text(p.text);
    for (const auto& [key, value] : p.labels) {
      auto* l = o->add_labels();
      l->set_key(key);
      l->set_value(value);
    }
  }
  auto upserts = [](const std::vector<tr::TagUpsert>& in, auto add) {
    for (const auto& u : in) {
      auto* o = add();
      o->set_tag(u.tag);
      o->set_remove(u.remove);
      o->set_value(u.value);
      for (size_t i = 0; i < tr::kIstioMetricCount; ++i) {
        if (u.metrics[i]) o->add_metrics(std::string(tr::kIstioMetricNames[i]));
      }
    }
  };
  upserts(t.client.upserts, [out] { return out->add_client_tag_upserts(); });
  upserts(t.server.upserts, [out] { return out->add_server_tag_upserts(); });
}

std::shared_ptr<const tr::ListenerTelemetry> decodeTelemetry(const v1::ObsTelemetry& in) {
  auto t = std::make_shared<tr::ListenerTelemetry>();
  auto disable = [](const auto& names, tr::MetricsSide& side) {
    for (const auto& n : names) {
      for (size_t i = 0; i < tr::kIstioMetricCount; ++i) {
        if (tr::kIstioMetricNames[i] == n) side.disabled[i] = true;
      }
    }
  };
  disable(in.client_disabled_metrics(), t->client);
  disable(in.server_disabled_metrics(), t->server);
  t->origin = in.origin();
  for (const auto& p : in.access_log_providers()) {
    tr::AccessLogProvider o;
    o.name = p.name();
    o.path = p.path();
    using E = tr::AccessLogProvider::Encoding;
    o.encoding = p.encoding() == v1::ObsAccessLogProvider::DEFAULT_JSON ? E::kDefaultJson
                 : p.encoding() == v1::ObsAccessLogProvider::TEXT       ? E::kText
                 : p.encoding() == v1::ObsAccessLogProvider::LABELS     ? E::kLabels
                                                                        : E::kDefaultText;
    o.text = p.text();
    for (const auto& l : p.labels()) o.labels.emplace_back(l.key(), l.value());
    // Compiled here once per config; translate sent only formats it could compile.
    tr::compileAccessLogFormat(o, nullptr);
    t->access_log_providers.push_back(std::move(o));
  }
  // Each filter compiled here, once per config; translate sent only expressions it could read. A
  // sink naming a provider the message does not carry is left out.
  auto sinks = [&t](const auto& in, std::vector<tr::AccessLogSink>& into) {
    for (const auto& s : in) {
      tr::AccessLogSink o;
      o.own_log = s.own_log();
      if (!o.own_log) {
        auto it =
            std::find_if(t->access_log_providers.begin(), t->access_log_providers.end(),
                         [&s](const tr::AccessLogProvider& p) { return p.name == s.provider(); });
        if (it == t->access_log_providers.end()) continue;
        o.provider = *it;
      }
      if (auto f = tr::parseAccessLogFilter(s.filter()); f && !s.filter().empty()) {
        o.filter = s.filter();
        o.compiled = std::move(*f);
      }
      into.push_back(std::move(o));
    }
  };
  sinks(in.client_access_logs(), t->client_logs);
  sinks(in.server_access_logs(), t->server_logs);
  auto upserts = [](const auto& in, std::vector<tr::TagUpsert>& out) {
    for (const auto& u : in) {
      tr::TagUpsert o;
      o.tag = u.tag();
      o.remove = u.remove();
      if (!o.remove) {
        auto compiled = tr::parseAttributeValue(u.value());
        if (!compiled) continue;  // translate sent only values it could compile
        o.value = u.value();
        o.compiled = std::move(*compiled);
      }
      for (const auto& m : u.metrics()) {
        for (size_t i = 0; i < tr::kIstioMetricCount; ++i) {
          if (tr::kIstioMetricNames[i] == m) o.metrics[i] = true;
        }
      }
      out.push_back(std::move(o));
    }
  };
  upserts(in.client_tag_upserts(), t->client.upserts);
  upserts(in.server_tag_upserts(), t->server.upserts);
  return t;
}

v1::Listener encodeListener(const tr::Listener& listener) {
  v1::Listener out;
  out.set_name(listener.name);
  out.set_bind_address(listener.bind_address);
  out.set_port(listener.port);
  out.set_protocol(listener.protocol);
  switch (listener.kind) {
    case tr::ListenerKind::kGateway:
      out.set_kind(v1::Listener::GATEWAY);
      break;
    case tr::ListenerKind::kInbound:
      out.set_kind(v1::Listener::INBOUND);
      break;
    case tr::ListenerKind::kOutboundProxy:
      out.set_kind(v1::Listener::OUTBOUND_PROXY);
      break;
    case tr::ListenerKind::kOutboundPort:
      out.set_kind(v1::Listener::OUTBOUND_PORT);
      break;
  }
  if (listener.routes) {
    for (const auto& vh : listener.routes->virtual_hosts) out.add_virtual_hosts(vh.name);
  }
  for (const auto& t : listener.tls) encodeServerTls(t, out.add_tls());
  const tr::InboundMtls& mtls = listener.mtls;
  if (listener.kind == tr::ListenerKind::kInbound || mtls.mode != tr::PeerAuthMode::kPermissive ||
      !mtls.origin.empty()) {
    v1::InboundMtls* m = out.mutable_mtls();
    switch (mtls.mode) {
      case tr::PeerAuthMode::kPermissive:
        m->set_mode(v1::InboundMtls::PERMISSIVE);
        break;
      case tr::PeerAuthMode::kStrict:
        m->set_mode(v1::InboundMtls::STRICT);
        break;
      case tr::PeerAuthMode::kDisable:
        m->set_mode(v1::InboundMtls::DISABLE);
        break;
    }
    m->set_origin(mtls.origin);
  }
  for (const auto& p : listener.authz) encodeAuthz(p, out.add_authz());
  for (const auto& r : listener.jwt_rules) encodeJwtRule(r, out.add_jwt_rules());
  out.set_xff_trusted_hops(listener.xff_trusted_hops);
  out.set_use_remote_address(listener.use_remote_address);
  out.set_path_normalization(pathNormalizationNumber(listener.path_normalization));
  out.set_workload_port(listener.workload_port);
  out.set_protocol_detection_timeout_ms(listener.protocol_detection_timeout.count());
  out.set_registry_only(listener.registry_only);
  if (listener.tracing) encodeTracing(*listener.tracing, out.mutable_tracing());
  if (listener.telemetry) encodeTelemetry(*listener.telemetry, out.mutable_telemetry());
  for (const auto& r : listener.tcp_routes) {
    v1::TcpRoute* route = out.add_tcp_routes();
    for (const auto& m : r.matches) {
      v1::TcpRoute::Match* match = route->add_matches();
      for (const auto& s : m.destination_subnets) match->add_destination_subnets(s);
      for (const auto& h : m.sni_hosts) match->add_sni_hosts(h);
    }
    for (const auto& c : r.clusters) {
      v1::WeightedCluster* w = route->add_clusters();
      w->set_cluster(c.cluster);
      w->set_weight(c.weight);
    }
    route->set_origin(r.origin);
    for (const auto& h : r.hosts) route->add_hosts(h);
    for (const auto& a : r.host_addresses) route->add_host_addresses(a);
  }
  // The table itself travels once per proxy (Resources.peer_workloads, encodePeerWorkload).
  out.set_shares_peer_workloads(listener.peer_workloads != nullptr);
  return out;
}

v1::VirtualHost encodeVirtualHost(std::string_view listener, const tr::VirtualHost& vhost) {
  v1::VirtualHost out;
  out.set_listener(std::string(listener));
  out.set_name(vhost.name);
  for (const auto& d : vhost.domains) out.add_domains(d);
  for (const auto& r : vhost.routes) encodeRoute(r, out.add_routes());
  out.set_require_tls(vhost.require_tls);
  return out;
}

namespace {

// DestinationRule traffic policy (issue 13): plain values, nothing to validate beyond types.
void encodeTrafficPolicy(const tr::Cluster& c, v1::Cluster& out) {
  const tr::ConnectionPoolPolicy& p = c.pool;
  auto* cp = out.mutable_connection_pool();
  cp->set_max_connections(p.max_connections);
  cp->set_max_pending_requests(p.max_pending_requests);
  cp->set_max_requests(p.max_requests);
  cp->set_max_retries(p.max_retries);
  cp->set_max_requests_per_connection(p.max_requests_per_connection);
  cp->set_max_concurrent_streams(p.max_concurrent_streams);
  cp->set_idle_timeout_ms(p.idle_timeout.count());
  cp->set_max_connection_duration_ms(p.max_connection_duration.count());
  cp->set_tcp_keepalive(p.tcp_keepalive);
  cp->set_keepalive_time_ms(p.keepalive_time.count());
  cp->set_keepalive_interval_ms(p.keepalive_interval.count());
  cp->set_keepalive_probes(p.keepalive_probes);
  if (c.outlier) {
    auto* o = out.mutable_outlier_detection();
    o->set_consecutive_5xx(c.outlier->consecutive_5xx);
    o->set_consecutive_gateway_errors(c.outlier->consecutive_gateway_errors);
    o->set_consecutive_local_origin_failures(c.outlier->consecutive_local_origin_failures);
    o->set_split_external_local_origin_errors(c.outlier->split_external_local_origin_errors);
    o->set_interval_ms(c.outlier->interval.count());
    o->set_base_ejection_time_ms(c.outlier->base_ejection_time.count());
    o->set_max_ejection_percent(c.outlier->max_ejection_percent);
    o->set_min_health_percent(c.outlier->min_health_percent);
    for (uint16_t code : c.outlier->error_codes) o->add_error_codes(code);
  }
  if (c.hash) {
    auto* h = out.mutable_hash();
    h->set_key(static_cast<v1::ClusterHashPolicy::Key>(c.hash->key));
    h->set_name(c.hash->name);
    h->set_cookie_path(c.hash->cookie_path);
    h->set_cookie_ttl_ms(c.hash->cookie_ttl.count());
    for (const auto& [k, v] : c.hash->cookie_attributes) (*h->mutable_cookie_attributes())[k] = v;
    h->set_maglev(c.hash->maglev);
    h->set_table_size(c.hash->table_size);
  }
  if (c.locality_lb) {
    auto* l = out.mutable_locality_lb();
    for (const auto& d : c.locality_lb->distribute) {
      auto* od = l->add_distribute();
      od->set_from(d.from);
      for (const auto& [k, w] : d.to) (*od->mutable_to())[k] = w;
    }
    for (const auto& [from, to] : c.locality_lb->failover) {
      auto* f = l->add_failover();
      f->set_from(from);
      f->set_to(to);
    }
    for (const auto& k : c.locality_lb->failover_priority) l->add_failover_priority(k);
  }
  if (c.warmup) {
    auto* w = out.mutable_warmup();
    w->set_duration_ms(c.warmup->duration.count());
    w->set_min_percent(c.warmup->min_percent);
    w->set_aggression(c.warmup->aggression);
  }
}

void decodeTrafficPolicy(const v1::Cluster& in, tr::Cluster& out) {
  const auto& cp = in.connection_pool();
  tr::ConnectionPoolPolicy& p = out.pool;
  p.max_connections = cp.max_connections();
  p.max_pending_requests = cp.max_pending_requests();
  p.max_requests = cp.max_requests();
  p.max_retries = cp.max_retries();
  p.max_requests_per_connection = cp.max_requests_per_connection();
  p.max_concurrent_streams = cp.max_concurrent_streams();
  p.idle_timeout = tr::Millis(cp.idle_timeout_ms());
  p.max_connection_duration = tr::Millis(cp.max_connection_duration_ms());
  p.tcp_keepalive = cp.tcp_keepalive();
  p.keepalive_time = tr::Millis(cp.keepalive_time_ms());
  p.keepalive_interval = tr::Millis(cp.keepalive_interval_ms());
  p.keepalive_probes = cp.keepalive_probes();
  if (in.has_outlier_detection()) {
    const auto& o = in.outlier_detection();
    tr::OutlierPolicy op;
    op.consecutive_5xx = o.consecutive_5xx();
    op.consecutive_gateway_errors = o.consecutive_gateway_errors();
    op.consecutive_local_origin_failures = o.consecutive_local_origin_failures();
    op.split_external_local_origin_errors = o.split_external_local_origin_errors();
    op.interval = tr::Millis(o.interval_ms());
    op.base_ejection_time = tr::Millis(o.base_ejection_time_ms());
    op.max_ejection_percent = o.max_ejection_percent();
    op.min_health_percent = o.min_health_percent();
    for (uint32_t code : o.error_codes()) op.error_codes.push_back(static_cast<uint16_t>(code));
    out.outlier = std::move(op);
  }
  if (in.has_hash()) {
    const auto& h = in.hash();
    tr::HashPolicy hp;
    hp.key = static_cast<tr::HashPolicy::Key>(h.key());
    hp.name = h.name();
    hp.cookie_path = h.cookie_path();
    hp.cookie_ttl = tr::Millis(h.cookie_ttl_ms());
    for (const auto& [k, v] : h.cookie_attributes()) hp.cookie_attributes.emplace_back(k, v);
    std::sort(hp.cookie_attributes.begin(), hp.cookie_attributes.end());
    hp.maglev = h.maglev();
    hp.table_size = h.table_size();
    out.hash = std::move(hp);
  }
  if (in.has_locality_lb()) {
    const auto& l = in.locality_lb();
    tr::LocalityLbPolicy lp;
    for (const auto& d : l.distribute()) {
      tr::LocalityLbPolicy::Distribute od;
      od.from = d.from();
      for (const auto& [k, w] : d.to()) od.to.emplace_back(k, w);
      std::sort(od.to.begin(), od.to.end());
      lp.distribute.push_back(std::move(od));
    }
    for (const auto& f : l.failover()) lp.failover.emplace_back(f.from(), f.to());
    lp.failover_priority.assign(l.failover_priority().begin(), l.failover_priority().end());
    out.locality_lb = std::move(lp);
  }
  if (in.has_warmup()) {
    const auto& w = in.warmup();
    out.warmup = tr::WarmupPolicy{tr::Millis(w.duration_ms()), w.min_percent(), w.aggression()};
  }
}

}  // namespace

v1::Cluster encodeCluster(const tr::Cluster& c) {
  v1::Cluster out;
  out.set_name(c.name);
  out.set_service_host(c.service_host);
  out.set_service_name(c.service_name);
  out.set_service_namespace(c.service_namespace);
  out.set_port(c.port);
  out.set_subset(c.subset);
  switch (c.lb) {
    case tr::LbPolicy::kLeastRequest:
      out.set_lb(v1::Cluster::LEAST_REQUEST);
      break;
    case tr::LbPolicy::kRoundRobin:
      out.set_lb(v1::Cluster::ROUND_ROBIN);
      break;
    case tr::LbPolicy::kRandom:
      out.set_lb(v1::Cluster::RANDOM);
      break;
    case tr::LbPolicy::kPassthrough:
      out.set_lb(v1::Cluster::PASSTHROUGH);
      break;
  }
  out.set_resolve_dns(c.resolve_dns);
  out.set_connect_timeout_ms(c.connect_timeout.count());
  for (const auto& e : c.endpoints) {
    auto* ep = out.add_endpoints();
    ep->set_address(e.address);
    ep->set_port(e.port);
    ep->set_weight(e.weight);
    for (const auto& [k, v] : e.labels) (*ep->mutable_labels())[k] = v;
    ep->set_workload(e.workload);
    ep->set_namespace_(e.namespace_);
    ep->set_service_account(e.service_account);
    ep->set_mesh_mtls(e.mesh_mtls);
    ep->set_requires_mtls(e.requires_mtls);
    ep->set_locality(e.locality);
  }
  for (const auto& f : c.not_enforced) out.add_not_enforced(f);
  encodeTrafficPolicy(c, out);
  if (c.tls) encodeUpstreamTls(*c.tls, out.mutable_tls());
  out.set_auto_mtls(c.auto_mtls);
  out.set_tls_disabled_by(c.tls_disabled_by);
  out.set_http2(c.http2);
  out.set_use_client_protocol(c.use_client_protocol);
  return out;
}

std::string peerWorkloadKey(std::string_view namespace_, std::string_view service_account) {
  std::string key;
  key.reserve(namespace_.size() + 1 + service_account.size());
  key.append(namespace_).append("/").append(service_account);
  return key;
}

v1::PeerWorkload encodePeerWorkload(const tr::PeerWorkload& w) {
  v1::PeerWorkload p;
  p.set_namespace_(w.namespace_);
  p.set_service_account(w.service_account);
  p.set_workload(w.workload);
  p.set_app(w.app);
  p.set_version(w.version);
  if (w.revision != "latest") p.set_revision(w.revision);
  if (w.canonical_service != w.app) p.set_canonical_service(w.canonical_service);
  return p;
}

tr::PeerWorkload decodePeerWorkload(const v1::PeerWorkload& p) {
  return tr::PeerWorkload{p.namespace_(),
                          p.service_account(),
                          p.workload(),
                          p.app(),
                          p.version(),
                          p.revision().empty() ? "latest" : p.revision(),
                          p.canonical_service().empty() ? p.app() : p.canonical_service()};
}

const tr::PeerWorkloads* snapshotPeerWorkloads(const tr::Snapshot& snapshot) {
  for (const auto& l : snapshot.listeners) {
    if (l.peer_workloads) return l.peer_workloads.get();
  }
  return nullptr;
}

v1::Resources encodeResources(const tr::Snapshot& snapshot) {
  v1::Resources out;
  if (const tr::PeerWorkloads* table = snapshotPeerWorkloads(snapshot)) {
    for (const auto& w : *table) *out.add_peer_workloads() = encodePeerWorkload(w);
  }
  for (const auto& l : snapshot.listeners) {
    *out.add_listeners() = encodeListener(l);
    if (!l.routes) continue;
    for (const auto& vh : l.routes->virtual_hosts) {
      *out.add_virtual_hosts() = encodeVirtualHost(l.name, vh);
    }
  }
  std::vector<const tr::Cluster*> clusters;
  clusters.reserve(snapshot.clusters.size());
  for (const auto& [name, c] : snapshot.clusters) clusters.push_back(&c);
  std::sort(clusters.begin(), clusters.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const auto* c : clusters) *out.add_clusters() = encodeCluster(*c);
  return out;
}

void redactInlinePem(v1::Resources& resources) {
  auto redact = [](v1::PemSource* p) {
    if (!p->inline_pem().empty()) p->set_inline_pem("");
  };
  auto redactCertificate = [&](v1::TlsCertificate* c) {
    if (c->has_certificate_chain()) redact(c->mutable_certificate_chain());
    if (c->has_private_key()) redact(c->mutable_private_key());
  };
  for (auto& l : *resources.mutable_listeners()) {
    for (auto& t : *l.mutable_tls()) {
      for (auto& c : *t.mutable_certificates()) redactCertificate(&c);
      if (t.has_client_ca()) redact(t.mutable_client_ca());
      if (t.has_crl()) redact(t.mutable_crl());
    }
  }
  for (auto& c : *resources.mutable_clusters()) {
    if (!c.has_tls()) continue;
    auto* t = c.mutable_tls();
    if (t->has_ca()) redact(t->mutable_ca());
    if (t->has_client_certificate()) redactCertificate(t->mutable_client_certificate());
    if (t->has_crl()) redact(t->mutable_crl());
  }
}

Expected<tr::VirtualHost> decodeVirtualHost(const v1::VirtualHost& in) {
  const Context ctx("virtual host " + virtualHostKey(in.listener(), in.name()));
  tr::VirtualHost out;
  out.name = in.name();
  out.domains.assign(in.domains().begin(), in.domains().end());
  out.routes.reserve(in.routes_size());
  for (int i = 0; i < in.routes_size(); ++i) {
    auto r = decodeRoute(in.routes(i), ctx.at("route[" + std::to_string(i) + "]"));
    if (!r) return common::unexpected(r.error());
    out.routes.push_back(std::move(*r));
  }
  out.require_tls = in.require_tls();
  return out;
}

Expected<tr::Cluster> decodeCluster(const v1::Cluster& in) {
  const Context ctx("cluster " + in.name());
  tr::Cluster out;
  out.name = in.name();
  out.service_host = in.service_host();
  out.service_name = in.service_name();
  out.service_namespace = in.service_namespace();
  auto port = port16(in.port(), ctx, "port");
  if (!port) return common::unexpected(port.error());
  out.port = *port;
  out.subset = in.subset();
  switch (in.lb()) {
    case v1::Cluster::LEAST_REQUEST:
      out.lb = tr::LbPolicy::kLeastRequest;
      break;
    case v1::Cluster::ROUND_ROBIN:
      out.lb = tr::LbPolicy::kRoundRobin;
      break;
    case v1::Cluster::RANDOM:
      out.lb = tr::LbPolicy::kRandom;
      break;
    case v1::Cluster::PASSTHROUGH:
      out.lb = tr::LbPolicy::kPassthrough;
      break;
    default:
      return ctx.error("unknown load balancer " + std::to_string(in.lb()));
  }
  out.resolve_dns = in.resolve_dns();
  out.connect_timeout = tr::Millis(in.connect_timeout_ms());
  out.endpoints.reserve(in.endpoints_size());
  for (const auto& e : in.endpoints()) {
    tr::Endpoint ep;
    ep.address = e.address();
    auto p = port16(e.port(), ctx, ("endpoint " + e.address() + " port").c_str());
    if (!p) return common::unexpected(p.error());
    ep.port = *p;
    ep.weight = e.weight();
    ep.labels.insert(e.labels().begin(), e.labels().end());
    ep.workload = e.workload();
    ep.namespace_ = e.namespace_();
    ep.service_account = e.service_account();
    ep.mesh_mtls = e.mesh_mtls();
    ep.requires_mtls = e.requires_mtls();
    ep.locality = e.locality();
    tr::nameEndpoint(ep);
    out.endpoints.push_back(std::move(ep));
  }
  out.not_enforced.assign(in.not_enforced().begin(), in.not_enforced().end());
  decodeTrafficPolicy(in, out);
  if (in.has_tls()) {
    auto tls = decodeUpstreamTls(in.tls(), ctx.at("tls"));
    if (!tls) return common::unexpected(tls.error());
    out.tls = std::move(*tls);
  }
  out.auto_mtls = in.auto_mtls();
  out.tls_disabled_by = in.tls_disabled_by();
  out.http2 = in.http2();
  out.use_client_protocol = in.use_client_protocol();
  // Auto mTLS is Istio mutual TLS to some endpoints: without it, the proxy could only guess.
  if (out.auto_mtls && (!out.tls || out.tls->mode != tr::UpstreamTls::Mode::kIstioMutual)) {
    return ctx.error("uses auto mTLS without ISTIO_MUTUAL tls");
  }
  if (!out.tls_disabled_by.empty() && out.tls) {
    return ctx.error("has tls although " + out.tls_disabled_by + " disables it");
  }
  return out;
}

Expected<std::vector<tr::AuthzCondition>> decodeConditions(
    const google::protobuf::RepeatedPtrField<v1::AuthzCondition>& in, const Context& ctx) {
  std::vector<tr::AuthzCondition> out;
  for (const auto& c : in) {
    if (c.attribute() < 0 || c.attribute() > v1::AuthzCondition::SNI) {
      return ctx.error("unknown attribute " + std::to_string(c.attribute()));
    }
    tr::AuthzCondition o;
    o.attribute = static_cast<tr::AuthzAttribute>(c.attribute());
    o.key = c.key();
    o.negated = c.negated();
    for (const auto& m : c.values()) {
      if (m.kind() < 0 || m.kind() > v1::AuthzMatcher::CIDR) {
        return ctx.error("unknown matcher kind " + std::to_string(m.kind()));
      }
      const auto kind = static_cast<tr::AuthzMatcher::Kind>(m.kind());
      if (kind == tr::AuthzMatcher::Kind::kCidr &&
          ((m.value().size() != 4 && m.value().size() != 16) ||
           m.prefix_length() > m.value().size() * 8)) {
        return ctx.error("an IP block of " + std::to_string(m.value().size()) + " bytes /" +
                         std::to_string(m.prefix_length()));
      }
      o.values.push_back(
          tr::AuthzMatcher{kind, m.value(), static_cast<uint8_t>(m.prefix_length())});
    }
    out.push_back(std::move(o));
  }
  return out;
}

Expected<std::vector<tr::AuthzMatcher>> decodeMatchers(
    const google::protobuf::RepeatedPtrField<v1::AuthzMatcher>& in, const Context& ctx) {
  std::vector<tr::AuthzMatcher> out;
  for (const auto& m : in) {
    if (m.kind() < 0 || m.kind() > v1::AuthzMatcher::PRESENCE) {
      return ctx.error("header matcher kind " + std::to_string(m.kind()) +
                       " is not exact, prefix, suffix or presence");
    }
    out.push_back(tr::AuthzMatcher{static_cast<tr::AuthzMatcher::Kind>(m.kind()), m.value(), 0});
  }
  return out;
}

Expected<std::shared_ptr<const tr::AuthzExtProvider>> decodeExtProvider(
    const v1::AuthzExtProvider& in, const Context& ctx) {
  auto out = std::make_shared<tr::AuthzExtProvider>();
  out->name = in.name();
  out->protocol = in.protocol() == v1::AuthzExtProvider::GRPC
                      ? tr::AuthzExtProvider::Protocol::kGrpc
                      : tr::AuthzExtProvider::Protocol::kHttp;
  out->service = in.service();
  auto port = port16(in.port(), ctx, "ext_provider.port");
  if (!port) return common::unexpected(port.error());
  out->port = *port;
  out->cluster = in.cluster();
  out->timeout_ms = in.timeout_ms();
  out->path_prefix = in.path_prefix();
  out->fail_open = in.fail_open();
  if (in.status_on_error() < 100 || in.status_on_error() > 599) {
    return ctx.error("ext_provider status_on_error " + std::to_string(in.status_on_error()) +
                     " is not an HTTP status");
  }
  out->status_on_error = static_cast<uint16_t>(in.status_on_error());
  auto include = decodeMatchers(in.include_request_headers(), ctx);
  auto upstream = decodeMatchers(in.headers_to_upstream_on_allow(), ctx);
  auto down_allow = decodeMatchers(in.headers_to_downstream_on_allow(), ctx);
  auto down_deny = decodeMatchers(in.headers_to_downstream_on_deny(), ctx);
  if (!include) return common::unexpected(include.error());
  if (!upstream) return common::unexpected(upstream.error());
  if (!down_allow) return common::unexpected(down_allow.error());
  if (!down_deny) return common::unexpected(down_deny.error());
  out->include_request_headers = std::move(*include);
  out->headers_to_upstream_on_allow = std::move(*upstream);
  out->headers_to_downstream_on_allow = std::move(*down_allow);
  out->headers_to_downstream_on_deny = std::move(*down_deny);
  for (const auto& h : in.include_additional_headers()) {
    out->include_additional_headers.emplace_back(h.name(), h.value());
  }
  return std::shared_ptr<const tr::AuthzExtProvider>(std::move(out));
}

Expected<tr::AuthzPolicy> decodeAuthz(const v1::AuthzPolicy& in, const Context& ctx) {
  tr::AuthzPolicy out;
  out.name = in.name();
  if (in.action() < 0 || in.action() > v1::AuthzPolicy::CUSTOM) {
    return ctx.error("unknown action " + std::to_string(in.action()));
  }
  out.action = static_cast<tr::AuthzAction>(in.action());
  out.dry_run = in.dry_run();
  out.provider = in.provider();
  for (const auto& r : in.rules()) {
    tr::AuthzRule rule;
    for (const auto& f : r.from()) {
      auto c = decodeConditions(f.conditions(), ctx);
      if (!c) return common::unexpected(c.error());
      rule.from.push_back(std::move(*c));
    }
    for (const auto& t : r.to()) {
      auto c = decodeConditions(t.conditions(), ctx);
      if (!c) return common::unexpected(c.error());
      rule.to.push_back(std::move(*c));
    }
    auto when = decodeConditions(r.when(), ctx);
    if (!when) return common::unexpected(when.error());
    rule.when = std::move(*when);
    out.rules.push_back(std::move(rule));
  }
  if (in.has_ext_provider()) {
    auto p = decodeExtProvider(in.ext_provider(), ctx);
    if (!p) return common::unexpected(p.error());
    out.ext_provider = std::move(*p);
  }
  return out;
}

Expected<tr::Listener> decodeListener(const v1::Listener& in) {
  const Context ctx("listener " + in.name());
  tr::Listener out;
  out.name = in.name();
  out.bind_address = in.bind_address();
  auto port = port16(in.port(), ctx, "port");
  if (!port) return common::unexpected(port.error());
  if (*port == 0) return ctx.error("has no port");
  out.port = *port;
  out.protocol = in.protocol();
  switch (in.kind()) {
    case v1::Listener::GATEWAY:
      out.kind = tr::ListenerKind::kGateway;
      break;
    case v1::Listener::INBOUND:
      out.kind = tr::ListenerKind::kInbound;
      break;
    case v1::Listener::OUTBOUND_PROXY:
      out.kind = tr::ListenerKind::kOutboundProxy;
      break;
    case v1::Listener::OUTBOUND_PORT:
      out.kind = tr::ListenerKind::kOutboundPort;
      break;
    default:
      return ctx.error("unknown kind " + std::to_string(in.kind()));
  }
  for (int i = 0; i < in.tls_size(); ++i) {
    auto t = decodeServerTls(in.tls(i), ctx.at("tls[" + std::to_string(i) + "]"));
    if (!t) return common::unexpected(t.error());
    out.tls.push_back(std::move(*t));
  }
  if (in.has_mtls()) {
    switch (in.mtls().mode()) {
      case v1::InboundMtls::PERMISSIVE:
        out.mtls.mode = tr::PeerAuthMode::kPermissive;
        break;
      case v1::InboundMtls::STRICT:
        out.mtls.mode = tr::PeerAuthMode::kStrict;
        break;
      case v1::InboundMtls::DISABLE:
        out.mtls.mode = tr::PeerAuthMode::kDisable;
        break;
      default:
        return ctx.error("unknown mtls mode " + std::to_string(in.mtls().mode()));
    }
    out.mtls.origin = in.mtls().origin();
  }
  for (int i = 0; i < in.authz_size(); ++i) {
    auto p = decodeAuthz(in.authz(i), ctx.at("authz[" + std::to_string(i) + "]"));
    if (!p) return common::unexpected(p.error());
    out.authz.push_back(std::move(*p));
  }
  for (const auto& r : in.jwt_rules()) out.jwt_rules.push_back(decodeJwtRule(r));
  out.xff_trusted_hops = in.xff_trusted_hops();
  if (in.workload_port() > 65535)
    return ctx.error("workload_port " + std::to_string(in.workload_port()) + " is not a port");
  out.workload_port = static_cast<uint16_t>(in.workload_port());
  if (in.protocol_detection_timeout_ms() < 0) {
    return ctx.error("protocol_detection_timeout_ms " +
                     std::to_string(in.protocol_detection_timeout_ms()) +
                     " is negative; expected 0 (no timeout) or more");
  }
  out.protocol_detection_timeout = tr::Millis(in.protocol_detection_timeout_ms());
  out.use_remote_address = in.use_remote_address();
  switch (in.path_normalization()) {
    case 0:
      out.path_normalization = tr::PathNormalization::kBase;
      break;
    case 1:
      out.path_normalization = tr::PathNormalization::kNone;
      break;
    case 2:
      out.path_normalization = tr::PathNormalization::kMergeSlashes;
      break;
    case 3:
      out.path_normalization = tr::PathNormalization::kDecodeAndMergeSlashes;
      break;
    default:
      return ctx.error("unknown path normalization " + std::to_string(in.path_normalization()));
  }
  out.registry_only = in.registry_only();
  if (in.has_tracing()) out.tracing = decodeTracing(in.tracing());
  if (in.has_telemetry()) out.telemetry = decodeTelemetry(in.telemetry());
  for (int i = 0; i < in.tcp_routes_size(); ++i) {
    const v1::TcpRoute& r = in.tcp_routes(i);
    tr::TcpRoute route;
    for (const auto& m : r.matches()) {
      tr::TcpRouteMatch match;
      match.destination_subnets.assign(m.destination_subnets().begin(),
                                       m.destination_subnets().end());
      match.sni_hosts.assign(m.sni_hosts().begin(), m.sni_hosts().end());
      route.matches.push_back(std::move(match));
    }
    for (const auto& w : r.clusters()) {
      if (w.weight() == 0) continue;
      tr::WeightedCluster c;
      c.cluster = w.cluster();
      c.weight = w.weight();
      route.clusters.push_back(std::move(c));
      route.total_weight += w.weight();
    }
    if (route.clusters.empty()) {
      return ctx.error("tcp route[" + std::to_string(i) + "] (" + r.origin() +
                       ") forwards to no cluster; expected at least one with a weight");
    }
    route.origin = r.origin();
    route.hosts.assign(r.hosts().begin(), r.hosts().end());
    route.host_addresses.assign(r.host_addresses().begin(), r.host_addresses().end());
    out.tcp_routes.push_back(std::move(route));
  }
  if (in.peer_workloads_size() > 0) {
    auto table = std::make_shared<tr::PeerWorkloads>();
    for (const auto& p : in.peer_workloads()) table->push_back(decodePeerWorkload(p));
    // Looked up by binary search: a table out of order would miss peers silently.
    const auto key = [](const tr::PeerWorkload& w) {
      return std::pair<std::string_view, std::string_view>(w.namespace_, w.service_account);
    };
    for (size_t i = 1; i < table->size(); ++i) {
      if (!(key((*table)[i - 1]) < key((*table)[i]))) {
        return ctx.error("peer workload " + (*table)[i].namespace_ + "/" +
                         (*table)[i].service_account +
                         " is out of order or repeated; expected sorted by namespace and service "
                         "account, each once");
      }
    }
    out.peer_workloads = std::move(table);
  }
  // A sidecar's inbound HTTP listener in front of an app port of undeclared protocol has tcp
  // routes for what it sniffs as TLS.
  if (!out.tcp_routes.empty() && !out.isTcp() && out.kind != tr::ListenerKind::kInbound) {
    return ctx.error("has tcp routes but protocol " + out.protocol + "; expected TCP or TLS");
  }
  // Never plaintext on a listener meant for TLS, nor the reverse. A gateway TCP listener may
  // terminate TLS (Gateway protocol TLS, mode SIMPLE/MUTUAL) before proxying TCP.
  const bool may_terminate =
      out.protocol == "HTTPS" || (out.protocol == "TCP" && out.kind == tr::ListenerKind::kGateway);
  if ((out.protocol == "HTTPS" && out.tls.empty()) || (!out.tls.empty() && !may_terminate)) {
    return ctx.error(out.tls.empty() ? "is HTTPS but has no TLS server"
                                     : "has TLS servers but protocol " + out.protocol);
  }
  return out;
}

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
