#include "chargegrid/sim/fleet.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "station.hpp"

namespace chargegrid::sim {

namespace net = boost::asio;

Endpoint parse_url(const std::string& url) {
  Endpoint endpoint;
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    endpoint.tls = true;
    rest = url.substr(6);
  } else {
    throw std::invalid_argument("URL must start with ws:// or wss://: " + url);
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  endpoint.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!endpoint.path.empty() && endpoint.path.back() == '/') endpoint.path.pop_back();
  if (endpoint.path.find_first_of("?# ") != std::string::npos) {
    throw std::invalid_argument("URL path must not carry a query, fragment or space: " + url);
  }
  if (authority.find('@') != std::string::npos) {
    throw std::invalid_argument("put credentials in --password, not the URL");
  }
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("unterminated IPv6 host: " + url);
    endpoint.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument("bad authority in URL: " + url);
      endpoint.port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    endpoint.host = authority.substr(0, colon);
    if (colon != std::string::npos) endpoint.port = authority.substr(colon + 1);
  }
  if (endpoint.host.empty()) throw std::invalid_argument("URL has no host: " + url);
  if (!endpoint.port.empty()) {
    if (endpoint.port.find_first_not_of("0123456789") != std::string::npos ||
        endpoint.port.size() > 5 || std::stoi(endpoint.port) < 1 ||
        std::stoi(endpoint.port) > 65535) {
      throw std::invalid_argument("bad port in URL: " + url);
    }
  }
  return endpoint;
}

std::string station_id(const FleetOptions& options, int index) {
  char number[16];
  std::snprintf(number, sizeof number, "%04d", index);
  return options.id_prefix + number;
}

struct Fleet::Impl {
  explicit Impl(FleetOptions o) : options(std::move(o)), tls(net::ssl::context::tls_client) {}

  FleetOptions options;
  net::io_context io;
  net::ssl::context tls;
  std::vector<std::shared_ptr<detail::Station>> stations;
  std::mutex mutex;
  std::condition_variable changed;
  int finished = 0;
  bool stop_requested = false;
  FleetProbe probe;
};

Fleet::Fleet(FleetOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto& o = impl_->options;
  if (o.stations < 0) throw std::invalid_argument("stations must not be negative");
  if (o.threads < 1) o.threads = 1;
  if (o.station.iso15118.enabled) detail::Iso15118Credentials::load(o.station.iso15118);
  if (o.station.endpoint.tls) {
    if (o.station.verify_peer) {
      impl_->tls.set_verify_mode(net::ssl::verify_peer);
      if (o.station.ca_file.empty()) {
        impl_->tls.set_default_verify_paths();
      } else {
        impl_->tls.load_verify_file(o.station.ca_file);
      }
    } else {
      impl_->tls.set_verify_mode(net::ssl::verify_none);
    }
  }
}

Fleet::~Fleet() = default;

void Fleet::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = true;
  }
  impl_->changed.notify_all();
}

FleetProbe& Fleet::probe() {
  return impl_->probe;
}

Stats Fleet::run(std::optional<std::chrono::milliseconds> limit) {
  auto& impl = *impl_;
  const auto& o = impl.options;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < o.stations; ++i) {
    std::optional<net::ip::address> source;
    if (o.source_address_spread > 0) {
      const int host = 2 + i % o.source_address_spread;
      source = net::ip::make_address_v4("127.0.0." + std::to_string(std::min(host, 254)));
    }
    const auto delay = std::chrono::milliseconds(static_cast<long>(o.ramp_up_s * 1000.0 * i));
    StationOptions station = o.station;
    const auto id = station_id(o, o.first_index + i);
    if (auto script = o.scripts.find(o.first_index + i); script != o.scripts.end()) {
      station.script = script->second;
      station.id_tag += "-" + id;  // one driver per scripted station
    }
    impl.stations.push_back(std::make_shared<detail::Station>(
        net::make_strand(impl.io), id, station, &impl.tls, source, delay, &impl.probe, [&impl] {
          {
            std::lock_guard lock(impl.mutex);
            ++impl.finished;
          }
          impl.changed.notify_all();
        }));
  }
  for (auto& station : impl.stations) station->start();

  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) threads.emplace_back([&impl] { impl.io.run(); });

  {
    std::unique_lock lock(impl.mutex);
    const auto done = [&] { return impl.stop_requested || impl.finished >= o.stations; };
    if (limit) {
      impl.changed.wait_for(lock, *limit, done);
    } else {
      impl.changed.wait(lock, done);
    }
  }
  for (auto& station : impl.stations) station->stop();
  {
    // Stations end their sessions and close; give them a bounded time to do so.
    std::unique_lock lock(impl.mutex);
    const auto grace = std::chrono::seconds(10);
    if (!impl.changed.wait_for(lock, grace, [&] { return impl.finished >= o.stations; })) {
      impl.io.stop();
    }
  }
  for (auto& thread : threads) thread.join();

  Stats total;
  for (const auto& station : impl.stations) total.merge(station->stats());
  total.latency.merge(impl.probe.run_latency());
  total.stations = static_cast<std::uint64_t>(o.stations);
  total.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return total;
}

}  // namespace chargegrid::sim
