#include "connections/station_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <pqxx/pqxx>

#include "chargegrid/base/percent.hpp"
#include "chargegrid/db/errors.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "cluster/cluster.hpp"
#include "events/domain_events.hpp"
#include "logging.hpp"
#include "security/security.hpp"
#include "store/stations.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using protocols::OcppVersion;
using protocols::RpcErrorCode;
using Kind = commands::Outcome::Kind;

namespace {

constexpr std::size_t kMaxStationIdLength = 48;  // OCPP 2.0.1 identity limit
constexpr std::string_view kPathPrefix = "/ocpp/";
// What an idle connection's pending read holds for the next frame (a Heartbeat fits).
constexpr std::size_t kIdleReadBytes = 128;

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::optional<std::string> station_id_from_target(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (!target.starts_with(kPathPrefix)) return std::nullopt;
  target.remove_prefix(kPathPrefix.size());
  if (target.empty() || target.find('/') != std::string_view::npos) return std::nullopt;
  auto id = base::percent_decode(target);
  if (!id || id->empty() || id->size() > kMaxStationIdLength) return std::nullopt;
  for (unsigned char c : *id)
    if (c < 0x21 || c > 0x7e || c == ':' || c == '/') return std::nullopt;
  return id;
}

std::optional<OcppVersion> negotiate_subprotocol(std::string_view offered) {
  while (!offered.empty()) {
    auto comma = offered.find(',');
    auto item = trim(offered.substr(0, comma));
    if (auto v = protocols::version_from_subprotocol(item)) return v;
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

StationConnection::StationConnection(asio::ip::tcp::socket socket,
                                     std::shared_ptr<asio::ssl::context> tls, Services& services,
                                     security::ConnectionLimits::Ticket ticket)
    : services_(services),
      ticket_(std::move(ticket)),
      ws_(tls ? StationStream(std::move(socket), std::move(tls))
              : StationStream(std::move(socket))),
      message_rate_(services.config.messages_per_second, services.config.message_burst,
                    security::Clock::now()),
      rate_strikes_(services.config.messages_per_second, services.config.message_burst,
                    security::Clock::now()),
      last_message_at_(security::Clock::now()),
      last_received_at_(last_message_at_),
      idle_timer_(ws_.get_executor()) {
  beast::error_code ec;
  auto endpoint = ws_.socket().remote_endpoint(ec);
  if (!ec) remote_ip_ = endpoint.address();
}

std::string StationConnection::remote_address() const {
  return remote_ip_.is_unspecified() ? std::string() : remote_ip_.to_string();
}

void StationConnection::start() {
  asio::co_spawn(ws_.get_executor(), run(), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("station_connection_failed",
                 {{"station", self->station_id_}, {"error", ex.what()}});
    }
  });
}

asio::awaitable<void> StationConnection::run() {
  if (!co_await handshake()) co_return;

  auto self = shared_from_this();
  if (auto previous = services_.stations.attach(station_id_, self)) {
    log::info("station_replaced", {{"station", station_id_}, {"remote", remote_address()}});
    services_.metrics.count_connection("replaced");
    previous->close(websocket::close_code::policy_error, "replaced by a newer connection");
  }
  services_.metrics.count_connection("connected");
  log::info("station_connected", {{"station", station_id_},
                                  {"protocol", std::string(protocols::subprotocol(version_))},
                                  {"security_profile", static_cast<int>(security_profile_)},
                                  {"tls", ws_.tls() ? "yes" : "no"},
                                  {"remote", remote_address()}});

  last_received_at_ = security::Clock::now();
  wait_idle();
  co_await load_registration();
  publish_connection_event(true);
  read_next();
}

void StationConnection::disconnected() {
  closing_ = true;
  idle_timer_.cancel();
  finish_pending_calls();
  services_.metrics.count_connection("disconnected");
  // Only the current connection marks the station offline (one forgotten because another
  // node took the station over is not current).
  if (auto lease_epoch = services_.stations.detach(station_id_, this)) {
    publish_connection_event(false);
    if (services_.cluster.enabled()) {
      services_.cluster.connection_ended(station_id_, *lease_epoch);
    } else {
      services_.database.pool().try_submit([id = station_id_](pqxx::connection& c) {
        pqxx::work tx(c);
        store::stations::end_connection(tx, id);
        tx.commit();
      });
    }
  }
}

void StationConnection::publish_connection_event(bool online) {
  const std::string protocol(protocols::subprotocol(version_));
  if (online)
    services_.events.publish(events::StationOnline{station_id_, protocol, remote_address()});
  else
    services_.events.publish(events::StationOffline{station_id_, protocol, remote_address()});
}

void StationConnection::refuse(http::status status, std::string reason, Decorate decorate) {
  log::warn("station_handshake_refused", {{"station", station_id_},
                                          {"remote", remote_address()},
                                          {"status", static_cast<int>(status)},
                                          {"reason", reason}});
  send_refusal(status, std::move(reason), std::move(decorate));
}

void StationConnection::send_refusal(http::status status, std::string reason, Decorate decorate) {
  services_.metrics.count_connection("refused");
  auto response = std::make_shared<http::response<http::string_body>>(status, 11);
  response->set(http::field::server, "ChargeGrid");
  response->set(http::field::content_type, "text/plain");
  response->set(http::field::connection, "close");
  if (decorate) decorate(*response);
  response->body() = std::move(reason) + "\n";
  response->prepare_payload();
  // A client that does not read its answer is not waited for.
  arm_deadline(std::chrono::seconds(services_.config.handshake_timeout_s));
  ws_.visit([&](auto& ws) {
    http::async_write(ws.next_layer(), *response,
                      [self = shared_from_this(), response](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->ws_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                      });
  });
}

asio::awaitable<bool> StationConnection::handshake() {
  const auto& config = services_.config;
  // One deadline for the TLS handshake and the whole upgrade request: a client that sends
  // half of either is dropped when it passes.
  arm_deadline(std::chrono::seconds(config.handshake_timeout_s));

  if (ws_.tls()) {
    auto& tls = ws_.tls_layer();
    tls.set_verify_callback(security::record_chain_check(chain_check_));
    auto tls_handshake =
        tls.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    auto [tls_ec] = co_await std::move(tls_handshake);
    if (deadline_passed_) tls_ec = beast::error::timeout;
    if (tls_ec) {
      services_.metrics.count_connection("tls_failed");
      std::size_t suppressed = 0;
      if (services_.security.refusal_log().allow("tls_failed", suppressed))
        log::info("station_tls_failed", {{"remote", remote_address()},
                                         {"error", tls_ec.message()},
                                         {"similar_since_last", suppressed}});
      co_return false;
    }
  }

  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(0);
  auto read = ws_.visit([&](auto& ws) {
    return http::async_read(ws.next_layer(), buffer_, parser, asio::as_tuple(asio::use_awaitable));
  });
  auto [ec, n] = co_await std::move(read);
  if (deadline_passed_) ec = beast::error::timeout;
  if (ec) {
    if (ec == beast::error::timeout) services_.metrics.count_connection("handshake_timeout");
    log::debug("station_handshake_failed", {{"remote", remote_address()}, {"error", ec.message()}});
    co_return false;
  }
  clear_deadline();
  // The request lives only as long as the handshake.
  auto upgrade = parser.release();

  auto id = station_id_from_target(upgrade.target());
  if (!id) {
    refuse(http::status::not_found,
           "expected ws://HOST:PORT/ocpp/{stationId} with a station id of 1 to 48 printable "
           "characters");
    co_return false;
  }
  station_id_ = *id;
  if (!websocket::is_upgrade(upgrade)) {
    refuse(http::status::upgrade_required, "this port serves OCPP WebSocket connections only");
    co_return false;
  }
  if (!co_await authenticate(upgrade)) co_return false;
  auto offered = upgrade[http::field::sec_websocket_protocol];
  auto version = negotiate_subprotocol(offered);
  if (!version) {
    refuse(http::status::bad_request,
           "no supported OCPP subprotocol offered (Sec-WebSocket-Protocol: \"" +
               std::string(offered) + "\"); supported: ocpp2.1, ocpp2.0.1, ocpp1.6");
    co_return false;
  }
  version_ = *version;

  auto accept = ws_.visit([&](auto& ws) {
    // Beast's timer covers the opening and closing handshakes only: the connection's idle
    // timer sends the keep-alive pings, so an open connection has one timer pending, not two.
    ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(config.handshake_timeout_s),
                                                  websocket::stream_base::none(), false});
    // A pong (or any control frame) shows the station is there.
    ws.control_callback([this](websocket::frame_type, beast::string_view) { heard_from(); });
    ws.read_message_max(config.max_frame_bytes);
    ws.set_option(websocket::stream_base::decorator(
        [proto = std::string(protocols::subprotocol(version_))](websocket::response_type& res) {
          res.set(http::field::server, "ChargeGrid");
          res.set(http::field::sec_websocket_protocol, proto);
        }));
    return ws.async_accept(upgrade, asio::as_tuple(asio::use_awaitable));
  });
  auto [accept_ec] = co_await std::move(accept);
  if (accept_ec) {
    log::warn(
        "station_handshake_failed",
        {{"station", station_id_}, {"remote", remote_address()}, {"error", accept_ec.message()}});
    co_return false;
  }
  ws_.visit([](auto& ws) { ws.text(true); });
  // What the upgrade request needed is given back; frames are read into a buffer of
  // their own size.
  buffer_.clear();
  buffer_.shrink_to_fit();
  co_return true;
}

