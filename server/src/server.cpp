#include "chargegrid/server/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "api/api.hpp"
#include "api/router.hpp"
#include "chargegrid/base/prometheus.hpp"
#include "chargegrid/db/pool.hpp"
#include "cluster/cluster.hpp"
#include "cluster/event_relay.hpp"
#include "commands/command_router.hpp"
#include "connections/http_connection.hpp"
#include "connections/station_connection.hpp"
#include "events/outbox_wakeups.hpp"
#include "ledger_adapters/http_endpoints.hpp"
#include "ledger_adapters/service.hpp"
#include "logging.hpp"
#include "ocpp/common.hpp"
#include "ocpp/iso15118.hpp"
#include "openadr/ven.hpp"
#include "openadr/vtn.hpp"
#include "plug_and_charge/renewal.hpp"
#include "plug_and_charge/rollout_recovery.hpp"
#include "plug_and_charge/service.hpp"
#include "recurring_job.hpp"
#include "security/security.hpp"
#include "settlement/service.hpp"
#include "smart_charging/service.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

struct Server::Impl {
  Impl(Config c, std::string url)
      : config(std::move(c)),
        // No JIT: the server's statements are short, and compiling one that crosses the
        // planner's cost threshold (a replan reading a thousand sessions' profiles) took longer
        // than running it.
        pool(url, db::PoolOptions{.connections = config.db_connections,
                                  .queue_capacity = config.db_queue_capacity,
                                  .session_settings = {{"jit", "off"}}}),
        database(pool),
        meters(io, pool, metrics, config.meter_batch_rows, config.meter_batch_delay_ms),
        writers(io, pool, metrics, config.write_batch_items, config.write_batch_delay_ms),
        security(config, pool),
        pnc(config),
        cluster(config, url, pool, database, stations, writers, metrics),
        commands(config, io, database, stations, cluster, events),
        event_relay(io, pool, cluster.node_id()),
        outbox_wakeups(url),
        services{config,   database, meters,   writers, metrics, stations,
                 handlers, events,   security, cluster, commands},
        api(services),
        openadr_vtn(services),
        openadr_ven(config, url),
        ledger(config, url, io, metrics),
        smart_charging(config, io, pool, database, commands, events,
                       config.cluster ? cluster.node_id() : std::string()),
        ledger_http(database),
        settlements(io, pool, config),
        v2g_renewal(config, io, database, commands),
        rollout_recovery(config, io, pool, database, commands,
                         {cluster.node_id(), cluster.incarnation()}),
        ocpp_acceptor(io),
        ocpp_tls_acceptor(io),
        http_acceptor(io),
        signals(io),
        reload_signals(io) {
    cluster.on_registration = [this](const std::string& station, const std::string& registration) {
      ocpp::apply_registration(services, station, registration);
    };
    if (config.cluster) {
      // Live streams carry every node's events.
      events.forward = [this](Event&& event) { event_relay.push(std::move(event)); };
      cluster.on_event = [this](const nlohmann::json& message) {
        for (auto& event : EventRelay::events_of(message)) events.publish_remote(std::move(event));
      };
      cluster.streams_events = [this] { return events.subscribers() > 0; };
      metrics.add_gauge_source([this](std::string& out) {
        base::prometheus::Writer writer(out);
        writer.counter("chargegrid_cluster_events_relayed_total",
                       "Live events sent to the other nodes", event_relay.relayed());
        writer.counter("chargegrid_cluster_events_unwanted_total",
                       "Live events not sent: no other node streamed events",
                       event_relay.unwanted());
      });
    }
    ocpp::register_provisioning(handlers, services);
    ocpp::register_authorization(handlers, services);
    ocpp::register_availability(handlers, services);
    ocpp::register_transactions(handlers, services);
    ocpp::register_diagnostics(handlers, services);
    ocpp::register_security(handlers, services);
    ocpp::register_data_transfer(handlers, services);
    ocpp::register_smart_charging(handlers, services);
    ocpp::register_iso15118(handlers, services, pnc);  // after the handlers it extends
    register_gauges();
    if (config.smart_charging)
      metrics.add_gauge_source([this](std::string& out) { smart_charging.render_metrics(out); });
  }

