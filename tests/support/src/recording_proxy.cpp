#include "chargegrid/testing/recording_proxy.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace chargegrid::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;

namespace {

using Socket = websocket::stream<beast::tcp_stream>;

// One station's connection: its side (down) and the CSMS's side (up).
struct Link {
  explicit Link(tcp::socket socket) : down(std::move(socket)), up(down.get_executor()) {}
  // Both sides at once, without a close handshake; pending reads and writes end.
  void drop() {
    beast::get_lowest_layer(down).close();
    beast::get_lowest_layer(up).close();
  }
  Socket down;
  Socket up;
  std::string station_id;
  std::uint16_t upstream_port = 0;
  bool open = false;                     // both sides connected, frames flowing
  std::optional<std::size_t> abandoned;  // its index in Impl::abandoned_links
};

std::string station_of(std::string_view target) {
  target = target.substr(0, target.find('?'));
  const auto slash = target.rfind('/');
  return std::string(slash == std::string_view::npos ? target : target.substr(slash + 1));
}

}  // namespace

struct RecordingProxy::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::uint16_t port = 0;
  std::mt19937 random{std::random_device{}()};
  std::vector<std::weak_ptr<Link>> links;  // io thread only

  mutable std::mutex upstream_mutex;
  std::vector<std::uint16_t> upstreams;
  std::vector<AbandonedLink> abandoned_links;  // guarded by `mutex`

  mutable std::mutex mutex;
  std::vector<Exchange> exchanges;
  std::map<std::pair<std::string, std::string>, std::size_t> unanswered;  // (station, id)

  void record(const std::string& station, bool from_station, const std::string& text) {
    const auto frame = json::parse(text, nullptr, false);
    if (!frame.is_array() || frame.size() < 3 || !frame[0].is_number_integer() ||
        !frame[1].is_string())
      return;
    const int type = frame[0].get<int>();
    const auto id = frame[1].get<std::string>();
    const auto now = Clock::now();
    std::lock_guard lock(mutex);
    if (from_station && type == 2 && frame.size() == 4 && frame[2].is_string()) {
      Exchange exchange;
      exchange.station_id = station;
      exchange.message_id = id;
      exchange.action = frame[2].get<std::string>();
      exchange.payload = frame[3];
      exchange.sent = now;
      unanswered[{station, id}] = exchanges.size();
      exchanges.push_back(std::move(exchange));
      return;
    }
    if (from_station || (type != 3 && type != 4)) return;  // answers to the CSMS's own CALLs
    const auto it = unanswered.find({station, id});
    if (it == unanswered.end()) return;
    auto& exchange = exchanges[it->second];
    unanswered.erase(it);
    exchange.answered = now;
    if (type == 3) {
      exchange.answer = Exchange::Answer::Result;
      exchange.result = frame[2];
    } else {
      exchange.answer = Exchange::Answer::Error;
      exchange.error_code = frame[2].is_string() ? frame[2].get<std::string>() : "";
    }
  }

  // Copies frames from one side to the other until either side ends, then drops both. A
  // link whose station side was cut (abandoned) keeps its CSMS side open, reading and
  // discarding, until the CSMS closes it.
  asio::awaitable<void> pump(std::shared_ptr<Link> link, bool from_station) {
    Socket& from = from_station ? link->down : link->up;
    Socket& to = from_station ? link->up : link->down;
    beast::flat_buffer buffer;
    for (;;) {
      auto [read_ec, read_n] =
          co_await from.async_read(buffer, asio::as_tuple(asio::use_awaitable));
      if (read_ec) break;
      const std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (link->abandoned) continue;
      record(link->station_id, from_station, text);
      to.text(from.got_text());
      auto [write_ec, write_n] =
          co_await to.async_write(asio::buffer(text), asio::as_tuple(asio::use_awaitable));
      if (write_ec) break;
    }
    if (link->abandoned) {
      if (from_station) co_return;  // the cut side: the CSMS side stays open
      std::lock_guard lock(mutex);
      abandoned_links[*link->abandoned].closed_at = Clock::now();
    }
    link->open = false;
    link->drop();
  }

  // The upstreams to try for a new connection, in random order.
  std::vector<std::uint16_t> upstream_order() {
    std::vector<std::uint16_t> ports;
    {
      std::lock_guard lock(upstream_mutex);
      ports = upstreams;
    }
    std::shuffle(ports.begin(), ports.end(), random);
    return ports;
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto link = std::make_shared<Link>(std::move(socket));
    beast::flat_buffer buffer;
    http::request<http::empty_body> upgrade;
    auto [read_ec, read_n] = co_await http::async_read(
        beast::get_lowest_layer(link->down), buffer, upgrade, asio::as_tuple(asio::use_awaitable));
    if (read_ec || !websocket::is_upgrade(upgrade)) {
      link->drop();
      co_return;
    }
    link->station_id = station_of(upgrade.target());
    // The CSMS is away (no port, or none accepts): refuse, as a dead server would.
    bool connected = false;
    for (const auto candidate : upstream_order()) {
      const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), candidate);
      beast::get_lowest_layer(link->up).expires_after(std::chrono::seconds(10));
      auto [connect_ec] = co_await beast::get_lowest_layer(link->up).async_connect(
          endpoint, asio::as_tuple(asio::use_awaitable));
      if (!connect_ec) {
        link->upstream_port = candidate;
        connected = true;
        break;
      }
      beast::get_lowest_layer(link->up).close();
    }
    if (!connected) {
      link->drop();
      co_return;
    }
    const std::uint16_t port_now = link->upstream_port;
    const std::string offered(upgrade[http::field::sec_websocket_protocol]);
    link->up.set_option(websocket::stream_base::decorator([offered](websocket::request_type& r) {
      if (!offered.empty()) r.set(http::field::sec_websocket_protocol, offered);
    }));
    const std::string host = "127.0.0.1:" + std::to_string(port_now);
    const std::string target(upgrade.target());
    websocket::response_type response;
    auto [handshake_ec] = co_await link->up.async_handshake(response, host, target,
                                                            asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) {
      link->drop();
      co_return;
    }
    beast::get_lowest_layer(link->up).expires_never();
    const std::string chosen(response[http::field::sec_websocket_protocol]);
    link->down.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& r) {
      if (!chosen.empty()) r.set(http::field::sec_websocket_protocol, chosen);
    }));
    link->down.read_message_max(1 << 20);
    link->up.read_message_max(1 << 20);
    auto [accept_ec] =
        co_await link->down.async_accept(upgrade, asio::as_tuple(asio::use_awaitable));
    if (accept_ec) {
      link->drop();
      co_return;
    }
    link->open = true;
    links.erase(std::remove_if(links.begin(), links.end(),
                               [](const std::weak_ptr<Link>& l) { return l.expired(); }),
                links.end());
    links.push_back(link);
    asio::co_spawn(io, pump(link, true), asio::detached);
    asio::co_spawn(io, pump(link, false), asio::detached);
  }

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }
};