asio::awaitable<bool> StationConnection::authenticate(
    const http::request<http::string_body>& upgrade) {
  auto& security = services_.security;
  const auto source = security::address_key(remote_ip_);
  if (const int wait = security.failures().blocked_for(source, security::Clock::now()); wait > 0) {
    services_.metrics.count_connection("auth_rate_limited");
    std::size_t suppressed = 0;
    if (security.refusal_log().allow("rate_limited", suppressed))
      log::warn("station_handshake_rate_limited", {{"station", station_id_},
                                                   {"remote", remote_address()},
                                                   {"retry_after_s", wait},
                                                   {"similar_since_last", suppressed}});
    send_refusal(
        http::status::too_many_requests,
        "too many failed attempts from this address; try again later",
        [wait](auto& response) { response.set(http::field::retry_after, std::to_string(wait)); });
    co_return false;
  }

  security::AuthRequest request;
  request.station_id = station_id_;
  request.tls = ws_.tls();
  if (request.tls)
    request.certificate = security::inspect_client_certificate(
        ws_.tls_layer().native_handle(), chain_check_, security.identity_field());
  request.authorization = security::parse_authorization(upgrade[http::field::authorization]);
  request.min_profile = services_.config.min_security_profile;
  bool unavailable = false;
  request.station = co_await load_station_security(unavailable);
  if (unavailable) {
    refuse(http::status::service_unavailable,
           "the station's credentials cannot be checked now; try again later",
           [](auto& response) { response.set(http::field::retry_after, "30"); });
    co_return false;
  }

  auto verdict = security::evaluate(request);
  if (verdict.kind == security::Verdict::Kind::CheckPassword) {
    auto check = security.passwords().check(station_id_, request.authorization.credentials.password,
                                            request.station->password_hash);
    const auto result = co_await std::move(check);
    if (result == security::PasswordCheck::Busy) {
      refuse(http::status::service_unavailable, "too many connections at once; try again later",
             [](auto& response) { response.set(http::field::retry_after, "5"); });
      co_return false;
    }
    verdict = security::password_verdict(verdict, result == security::PasswordCheck::Match);
  }
  if (verdict.kind != security::Verdict::Kind::Accept) {
    refuse_authentication(verdict);
    co_return false;
  }
  security_profile_ = static_cast<std::uint8_t>(verdict.profile);
  co_return true;
}