  void register_gauges() {
    metrics.add_gauge_source([this](std::string& out) {
      namespace prometheus = base::prometheus;
      prometheus::Writer writer(out);
      writer.family("chargegrid_stations_connected", "Stations connected, by OCPP version",
                    prometheus::Type::kGauge);
      for (auto v :
           {protocols::OcppVersion::v16, protocols::OcppVersion::v201, protocols::OcppVersion::v21})
        writer.sample("chargegrid_stations_connected",
                      prometheus::labels({{"protocol", protocols::subprotocol(v)}}),
                      stations.connected(v));
      auto s = pool.stats();
      writer.family("chargegrid_db_pool_connections", "Database pool connections by state",
                    prometheus::Type::kGauge);
      writer.sample("chargegrid_db_pool_connections", R"(state="configured")", s.size);
      writer.sample("chargegrid_db_pool_connections", R"(state="connected")", s.connected);
      writer.sample("chargegrid_db_pool_connections", R"(state="busy")", s.busy);
      writer.gauge("chargegrid_db_pool_queued_jobs", "Database jobs waiting for a connection",
                   s.queued);
      writer.family("chargegrid_db_jobs_total", "Database jobs run, by result",
                    prometheus::Type::kCounter);
      writer.sample("chargegrid_db_jobs_total", R"(result="done")", s.jobs_total - s.jobs_failed);
      writer.sample("chargegrid_db_jobs_total", R"(result="failed")", s.jobs_failed);
      writer.counter("chargegrid_db_reconnects_total", "Database connections re-established",
                     s.reconnects);
    });
  }

  void listen(tcp::acceptor& acceptor, std::uint16_t port) {
    tcp::endpoint endpoint(asio::ip::make_address(config.bind_address), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    // Cluster mode: the nodes on one machine share the ports; the kernel spreads new
    // connections over them.
    if (config.cluster)
      acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  // Station connections on the ws (tls = false) or wss listener, within the connection limits.
  // Each wake-up takes what waits in the listen backlog, up to kAcceptBurst connections, not
  // one: in a boot storm the I/O threads are busy answering, an accept that waits its turn
  // behind their work each time lets the backlog fill, and the kernel then resets the
  // connections it cannot queue.
  asio::awaitable<void> accept_stations(tcp::acceptor& acceptor, bool tls) {
    constexpr int kAcceptBurst = 256;
    const char* listener = tls ? "ocpp_tls" : "ocpp";
    acceptor.non_blocking(true);  // the burst's accepts; async_accept waits as before
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io),
                                                         asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors and the like: wait a little instead of spinning.
        log::warn("accept_failed", {{"listener", listener}, {"error", ec.message()}});
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      admit_station(std::move(socket), tls, listener);
      for (int i = 1; i < kAcceptBurst; ++i) {
        boost::system::error_code burst_ec;
        auto next = acceptor.accept(asio::make_strand(io), burst_ec);
        if (burst_ec) break;  // the backlog is empty (would_block), or the next wait says why
        admit_station(std::move(next), tls, listener);
      }
    }
  }

