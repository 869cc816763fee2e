#pragma once
// The "kilowatt packets" of a session: the energy imported and exported (V2G) in each interval
// of --settlement-interval, from the meter's register readings. Intervals are aligned to the
// hour in the site's time zone; the first and last are cut at the session's start and end.
// Between readings the register is interpolated linearly; an interval with no reading in it
// (edges included) is `estimated`. A reading lower than an earlier one (a register going
// backwards) is left out and reported as an error: no packet is ever negative.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server::settlement {

struct RegisterReading {
  base::TimePoint time;
  double wh = 0;
};

struct Packet {
  base::TimePoint start;
  base::TimePoint end;
  std::int64_t imported_wh = 0;
  std::int64_t exported_wh = 0;
  bool estimated = false;
};

struct PacketInput {
  base::TimePoint start, end;                    // the session
  std::vector<RegisterReading> import, export_;  // any order, repeats allowed
  // Registers the session is settled from (signed readings, or the session's own start/stop
  // values); when set they pin the first and last boundary.
  std::optional<std::int64_t> import_start_wh, import_stop_wh;
  // The same for the export register (the signed export readings of a V2G session).
  std::optional<std::int64_t> export_start_wh, export_stop_wh;
  std::chrono::minutes interval{15};
  std::chrono::minutes utc_offset{0};  // the site's, at the session's start
};

struct Packets {
  std::vector<Packet> intervals;
  std::int64_t import_start_wh = 0, import_stop_wh = 0;
  std::int64_t export_start_wh = 0, export_stop_wh = 0;
  bool has_export = false;
  std::vector<std::string> errors;  // registers that went backwards, missing registers
};

Packets make_packets(const PacketInput& input);

// The interval boundaries from `start` to `end`: aligned to `interval` at `utc_offset`, first
// and last cut at start and end.
std::vector<base::TimePoint> boundaries(base::TimePoint start, base::TimePoint end,
                                        std::chrono::minutes interval,
                                        std::chrono::minutes utc_offset);

}  // namespace chargegrid::server::settlement
