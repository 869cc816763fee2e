#include "ledger_adapters/http_endpoints.hpp"

#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "chargegrid/ledger/merkle.hpp"
#include "chargegrid/ledger/tiles.hpp"
#include "store/database.hpp"
#include "store/ledger_adapters.hpp"
#include "store/ledger_log.hpp"

namespace chargegrid::server::ledger_adapters {

namespace http = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "/ledger/";
constexpr const char* kImmutable = "public, max-age=31536000, immutable";

// What an answer is made of, computed on a database thread.
struct Answer {
  http::status status = http::status::ok;
  std::string content_type;
  std::string body;
  std::string cache_control;
  std::string problem;  // the detail of an error answer
};

Answer error(http::status status, std::string detail) {
  Answer a;
  a.status = status;
  a.problem = std::move(detail);
  return a;
}

Answer data(std::string content_type, std::string body, std::string cache_control) {
  Answer a;
  a.content_type = std::move(content_type);
  a.body = std::move(body);
  a.cache_control = std::move(cache_control);
  return a;
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || text.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::map<std::string, std::string> query_of(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

// Runs a proof or root computation over the tree's stored nodes: a first pass learns which
// subtrees it reads, one statement fetches them, a second pass computes.
std::vector<ledger::Hash> with_nodes(
    store::Tx& tx,
    const std::function<std::vector<ledger::Hash>(const ledger::NodeReader&)>& make) {
  std::vector<store::ledger_log::NodeKey> keys;
  make([&](unsigned level, std::uint64_t index) {
    keys.emplace_back(level, index);
    return ledger::Hash{};
  });
  const auto nodes = store::ledger_log::nodes(tx, keys);
  return make([&](unsigned level, std::uint64_t index) { return nodes.at({level, index}); });
}

json hashes_json(const std::vector<ledger::Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(ledger::base64_encode(h));
  return out;
}

Answer tile(store::Tx& tx, const ledger::TileRef& ref) {
  const std::uint64_t size = store::ledger_log::size(tx);
  const unsigned merkle_level = ref.entries ? 0 : ledger::kTileHeight * ref.level;
  if (merkle_level >= 64) return error(http::status::not_found, "no such tile");
  const std::uint64_t available = size >> merkle_level;  // complete subtrees at that level
  const std::uint64_t begin = ref.index * ledger::kTileWidth;
  if (ref.index > (~std::uint64_t{0}) / ledger::kTileWidth || begin + ref.width > available)
    return error(http::status::not_found, "the log is not that large yet");
  if (ref.entries) {
    auto records = store::ledger_log::entries(tx, begin, begin + ref.width);
    if (records.size() != ref.width)
      return error(http::status::not_found, "the log is not that large yet");
    return data("application/octet-stream", ledger::encode_bundle(records), kImmutable);
  }
  auto hashes = store::ledger_log::level_range(tx, merkle_level, begin, begin + ref.width);
  if (hashes.size() != ref.width)
    return error(http::status::not_found, "the log is not that large yet");
  std::string body;
  body.reserve(32 * hashes.size());
  for (const auto& h : hashes) body.append(reinterpret_cast<const char*>(h.data()), h.size());
  return data("application/octet-stream", std::move(body), kImmutable);
}

Answer answer(store::Tx& tx, std::string_view path, const std::map<std::string, std::string>& query,
              bool wants_json, std::atomic<bool>& log_open) {
  if (!log_open) {
    if (!store::ledger_log::exists(tx))
      return error(http::status::service_unavailable, "the log is not open yet");
    log_open = true;
  }
  if (path == "checkpoint") {
    auto latest = store::ledger_log::latest_checkpoint(tx);
    if (!latest) return error(http::status::not_found, "no checkpoint has been published yet");
    return data("text/plain; charset=utf-8", latest->note, "public, max-age=2");
  }
  if (path == "verifier-key") {
    auto vkey = store::ledger_adapters::signer(tx);
    if (!vkey) return error(http::status::not_found, "the log has not been signed yet");
    if (wants_json)
      return data("application/json", json{{"verifier_key", *vkey}}.dump(), "public, max-age=60");
    return data("text/plain; charset=utf-8", *vkey + "\n", "public, max-age=60");
  }
  if (path.starts_with("tile/")) {
    auto ref = ledger::parse_tile_path(path.substr(5));
    if (!ref) return error(http::status::not_found, "not a tile path (c2sp.org/tlog-tiles)");
    return tile(tx, *ref);
  }
  if (path.starts_with("entries/")) {
    auto index = number(path.substr(8));
    if (!index) return error(http::status::not_found, "entries/{index}: index is a number");
    auto record = store::ledger_log::entry(tx, *index);
    if (!record) return error(http::status::not_found, "no entry at that index");
    return data("application/json", std::move(*record), kImmutable);
  }
  const auto size = store::ledger_log::size(tx);
  auto param = [&](const char* name) -> std::optional<std::uint64_t> {
    auto it = query.find(name);
    return it == query.end() ? std::nullopt : number(it->second);
  };
  if (path == "proof/inclusion") {
    auto index = param("index"), tree = param("size");
    if (!index || !tree)
      return error(http::status::bad_request, "give index and size as non-negative integers");
    if (*index >= *tree) return error(http::status::bad_request, "index must be below size");
    if (*tree > size)
      return error(http::status::not_found, "the log has " + std::to_string(size) +
                                                " entries, not " + std::to_string(*tree));
    auto hashes = with_nodes(tx, [&](const ledger::NodeReader& read) {
      return ledger::inclusion_proof(read, *index, *tree);
    });
    return data("application/json",
                json{{"index", *index}, {"size", *tree}, {"hashes", hashes_json(hashes)}}.dump(),
                kImmutable);
  }
  if (path == "proof/consistency") {
    auto old_size = param("old"), new_size = param("new");
    if (!old_size || !new_size)
      return error(http::status::bad_request, "give old and new as non-negative integers");
    if (*old_size == 0 || *old_size > *new_size)
      return error(http::status::bad_request, "sizes must satisfy 0 < old <= new");
    if (*new_size > size)
      return error(http::status::not_found, "the log has " + std::to_string(size) +
                                                " entries, not " + std::to_string(*new_size));
    auto hashes = with_nodes(tx, [&](const ledger::NodeReader& read) {
      return ledger::consistency_proof(read, *old_size, *new_size);
    });
    return data(
        "application/json",
        json{{"old_size", *old_size}, {"new_size", *new_size}, {"hashes", hashes_json(hashes)}}
            .dump(),
        kImmutable);
  }
  return error(http::status::not_found, "no ledger resource at /ledger/" + std::string(path));
}

}  // namespace

bool LedgerHttp::handles(const HttpRequest& request) {
  return request.target().starts_with(kPrefix);
}

awaitable<HttpResponse> LedgerHttp::respond(const HttpRequest& request) {
  if (request.method() != http::verb::get) {
    auto response = problem(request, http::status::method_not_allowed, "Method not allowed",
                            "the ledger is read with GET");
    response.set(http::field::allow, "GET");
    co_return response;
  }
  const std::string target(request.target());
  const auto question = target.find('?');
  const std::string path =
      target.substr(kPrefix.size(),
                    question == std::string::npos ? std::string::npos : question - kPrefix.size());
  const auto query = query_of(target);
  const bool wants_json =
      request[http::field::accept].find("application/json") != boost::beast::string_view::npos;
  Answer result;
  try {
    auto& log_open = log_open_;
    result = co_await database_.transaction([&path, &query, wants_json, &log_open](pqxx::work& tx) {
      tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      return answer(tx, path, query, wants_json, log_open);
    });
  } catch (const std::length_error& e) {
    result = error(http::status::internal_server_error, e.what());
  } catch (const std::out_of_range& e) {
    result = error(http::status::not_found, e.what());
  } catch (const std::exception& e) {
    result = error(http::status::service_unavailable, "the database did not answer");
  }
  if (!result.problem.empty()) {
    auto response = problem(request, result.status,
                            std::string(http::obsolete_reason(result.status)), result.problem);
    response.set(http::field::cache_control, "no-store");
    co_return response;
  }
  HttpResponse response{result.status, request.version()};
  response.set(http::field::server, "ChargeGrid");
  response.set(http::field::content_type, result.content_type);
  response.set(http::field::cache_control, result.cache_control);
  response.set(http::field::access_control_allow_origin, "*");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(result.body);
  response.prepare_payload();
  co_return response;
}

}  // namespace chargegrid::server::ledger_adapters