asio::awaitable<std::optional<security::StationSecurity>> StationConnection::load_station_security(
    bool& unavailable) {
  auto& security = services_.security;
  try {
    // Read with other stations' handshakes in one transaction.
    std::string id = station_id_;
    auto lookup = services_.writers.credentials.write(std::move(id));
    auto row = co_await std::move(lookup);
    if (row) security.remember_station(station_id_, *row);
    co_return row;
  } catch (const std::exception& e) {
    // The database is away: what this node last read still holds; anything else must wait.
    auto remembered = security.recall_station(station_id_);
    log::warn("station_security_unavailable", {{"station", station_id_},
                                               {"error", e.what()},
                                               {"from_memory", remembered ? "yes" : "no"}});
    if (!remembered) unavailable = true;
    co_return remembered;
  }
}

void StationConnection::refuse_authentication(const security::Verdict& verdict) {
  auto& security = services_.security;
  services_.metrics.count_connection("auth_failed");
  log::warn("station_authentication_failed", {{"station", station_id_},
                                              {"remote", remote_address()},
                                              {"tls", ws_.tls() ? "yes" : "no"},
                                              {"status", verdict.status},
                                              {"event", verdict.event},
                                              {"reason", verdict.reason}});
  const auto remote = remote_address();
  security.record_event(station_id_, verdict.event, verdict.reason, remote);
  if (security.failures().record_failure(security::address_key(remote_ip_),
                                         security::Clock::now())) {
    const auto limit = std::to_string(services_.config.auth_failures_per_minute);
    log::warn(
        "station_address_blocked",
        {{"station", station_id_}, {"remote", remote_address()}, {"failures_per_minute", limit}});
    security.record_event(station_id_, security::events::kRateLimited,
                          "more than " + limit + " failed handshakes a minute from " + remote +
                              "; further attempts get 429 for a while",
                          remote);
  }
  Decorate challenge = nullptr;
  if (verdict.status == 401)
    challenge = [](auto& response) {
      response.set(http::field::www_authenticate, "Basic realm=\"OCPP\", charset=\"UTF-8\"");
    };
  send_refusal(static_cast<http::status>(verdict.status), verdict.reason, std::move(challenge));
}

