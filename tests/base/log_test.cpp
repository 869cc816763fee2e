#include "chargegrid/base/log.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

namespace log = chargegrid::base::log;

// Runs `write` with the default logger writing into a string, in `format`.
template <class F>
std::string captured(const std::string& format, F write) {
  std::ostringstream stream;
  auto previous = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream);
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  log::setup("info", format);
  write();
  spdlog::set_default_logger(previous);
  log::setup("info", "text");
  return stream.str();
}

}  // namespace

TEST_CASE("the logger writes key=value text", "[base][log]") {
  const auto line = captured("text", [] {
    log::info("db_pool_connect_failed",
              {{"worker", 2}, {"error", "no \"server\""}, {"durable", true}, {"empty", ""}});
    log::debug("hidden");
  });
  CHECK(line.find("level=info event=db_pool_connect_failed worker=2 "
                  "error=\"no \\\"server\\\"\" durable=true empty=\"\"") != std::string::npos);
  CHECK(line.find("hidden") == std::string::npos);
}

TEST_CASE("the logger writes one JSON object a line with --log-format json", "[base][log]") {
  const auto line = captured("json", [] {
    log::warn("embedded_postgres_start", {{"port", 5432}, {"data_dir", "/tmp/a b"}});
  });
  const auto object = nlohmann::json::parse(line);
  CHECK(object["level"] == "warning");
  CHECK(object["event"] == "embedded_postgres_start");
  CHECK(object["port"] == 5432);
  CHECK(object["data_dir"] == "/tmp/a b");
  CHECK(object["ts"].get<std::string>().ends_with("Z"));
}