RecordingProxy::RecordingProxy(std::uint16_t upstream_port) : impl_(std::make_unique<Impl>()) {
  auto& impl = *impl_;
  if (upstream_port != 0) impl.upstreams = {upstream_port};
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  impl.acceptor.open(endpoint.protocol());
  impl.acceptor.set_option(asio::socket_base::reuse_address(true));
  impl.acceptor.bind(endpoint);
  impl.acceptor.listen(asio::socket_base::max_listen_connections);
  impl.port = impl.acceptor.local_endpoint().port();
  asio::co_spawn(impl.io, impl.accept(), asio::detached);
  impl.thread = std::thread([&impl] { impl.io.run(); });
}

RecordingProxy::~RecordingProxy() {
  // Suspended connections are destroyed with the io_context, the last member to go.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void RecordingProxy::set_upstream_port(std::uint16_t port) {
  set_upstream_ports(port == 0 ? std::vector<std::uint16_t>{} : std::vector<std::uint16_t>{port});
}

void RecordingProxy::set_upstream_ports(std::vector<std::uint16_t> ports) {
  std::lock_guard lock(impl_->upstream_mutex);
  impl_->upstreams = std::move(ports);
}

std::size_t RecordingProxy::abandon_links(std::size_t n) {
  auto& impl = *impl_;
  std::promise<std::size_t> done;
  auto cut = done.get_future();
  asio::post(impl.io, [&impl, n, &done] {
    std::vector<std::shared_ptr<Link>> candidates;
    for (const auto& weak : impl.links)
      if (auto link = weak.lock(); link && link->open && !link->abandoned)
        candidates.push_back(std::move(link));
    std::shuffle(candidates.begin(), candidates.end(), impl.random);
    if (candidates.size() > n) candidates.resize(n);
    for (auto& link : candidates) {
      {
        std::lock_guard lock(impl.mutex);
        link->abandoned = impl.abandoned_links.size();
        impl.abandoned_links.push_back({link->station_id, link->upstream_port, Clock::now(), {}});
      }
      beast::get_lowest_layer(link->down).close();
    }
    done.set_value(candidates.size());
  });
  return cut.get();
}

std::vector<AbandonedLink> RecordingProxy::abandoned() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->abandoned_links;
}

std::map<std::uint16_t, std::size_t> RecordingProxy::open_links() const {
  auto& impl = *impl_;
  std::promise<std::map<std::uint16_t, std::size_t>> done;
  auto counted = done.get_future();
  asio::post(impl.io, [&impl, &done] {
    std::map<std::uint16_t, std::size_t> open;
    for (const auto& weak : impl.links)
      if (auto link = weak.lock(); link && link->open && !link->abandoned)
        ++open[link->upstream_port];
    done.set_value(std::move(open));
  });
  return counted.get();
}

std::string RecordingProxy::url() const {
  return "ws://127.0.0.1:" + std::to_string(impl_->port) + "/ocpp";
}

std::vector<Exchange> RecordingProxy::exchanges() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->exchanges;
}

}  // namespace chargegrid::testing
