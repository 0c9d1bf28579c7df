#include "proxy/runtime/responder.h"

#include "proxy/http/h1_writer.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace {

// A body we did not read can be skipped only if it is small and the client is sending it: a
// client waiting for "100 Continue" would never send it, and a large or chunked one is not worth
// reading just to throw away.
bool canDiscardBody(const Downstream& ds, const RequestState& rq) {
  if (!rq.head || rq.body.done()) return true;
  if (rq.head->expect_continue && !rq.sent_continue) return false;
  return rq.body.kind() == http::BodyKind::kContentLength &&
         rq.body.remaining() <= ds.worker.options().max_replay_body;
}

}  // namespace

net::awaitable<void> sendLocalReply(Downstream& ds, RequestState& rq, LocalReply reply) {
  if (!canDiscardBody(ds, rq)) rq.close = true;
  if (ds.worker.draining()) rq.close = true;
  reply.head_request = rq.head && rq.isHead();
  reply.close = rq.close;
  reply.http10_keep_alive = rq.head && rq.http10() && !rq.close;
  reply.date = ds.worker.date().now();
  if (!ds.worker.options().local_reply_reasons) {
    // The cause stays in the access log (rq.reason); the client learns only the status.
    reply.reason_header = false;
    if (reply.reason_body) reply.reason = http::reasonPhrase(reply.status);
  }
  ds.out.clear();
  ds.responseEncoder().localReply();
  appendLocalReply(ds.out, reply, ds.headers, ds.responseEncoder());
  rq.record.log.response_code = reply.status;
  co_await writeToClient(ds, rq, asio::buffer(ds.out));
}

net::awaitable<BodyRead> readRequestBody(Downstream& ds, RequestState& rq) {
  return rq.body.next(ds.transport, ds.in, ds.read_timer, ds.idleDeadline());
}

net::awaitable<bool> sendContinue(Downstream& ds, RequestState& rq) {
  ds.out.clear();
  ds.responseEncoder().beginHead(100, {}, ds.out);
  ds.responseEncoder().endHead(http::ResponseFraming{}, ds.out);
  // A named buffer, not a temporary: GCC 12 crashed here when the temporary was an argument of
  // the awaited call inside an if condition (a frame of writeAll was resumed after it ended).
  const asio::const_buffer bytes = asio::buffer(ds.out);
  const bool written = co_await writeToClient(ds, rq, bytes);
  rq.sent_continue = written;
  co_return written;
}

net::awaitable<void> sendFailure(Downstream& ds, RequestState& rq, const RequestFailure& failure) {
  rq.record.log.response_flags.set(failure.flag);
  rq.record.log.response_code_details = failure.details;
  co_await sendLocalReply(ds, rq, LocalReply{.status = failure.status, .reason = rq.reason});
}

net::awaitable<void> discardRequestBody(Downstream& ds, RequestState& rq) {
  if (rq.body.done()) co_return;
  if (rq.close || !canDiscardBody(ds, rq)) {
    rq.close = true;
    co_return;
  }
  while (!rq.body.done()) {
    const BodyRead r = co_await readRequestBody(ds, rq);
    if (r.error != BodyError::kNone) {
      rq.close = true;
      co_return;
    }
  }
}

}  // namespace halyard::proxy::runtime