  // A connection just accepted: refused over the connection limits, else served.
  template <class Socket>
  void admit_station(Socket socket, bool tls, const char* listener) {
    boost::system::error_code endpoint_ec;
    const auto remote = socket.remote_endpoint(endpoint_ec);
    if (endpoint_ec) return;  // already gone
    auto refusal = security::ConnectionLimits::Refusal::None;
    auto ticket = security.connections().admit(remote.address(), refusal);
    if (!ticket) {
      // Closed before a byte is read: the cheapest answer to a flood.
      const bool total = refusal == security::ConnectionLimits::Refusal::Total;
      metrics.count_connection(total ? "over_connection_limit" : "over_address_limit");
      std::size_t suppressed = 0;
      if (security.refusal_log().allow(total ? "connection_limit" : "address_limit", suppressed))
        log::warn("station_connection_limit_reached",
                  {{"listener", listener},
                   {"remote", remote.address().to_string()},
                   {"limit", total ? "max-connections" : "max-connections-per-address"},
                   {"open", security.connections().open()},
                   {"similar_since_last", suppressed}});
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    socket.set_option(tcp::no_delay(true));
    auto context = tls ? security.tls_context() : nullptr;
    std::make_shared<StationConnection>(std::move(socket), std::move(context), services,
                                        std::move(*ticket))
        ->start();
  }

  // SIGHUP: certificates, keys and CAs are read again; new connections use them.
  void wait_for_reload() {
    reload_signals.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      log::info("server_reloading", {{"signal", "SIGHUP"}});
      security.reload();
      wait_for_reload();
    });
  }

  asio::awaitable<void> accept_http() {
    for (;;) {
      auto strand = asio::make_strand(io);
      auto [ec, socket] =
          co_await http_acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        log::warn("accept_failed", {{"listener", "http"}, {"error", ec.message()}});
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto executor = socket.get_executor();
      // https with the station listener's certificate (reloaded with it) when asked for.
      auto tls = config.http_tls ? security.tls_context() : nullptr;
      asio::co_spawn(executor, serve_http(std::move(socket), router, streamer, 1024 * 1024, tls),
                     asio::detached);
    }
  }

  asio::awaitable<HttpResponse> route(const HttpRequest& request) {
    const auto target = std::string(request.target().substr(0, request.target().find('?')));
    if (target == "/healthz") {
      if (request.method() != http::verb::get)
        co_return problem(request, http::status::method_not_allowed, "Method not allowed",
                          "use GET");
      const bool ready = pool.healthy();
      nlohmann::json body{{"status", ready ? "ok" : "unavailable"},
                          {"database", ready ? "ready" : "unreachable"},
                          {"stations_connected", stations.all().size()}};
      co_return json_response(request, ready ? http::status::ok : http::status::service_unavailable,
                              body.dump());
    }
    if (target == "/metrics") {
      auto response = json_response(request, http::status::ok, metrics.render());
      response.set(http::field::content_type, base::prometheus::kContentType);
      co_return response;
    }
    if (ledger_adapters::LedgerHttp::handles(request)) {
      auto response = co_await ledger_http.respond(request);
      co_return response;
    }
    if (openadr::Vtn::handles(request)) {
      auto response = co_await openadr_vtn.respond(request);
      co_return response;
    }
    if (api.handles(request)) {
      auto response = co_await api.respond(request);
      co_return response;
    }
    co_return problem(request, http::status::not_found, "Not found", "no resource at " + target);
  }

  // Last-seen times go to the database in one statement every few seconds, to within a
  // minute: a station heard from continuously has its row written once a minute, and one
  // whose connection or boot just wrote it not again (a boot storm writes each row once).
  static constexpr int kLastSeenPeriodS = 5;
  static constexpr int kLastSeenPrecisionS = 60;
  asio::awaitable<void> flush_last_seen() {
    asio::steady_timer timer(io);
    for (;;) {
      timer.expires_after(std::chrono::seconds(kLastSeenPeriodS));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto seen = stations.take_seen();
      if (seen.empty()) continue;
      std::vector<std::string> seen_ids;
      seen_ids.reserve(seen.size());
      for (const auto& entry : seen) seen_ids.push_back(entry.first);
      pool.try_submit([ids = std::move(seen_ids)](pqxx::connection& c) {
        pqxx::work tx(c);
        store::stations::record_seen(tx, ids, kLastSeenPrecisionS);
        tx.commit();
      });
    }
  }

  // Replay-cache answers too old to be recalled go once a minute.
  asio::awaitable<void> forget_expired_answers() {
    asio::steady_timer timer(io);
    for (;;) {
      timer.expires_after(std::chrono::minutes(1));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      stations.forget_expired_answers(std::chrono::steady_clock::now());
    }
  }

  // Processed outbox events older than --outbox-keep-days go, a batch at a time, every hour
  // (each node prunes; concurrent deletes of a row are harmless).
  static constexpr std::size_t kOutboxPruneBatch = 5000;
  bool prune_outbox(pqxx::connection_base& c) {
    if (config.outbox_keep_days <= 0) return false;
    pqxx::work tx(c);
    const auto pruned = store::outbox::prune_done(
        tx, std::chrono::hours(24 * config.outbox_keep_days), kOutboxPruneBatch);
    tx.commit();
    if (pruned > 0) log::info("outbox_pruned", {{"events", pruned}});
    return pruned == kOutboxPruneBatch;
  }

  void write_ready_file() {
    if (config.ready_file.empty()) return;
    const auto tmp = config.ready_file + ".tmp";
    {
      std::ofstream out(tmp);
      nlohmann::json ports{{"ocpp_port", bound_ocpp_port}, {"http_port", bound_http_port}};
      if (config.tls) ports["ocpp_tls_port"] = bound_ocpp_tls_port;
      if (cluster.enabled()) ports["node_id"] = cluster.node_id();
      out << ports.dump();
    }
    std::rename(tmp.c_str(), config.ready_file.c_str());
  }

  Config config;
  EventBus events;  // outlives the io_context: streams unsubscribe as they end
  asio::io_context io;
  Metrics metrics;
  StationRegistry stations;
  HandlerRegistry handlers;
  db::ConnectionPool pool;
  Database database;
  MeterWriter meters;
  StateWriters writers;
  security::Security security;
  plug_and_charge::PlugAndCharge pnc;
  Cluster cluster;
  commands::CommandRouter commands;
  EventRelay event_relay;
  OutboxWakeups outbox_wakeups;
  Services services;
  api::Api api;
  openadr::Vtn openadr_vtn;
  openadr::Ven openadr_ven;
  ledger_adapters::LedgerService ledger;
  smart_charging::Service smart_charging;
  ledger_adapters::LedgerHttp ledger_http;
  settlement::SettlementService settlements;
  plug_and_charge::CertificateRenewal v2g_renewal;
  plug_and_charge::RolloutRecovery rollout_recovery;
  RecurringJob outbox_pruner{io, pool, std::chrono::hours(1),
                             [this](pqxx::connection_base& c) { return prune_outbox(c); }};
  tcp::acceptor ocpp_acceptor;
  tcp::acceptor ocpp_tls_acceptor;
  tcp::acceptor http_acceptor;
  asio::signal_set signals;
  asio::signal_set reload_signals;
  HttpRouter router = [this](const HttpRequest& r) { return route(r); };
  HttpStreamer streamer{
      [this](const HttpRequest& r) { return api.is_event_stream(r); },
      [this](boost::beast::tcp_stream& stream, const HttpRequest& r) {
        return api.stream_events(stream, r);
      },
      [this](HttpsStream& stream, const HttpRequest& r) { return api.stream_events(stream, r); }};
  std::vector<std::thread> threads;
  std::mutex state_mutex;
  std::condition_variable state_changed;
  bool started = false;
  bool stopped = false;
  bool finished = false;
  std::uint16_t bound_ocpp_port = 0;
  std::uint16_t bound_ocpp_tls_port = 0;
  std::uint16_t bound_http_port = 0;
};

