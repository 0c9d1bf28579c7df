#include "proxy/runtime/local_reply.h"

#include <charconv>

#include "proxy/http/h1_writer.h"
#include "proxy/router/header_ops.h"

namespace halyard::proxy::runtime {

void appendLocalReply(std::string& out, const LocalReply& reply,
                      std::vector<http::HeaderView>& scratch, http::ResponseEncoder& encoder) {
  // The reason body is the reason and a newline; built in place after the head.
  const std::string_view body = reply.reason_body ? reply.reason : reply.body;
  const size_t body_size = body.size() + (reply.reason_body && !body.empty() ? 1 : 0);
  const bool has_body_headers =
      body_size > 0 && reply.status >= 200 && reply.status != 204 && reply.status != 304;

  scratch.clear();
  if (has_body_headers) scratch.push_back({"content-type", reply.content_type});
  for (const auto& [name, value] : reply.headers) scratch.push_back({name, value});
  if (!reply.reason.empty() && reply.reason_header) {
    scratch.push_back({"x-halyard-reason", reply.reason});
  }

  encoder.beginHead(reply.status, {}, out);
  if (!reply.date.empty()) encoder.header("date", reply.date, out);
  router::applyHeaderOps(
      scratch, {reply.route_ops},
      [&](std::string_view name, std::string_view value) { encoder.header(name, value, out); });
  http::ResponseFraming framing{.close = reply.close, .http10_keep_alive = reply.http10_keep_alive};
  if (reply.status >= 200 && reply.status != 204) {
    framing.body = http::BodyKind::kContentLength;
    framing.content_length = has_body_headers ? body_size : 0;
  }
  encoder.endHead(framing, out);
  if (!has_body_headers || reply.head_request) return;
  out.append(body);
  if (reply.reason_body) out.push_back('\n');
}

}  // namespace halyard::proxy::runtime