asio::awaitable<void> StationConnection::load_registration() {
  auto& cluster = services_.cluster;
  const bool leased = cluster.enabled();
  std::int64_t lease_epoch = 0;
  try {
    // With other stations' connections in one statement; in cluster mode it takes the
    // station's lease over.
    ConnectWrite write{station_id_, version_, leased ? cluster.node_id() : std::string()};
    const auto known = co_await services_.writers.connects.write(std::move(write));
    lease_epoch = known.lease_epoch;
    // An id with no row (not registered yet) leaves nothing behind here.
    if (known.found) services_.events.set_station_site(station_id_, known.site_id);
    const auto& registration = known.registration;
    registration_ = registration == "accepted"   ? Registration::Accepted
                    : registration == "pending"  ? Registration::Pending
                    : registration == "rejected" ? Registration::Rejected
                                                 : Registration::Unknown;
  } catch (const std::exception& e) {
    // The database is away: treat the station as known; anything that must be
    // stored will be refused by its handler until the database returns.
    registration_ = Registration::Accepted;
    log::warn("station_registration_unavailable", {{"station", station_id_}, {"error", e.what()}});
  }
  // Without a lease (no row yet, or the database away) BootNotification or the node's
  // periodic check takes it.
  if (leased) cluster.lease_taken(station_id_, lease_epoch, shared_from_this());
}

void StationConnection::read_next() {
  // An idle station waits with a buffer of kIdleReadBytes, not Beast's 1,536 bytes per read
  // (its own frame buffer is part of the stream already); a larger frame's buffer is given
  // back once it is handled.
  buffer_.clear();
  if (buffer_.capacity() > kIdleReadBytes) buffer_.shrink_to_fit();
  read_some(kIdleReadBytes);
}

void StationConnection::read_some(std::size_t limit) {
  // Into buffer_ as Beast's dynamic-buffer read would, but through its buffer-sequence
  // overload: one composed operation pending instead of two nested ones (an idle station's
  // read is its largest pending operation).
  ws_.visit([&](auto& ws) {
    const auto size = std::min(ws.read_size_hint(buffer_), limit);
    ws.async_read_some(buffer_.prepare(size),
                       [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                         self->buffer_.commit(bytes);
                         if (!ec) self->heard_from();
                         self->on_frame(ec);
                       });
  });
}

