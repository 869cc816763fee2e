#include "chargegrid/base/prometheus.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

namespace prometheus = chargegrid::base::prometheus;

TEST_CASE("Prometheus label values are escaped", "[base][prometheus]") {
  CHECK(prometheus::escape_label_value(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(prometheus::escape_label_value("line\nbreak") == R"(line\nbreak)");
  CHECK(prometheus::labels({{"direction", "in"}, {"action", "Boot\"Notification"}}) ==
        R"(direction="in",action="Boot\"Notification")");
  CHECK(prometheus::labels({}).empty());
}

TEST_CASE("Prometheus values are written as Prometheus reads them", "[base][prometheus]") {
  CHECK(prometheus::format_value(std::uint64_t{18446744073709551615u}) == "18446744073709551615");
  CHECK(prometheus::format_value(0) == "0");
  CHECK(prometheus::format_value(2.5) == "2.5");
  CHECK(prometheus::format_value(1000.0) == "1000");
  CHECK(prometheus::format_value(0.0005) == "0.0005");
  CHECK(prometheus::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(prometheus::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(prometheus::format_value(std::nan("")) == "NaN");
}

TEST_CASE("Prometheus families render in the text format", "[base][prometheus]") {
  std::string out;
  prometheus::Writer writer(out);
  writer.family("chargegrid_ocpp_messages_total", "OCPP messages", prometheus::Type::kCounter)
      .sample("chargegrid_ocpp_messages_total", prometheus::labels({{"direction", "in"}}), 3)
      .sample("chargegrid_ocpp_messages_total", prometheus::labels({{"direction", "out"}}), 4);
  writer.gauge("chargegrid_ledger_checkpoint_age_seconds", "Age", 1.5);
  writer.counter("chargegrid_db_reconnects_total", "Reconnects", std::uint64_t{7});
  CHECK(out ==
        "# HELP chargegrid_ocpp_messages_total OCPP messages\n"
        "# TYPE chargegrid_ocpp_messages_total counter\n"
        "chargegrid_ocpp_messages_total{direction=\"in\"} 3\n"
        "chargegrid_ocpp_messages_total{direction=\"out\"} 4\n"
        "# HELP chargegrid_ledger_checkpoint_age_seconds Age\n"
        "# TYPE chargegrid_ledger_checkpoint_age_seconds gauge\n"
        "chargegrid_ledger_checkpoint_age_seconds 1.5\n"
        "# HELP chargegrid_db_reconnects_total Reconnects\n"
        "# TYPE chargegrid_db_reconnects_total counter\n"
        "chargegrid_db_reconnects_total 7\n");
}

TEST_CASE("Prometheus histograms have cumulative buckets, +Inf, sum and count",
          "[base][prometheus]") {
  const std::array<double, 3> bounds{0.001, 0.5, 10};
  const std::array<std::uint64_t, 4> counts{1, 2, 0, 3};
  std::string out;
  prometheus::Writer(out).histogram("x_seconds", "Latency", bounds, counts, 42.25, 6);
  CHECK(out ==
        "# HELP x_seconds Latency\n"
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{le=\"0.001\"} 1\n"
        "x_seconds_bucket{le=\"0.5\"} 3\n"
        "x_seconds_bucket{le=\"10\"} 3\n"
        "x_seconds_bucket{le=\"+Inf\"} 6\n"
        "x_seconds_sum 42.25\n"
        "x_seconds_count 6\n");
}