Server::Server(Config config, std::string database_url)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(database_url))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  auto& s = *impl_;
  s.listen(s.ocpp_acceptor, s.config.ocpp_port);
  if (s.config.tls) s.listen(s.ocpp_tls_acceptor, s.config.ocpp_tls_port);
  s.listen(s.http_acceptor, s.config.http_port);
  s.bound_ocpp_port = s.ocpp_acceptor.local_endpoint().port();
  if (s.config.tls) s.bound_ocpp_tls_port = s.ocpp_tls_acceptor.local_endpoint().port();
  s.bound_http_port = s.http_acceptor.local_endpoint().port();
  // Registered before the first station connects: every lease names a node.
  s.cluster.start(s.bound_ocpp_port, s.bound_http_port);
  if (s.config.cluster) s.event_relay.start();
  s.outbox_wakeups.start();
  s.ledger.start();
  s.openadr_ven.start();
  s.smart_charging.start();
  s.settlements.start();
  s.v2g_renewal.start();
  s.rollout_recovery.start();  // after cluster.start(): a taker is a live node
  s.outbox_pruner.start();
  asio::co_spawn(s.io, s.accept_stations(s.ocpp_acceptor, false), asio::detached);
  if (s.config.tls)
    asio::co_spawn(s.io, s.accept_stations(s.ocpp_tls_acceptor, true), asio::detached);
  asio::co_spawn(s.io, s.accept_http(), asio::detached);
  asio::co_spawn(s.io, s.flush_last_seen(), asio::detached);
  asio::co_spawn(s.io, s.forget_expired_answers(), asio::detached);
  const int n = s.config.threads > 0
                    ? s.config.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.io.run(); });
  {
    std::lock_guard lock(s.state_mutex);
    s.started = true;
  }
  s.write_ready_file();
  log::info("server_started", {{"ocpp_port", ocpp_port()},
                               {"ocpp_tls_port", ocpp_tls_port()},
                               {"min_security_profile", s.config.min_security_profile},
                               {"http_port", http_port()},
                               {"threads", n},
                               {"db_connections", s.config.db_connections},
                               {"node", s.cluster.enabled() ? s.cluster.node_id() : ""}});
}