void StationConnection::on_frame(beast::error_code ec) {
  // The rest of the message, in pieces of the size its frames announce.
  if (!ec && !ws_.visit([](auto& ws) { return ws.is_message_done(); }))
    return read_some(services_.config.max_frame_bytes);
  if (ec) {
    if (ec == websocket::error::message_too_big)
      log::warn("station_frame_too_big",
                {{"station", station_id_}, {"limit", services_.config.max_frame_bytes}});
    else if (keepalive_timed_out_)
      log::info("station_disconnected",
                {{"station", station_id_}, {"reason", "no answer to the keep-alive ping"}});
    else if (ec != websocket::error::closed)
      log::info("station_disconnected", {{"station", station_id_}, {"reason", ec.message()}});
    else
      log::info("station_disconnected", {{"station", station_id_}, {"reason", "closed"}});
    disconnected();
    return;
  }
  last_message_at_ = last_received_at_;  // heard_from() ran as the read completed
  if (draining_) return read_next();
  services_.stations.touch(station_id_);
  auto text = beast::buffers_to_string(buffer_.data());
  // The requests stations send most are read straight into their structs; everything else,
  // and anything those readers do not accept, through the DOM (whose errors name the fault).
  std::optional<TypedFrame> typed;
  std::variant<protocols::RpcMessage, protocols::RpcParseError> parsed;
  if (auto typed_call = protocols::read_typed_call(text, version_)) {
    typed.emplace();
    typed->request = std::move(typed_call->request);
    typed->payload_begin = static_cast<std::size_t>(typed_call->payload_json.data() - text.data());
    typed->payload_size = typed_call->payload_json.size();
    parsed = protocols::RpcMessage{
        protocols::Call{std::move(typed_call->message_id), std::move(typed_call->action), {}}};
  } else {
    parsed = protocols::parse_rpc(text, version_);
  }
  if (!within_message_rate(parsed)) return read_next();

  if (auto* error = std::get_if<protocols::RpcParseError>(&parsed)) {
    services_.metrics.count_message("in", "", std::string(to_wire(error->code, version_)));
    log::warn("station_bad_frame", {{"station", station_id_},
                                    {"code", std::string(to_wire(error->code, version_))},
                                    {"error", error->description}});
    // A CALLERROR needs an id to answer to; "-1" when none could be read.
    nlohmann::json details = nlohmann::json::object();
    if (error->path) details["path"] = *error->path;
    send(protocols::make_call_error(error->message_id.empty() ? "-1" : error->message_id,
                                    error->code, version_, error->description, details));
    return read_next();
  }
  auto& message = std::get<protocols::RpcMessage>(parsed);
  if (!ws_.visit([](auto& ws) { return ws.got_text(); })) {
    send(protocols::make_call_error("-1", RpcErrorCode::RpcFrameworkError, version_,
                                    "OCPP-J messages are WebSocket text frames"));
    return read_next();
  }
  if (auto* call = std::get_if<protocols::Call>(&message)) {
    // A JSON string can only hold NUL escaped: no escape, no need to look for one.
    const bool may_hold_nul = text.find("\\u0000") != std::string::npos;
    const auto frame_hash = std::hash<std::string>{}(text);
    if (typed) typed->frame = std::move(text);
    // Only a CALL resumes a coroutine; the next frame is read once it is answered, so
    // CALLs are handled one at a time and answered in order.
    asio::co_spawn(ws_.get_executor(),
                   handle_call(std::move(*call), frame_hash, may_hold_nul, std::move(typed)),
                   [self = shared_from_this()](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         log::error("station_call_failed",
                                    {{"station", self->station_id_}, {"error", ex.what()}});
                       } catch (...) {  // never let a foreign exception end the process
                         log::error("station_call_failed",
                                    {{"station", self->station_id_}, {"error", "unknown"}});
                       }
                     }
                     self->read_next();
                   });
    return;
  } else if (auto* result = std::get_if<protocols::CallResult>(&message)) {
    handle_answer(result->message_id, {Kind::Answered, std::move(result->payload)});
  } else if (auto* err = std::get_if<protocols::CallError>(&message)) {
    handle_answer(err->message_id, {Kind::CallError,
                                    {{"errorCode", err->error_code},
                                     {"description", err->description},
                                     {"details", err->details}}});
  } else if (auto* rerr = std::get_if<protocols::CallResultError>(&message)) {
    handle_answer(rerr->message_id, {Kind::CallError,
                                     {{"errorCode", rerr->error_code},
                                      {"description", rerr->description},
                                      {"details", rerr->details}}});
  } else if (auto* sent = std::get_if<protocols::Send>(&message)) {
    // SEND (2.1) expects no answer; unknown or invalid ones are only logged.
    auto invalid =
        protocols::validate(version_, sent->action, protocols::Direction::Request, sent->payload);
    services_.metrics.count_message("in", sent->action, invalid ? "invalid" : "received");
    log::debug("station_send", {{"station", station_id_}, {"action", sent->action}});
  }
  read_next();
}

