#pragma once
// The time-scaled Norway-week replay through the server (smart-charging-bench --norway-week):
// the offline replay's sessions (chargegrid-plan-eval's busiest week, its sites, limits and
// tariff) as scripted simulated stations against chargegridd on a replay timeline
// (--smart-charging-time-scale), scored as the offline replay scores. See docs/scheduler.md.

#include <string>

namespace chargegrid::bench {

struct NorwayWeekOptions {
  std::string data_file;  // the Norway residential sessions (tests/data/ev-sessions)
  int days = 7;
  int time_scale = 900;  // replay seconds per wall second; a divisor of the slot
  int slot_s = 900;      // a whole number of minutes
  int sites = 0;         // 0: every site of the week; N: the N with the most sessions
  int max_sessions = 0;  // 0: all; M: the M sessions of the chosen sites that leave first
  // Site-slots may exceed the limit by this share before they count in the --check.
  double check_tolerance = 0.05;
  double check_min_delivered = 0;  // --check: the least share of the hindsight optimum
  bool check = false;  // exit 1 unless every session is scored, no site-slot is over the limit
                       // beyond the tolerance and every profile starts on a replay slot boundary
  // Each session's need declared through the API as it starts (PATCH /sessions/{id}
  // energy_wh) instead of reported by its vehicle's charging needs.
  bool declare_energy = false;
  std::string result_file;
};

// Prints the text and JSON result; returns the process's exit code.
int run_norway_week(const NorwayWeekOptions& options);

}  // namespace chargegrid::bench