void Server::handle_signals() {
  auto& s = *impl_;
  s.signals.add(SIGINT);
  s.signals.add(SIGTERM);
  s.signals.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("server_stopping", {{"signal", signal}});
    std::thread([this] { stop(); }).detach();
  });
  s.reload_signals.add(SIGHUP);
  s.wait_for_reload();
}

std::vector<std::string> Server::reload_certificates() {
  return impl_->security.reload();
}

void Server::stop() {
  auto& s = *impl_;
  {
    std::lock_guard lock(s.state_mutex);
    if (s.stopped) return;
    s.stopped = true;
  }
  // Stop taking new connections, then say goodbye to the stations.
  asio::post(s.io, [&s] {
    boost::system::error_code ignored;
    s.ocpp_acceptor.close(ignored);
    s.ocpp_tls_acceptor.close(ignored);
    s.http_acceptor.close(ignored);
    s.signals.cancel(ignored);
    s.reload_signals.cancel(ignored);
  });
  for (auto& station : s.stations.all())
    station->close(boost::beast::websocket::close_code::going_away, "server shutting down");
  // Give in-flight messages a moment to finish, then write what waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  s.meters.flush();
  s.writers.flush();
  s.settlements.stop();
  s.v2g_renewal.stop();
  s.rollout_recovery.stop();
  s.outbox_pruner.stop();
  s.ledger.stop();
  s.openadr_ven.stop();
  s.smart_charging.stop();
  s.outbox_wakeups.stop();
  s.pool.stop(std::chrono::seconds(10));
  s.event_relay.stop();
  s.cluster.stop();  // gives back what the closed connections did not
  s.security.stop();
  s.pnc.stop();
  s.io.stop();
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
  log::info("server_stopped");
  std::lock_guard lock(s.state_mutex);
  s.finished = true;
  s.state_changed.notify_all();
}

void Server::wait() {
  auto& s = *impl_;
  std::unique_lock lock(s.state_mutex);
  s.state_changed.wait(lock, [&s] { return s.finished; });
}

std::uint16_t Server::ocpp_port() const {
  return impl_->bound_ocpp_port;
}
std::uint16_t Server::ocpp_tls_port() const {
  return impl_->bound_ocpp_tls_port;
}
std::uint16_t Server::http_port() const {
  return impl_->bound_http_port;
}

std::vector<ApiRoute> Server::api_routes() const {
  std::vector<ApiRoute> out;
  for (const auto& route : impl_->api.router().routes()) {
    ApiRoute r{std::string(http::to_string(route.method)), route.pattern, {}, route.body_schema};
    for (auto role : route.roles) r.roles.emplace_back(api::role_name(role));
    out.push_back(std::move(r));
  }
  return out;
}

bool Server::station_connected(const std::string& station_id) const {
  return impl_->stations.find(station_id) != nullptr;
}

commands::CommandRouter& Server::commands() {
  return impl_->commands;
}

}  // namespace chargegrid::server