bool StationConnection::within_message_rate(
    const std::variant<protocols::RpcMessage, protocols::RpcParseError>& parsed) {
  // Answers to the server's own CALLs are bounded by pending_calls_per_station; everything
  // else the station sends counts.
  const auto* message = std::get_if<protocols::RpcMessage>(&parsed);
  if (message && (std::holds_alternative<protocols::CallResult>(*message) ||
                  std::holds_alternative<protocols::CallError>(*message) ||
                  std::holds_alternative<protocols::CallResultError>(*message)))
    return true;
  const auto now = security::Clock::now();
  if (message_rate_.take(now)) {
    rate_limited_ = false;
    return true;
  }
  const auto* call = message ? std::get_if<protocols::Call>(message) : nullptr;
  const auto& config = services_.config;
  services_.metrics.count_message("in", call ? call->action : "", "rate_limited");
  if (!rate_limited_)
    log::warn("station_message_rate_exceeded", {{"station", station_id_},
                                                {"messages_per_second", config.messages_per_second},
                                                {"burst", config.message_burst}});
  rate_limited_ = true;
  if (call) {
    const double retry = message_rate_.wait_seconds(now);
    send(protocols::make_call_error(
        call->message_id, RpcErrorCode::GenericError, version_,
        "message rate limit exceeded; send it again later",
        {{"retryAfterMs", static_cast<std::int64_t>(retry * 1000) + 1}}));
  }
  // A station that keeps sending at more than the rate after being told so has used up a
  // second burst of refusals: it is closed.
  if (!rate_strikes_.take(now)) {
    log::warn("station_closed_for_message_rate",
              {{"station", station_id_},
               {"messages_per_second", config.messages_per_second},
               {"burst", config.message_burst}});
    draining_ = true;
    close(websocket::close_code::policy_error, "message rate limit exceeded");
  }
  return false;
}

void StationConnection::arm_deadline(std::chrono::seconds after) {
  idle_timer_.expires_after(after);
  // Weak: the deadline does not keep a finished connection (and its socket) alive.
  idle_timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    // Cleared or moved later since it fired: not passed.
    if (!self || self->idle_timer_.expiry() > asio::steady_timer::clock_type::now()) return;
    self->deadline_passed_ = true;
    beast::error_code ignored;
    self->ws_.socket().close(ignored);
  });
}

void StationConnection::clear_deadline() {
  idle_timer_.expires_at(asio::steady_timer::time_point::max());
}

void StationConnection::heard_from() {
  last_received_at_ = security::Clock::now();
  ping_sent_ = false;
}

void StationConnection::wait_idle() {
  // The timer is re-armed only when it fires, for the earliest of: a ping after keepalive_s
  // of silence, the close once a ping has had keepalive_s more without an answer, and the
  // OCPP idle limit; frames only move the times it reads.
  const auto& config = services_.config;
  const std::chrono::seconds keepalive(config.keepalive_s);
  auto next = last_received_at_ + (ping_sent_ ? 2 * keepalive : keepalive);
  if (config.idle_timeout_s > 0)
    next = std::min(next, last_message_at_ + std::chrono::seconds(config.idle_timeout_s));
  idle_timer_.expires_at(next);
  idle_timer_.async_wait(
      [self = shared_from_this()](beast::error_code ec) { self->on_idle_timer(ec); });
}

void StationConnection::on_idle_timer(beast::error_code ec) {
  if (ec || closing_) return;
  const auto& config = services_.config;
  const auto now = security::Clock::now();
  if (config.idle_timeout_s > 0 &&
      now - last_message_at_ >= std::chrono::seconds(config.idle_timeout_s)) {
    log::info("station_idle",
              {{"station", station_id_}, {"idle_timeout_s", config.idle_timeout_s}});
    services_.metrics.count_connection("idle_closed");
    close(websocket::close_code::policy_error, "idle timeout");
    return;
  }
  const std::chrono::seconds keepalive(config.keepalive_s);
  const auto silent = now - last_received_at_;
  if (silent >= 2 * keepalive) {
    // No answer to the ping: the peer or the path is gone, and a close handshake would wait
    // for it too. The pending read ends with the socket.
    services_.metrics.count_connection("keepalive_closed");
    keepalive_timed_out_ = true;
    beast::error_code ignored;
    ws_.socket().close(ignored);
    return;
  }
  if (silent >= keepalive && !ping_sent_) {
    ping_sent_ = true;
    ws_.visit(
        [&](auto& ws) { ws.async_ping({}, [self = shared_from_this()](beast::error_code) {}); });
  }
  wait_idle();
}

asio::awaitable<void> StationConnection::handle_call(protocols::Call call, std::size_t frame_hash,
                                                     bool may_hold_nul,
                                                     std::optional<TypedFrame> typed) {
  const auto started = std::chrono::steady_clock::now();
  auto answer = [&](std::string frame, const std::string& outcome) {
    services_.metrics.count_message("in", call.action, outcome);
    services_.metrics.observe_handling(std::chrono::steady_clock::now() - started);
    send(std::move(frame));
  };
  auto fail = [&](RpcErrorCode code, std::string description,
                  nlohmann::json details = nlohmann::json::object()) {
    log::info("station_call_refused", {{"station", station_id_},
                                       {"action", call.action},
                                       {"code", std::string(to_wire(code, version_))},
                                       {"error", description}});
    answer(protocols::make_call_error(call.message_id, code, version_, description, details),
           std::string(to_wire(code, version_)));
  };

  if (auto replay =
          services_.stations.recall_answer(station_id_, call.message_id, call.action, frame_hash)) {
    // The same message again (a station resending after a reconnect): same answer, no new effect.
    log::debug("station_call_replayed",
               {{"station", station_id_}, {"action", call.action}, {"id", call.message_id}});
    answer(std::move(*replay), "replayed");
    co_return;
  }
  if (!protocols::is_known_action(version_, call.action)) {
    fail(RpcErrorCode::NotImplemented, "unknown action '" + call.action + "'");
    co_return;
  }
  if (!typed) {
    if (auto invalid = protocols::validate(version_, call.action, protocols::Direction::Request,
                                           call.payload)) {
      fail(invalid->code, invalid->path + ": " + invalid->message, {{"path", invalid->path}});
      co_return;
    }
  }
  if (may_hold_nul) {  // never a typed CALL: read_typed_call leaves those to the DOM
    if (auto invalid = protocols::find_nul_character(call.payload)) {
      fail(invalid->code, invalid->path + ": " + invalid->message, {{"path", invalid->path}});
      co_return;
    }
  }
  const Handler* handler = services_.handlers.find(version_, call.action);
  if (!handler) {
    fail(RpcErrorCode::NotSupported, "action '" + call.action + "' is not supported by this CSMS");
    co_return;
  }
  if (call.action != "BootNotification" && registration_ != Registration::Accepted) {
    fail(RpcErrorCode::SecurityError,
         "the station is not accepted: send BootNotification and wait for Accepted");
    co_return;
  }

  CallReply reply;
  CallContext context{
      station_id_, version_, call.action,
      typed ? ocpp::Payload(
                  typed->request,
                  std::string_view(typed->frame).substr(typed->payload_begin, typed->payload_size))
            : ocpp::Payload(call.payload),
      shared_from_this()};
  try {
    reply = co_await (*handler)(context);
  } catch (const std::exception& e) {
    // Never answer as if stored. Only a failure of the moment (the database away) may ask
    // the station to send it again; anything else would fail again on every resend.
    const auto kind = db::classify_failure(e);
    log::error("station_call_failed",
               {{"station", station_id_},
                {"action", call.action},
                {"transient", kind == db::FailureKind::Transient ? "yes" : "no"},
                {"error", e.what()}});
    if (kind == db::FailureKind::Transient)
      fail(RpcErrorCode::InternalError, "could not be stored now, send it again later");
    else if (kind == db::FailureKind::Data)
      fail(RpcErrorCode::PropertyConstraintViolation,
           "cannot be stored (" + db::failure_summary(e) + "); sending it again will not help");
    else
      fail(RpcErrorCode::InternalError,
           "could not be handled (" + db::failure_summary(e) + "); sending it again will not help");
    co_return;
  }
  if (reply.error) {
    fail(*reply.error, reply.description, std::move(reply.details));
    co_return;
  }
  if (auto invalid = protocols::validate(version_, call.action, protocols::Direction::Response,
                                         reply.payload)) {
    log::error("station_answer_invalid", {{"station", station_id_},
                                          {"action", call.action},
                                          {"path", invalid->path},
                                          {"error", invalid->message}});
    fail(RpcErrorCode::InternalError, "the CSMS could not form a valid answer");
    co_return;
  }
  auto frame =
      protocols::serialize(protocols::CallResult{call.message_id, std::move(reply.payload)});
  // Only accepted stations' answers are kept: an unknown or rejected id leaves nothing.
  // BootNotification and Heartbeat answers carry the current time and repeating them has
  // no effect that must not happen twice: they are always answered afresh.
  if (registration_ == Registration::Accepted && call.action != "BootNotification" &&
      call.action != "Heartbeat")
    services_.stations.remember_answer(station_id_, call.message_id, call.action, frame_hash,
                                       frame);
  answer(std::move(frame), "ok");
  if (reply.after_answer) reply.after_answer();
}

void StationConnection::call(std::string action, nlohmann::json payload,
                             std::function<void(commands::Outcome)> done) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), action = std::move(action),
                                  payload = std::move(payload), done = std::move(done)]() mutable {
    if (self->closing_) {
      done({Kind::Offline, nlohmann::json::object()});
      return;
    }
    if (self->pending_calls_.size() >= self->services_.config.pending_calls_per_station) {
      done({Kind::Refused, {{"description", "too many calls awaiting an answer"}}});
      return;
    }
    if (auto invalid =
            protocols::validate(self->version_, action, protocols::Direction::Request, payload)) {
      done({Kind::Invalid, {{"description", invalid->path + ": " + invalid->message}}});
      return;
    }
    auto id = "cg" + std::to_string(self->next_call_id_++);
    auto timer = std::make_unique<asio::steady_timer>(self->ws_.get_executor());
    timer->expires_after(std::chrono::seconds(self->services_.config.call_timeout_s));
    timer->async_wait([self, id](beast::error_code ec) {
      if (ec) return;
      auto it = self->pending_calls_.find(id);
      if (it == self->pending_calls_.end()) return;
      auto pending = std::move(it->second);
      self->pending_calls_.erase(it);
      self->services_.metrics.count_message("out", pending.action, "timeout");
      pending.done({Kind::Timeout, nlohmann::json::object()});
    });
    self->send(protocols::serialize(protocols::Call{id, action, std::move(payload)}));
    self->pending_calls_.emplace(id,
                                 PendingCall{std::move(action), std::move(timer), std::move(done)});
  });
}

void StationConnection::handle_answer(const std::string& message_id, commands::Outcome outcome) {
  auto it = pending_calls_.find(message_id);
  if (it == pending_calls_.end()) {
    log::warn("station_unexpected_answer", {{"station", station_id_}, {"id", message_id}});
    return;
  }
  auto pending = std::move(it->second);
  pending_calls_.erase(it);
  pending.timer->cancel();
  if (outcome.kind == Kind::Answered) {
    if (auto invalid = protocols::validate(version_, pending.action, protocols::Direction::Response,
                                           outcome.payload)) {
      outcome = {Kind::CallError,
                 {{"errorCode", std::string(to_wire(invalid->code, version_))},
                  {"description",
                   "the station's answer is invalid at " + invalid->path + ": " + invalid->message},
                  {"details", outcome.payload}}};
    }
  }
  services_.metrics.count_message("out", pending.action,
                                  outcome.kind == Kind::Answered ? "ok" : "error");
  pending.done(std::move(outcome));
}

void StationConnection::finish_pending_calls() {
  auto pending = std::move(pending_calls_);
  pending_calls_.clear();
  for (auto& [_, call] : pending) {
    call.timer->cancel();
    call.done({Kind::Offline, nlohmann::json::object()});
  }
}

void StationConnection::send(std::string frame) {
  if (closing_) return;
  if (write_in_flight_) {
    send_queue_.push_back(std::move(frame));
    return;
  }
  writing_ = std::move(frame);
  write_next();
}

void StationConnection::write_next() {
  write_in_flight_ = true;
  ws_.visit([&](auto& ws) {
    ws.async_write(
        asio::buffer(writing_),
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
  });
}

void StationConnection::on_written(beast::error_code ec) {
  write_in_flight_ = false;
  // An idle connection keeps no frame.
  std::string().swap(writing_);
  if (ec) {
    closing_ = true;
    send_queue_.clear();
    return;
  }
  if (close_after_write_) return send_close();
  if (closing_ || send_queue_.empty()) return;
  writing_ = std::move(send_queue_.front());
  send_queue_.erase(send_queue_.begin());
  write_next();
}

void StationConnection::close(websocket::close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    if (self->closing_) return;
    self->closing_ = true;  // a write in flight finishes; nothing more is sent
    self->send_queue_.clear();
    // Beast allows one writer at a time: a write in flight finishes first.
    self->close_after_write_ = std::make_unique<websocket::close_reason>(code, reason);
    if (!self->write_in_flight_) self->send_close();
  });
}

void StationConnection::send_close() {
  auto why = std::move(close_after_write_);
  ws_.visit(
      [&](auto& ws) { ws.async_close(*why, [self = shared_from_this()](beast::error_code) {}); });
}

}  // namespace chargegrid::server
