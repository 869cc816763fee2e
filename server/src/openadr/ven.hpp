#pragma once
// VEN mode: ChargeGrid as a virtual end node of a utility's OpenADR 3.0.1 VTN. Every
// --openadr-poll-seconds it gets a token (OAuth 2 client credentials at URL/auth/token), reads
// the VTN's programs and events, and applies those that target its sites the way the built-in
// VTN does: changed events rewrite their demand-response windows, events gone from the VTN
// have theirs withdrawn, and each change appends "demand_response.changed". A VTN that cannot
// be reached changes nothing, so the events known leave their windows in force until they end.
// For events with reportDescriptors it posts each site's USAGE, DEMAND and BASELINE of every
// interval once the interval has ended (openadr/reports.hpp).

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "chargegrid/server/config.hpp"

namespace chargegrid::server::openadr {

class Ven {
 public:
  Ven(const Config& config, std::string database_url);
  ~Ven();
  Ven(const Ven&) = delete;
  Ven& operator=(const Ven&) = delete;

  // Starts polling when --openadr-vtn-url is set; does nothing otherwise.
  void start();
  void stop();

 private:
  void poll_loop();
  // Reads the VTN and applies what it says; false when the VTN could not be read.
  bool poll_once();
  // Every object of a list endpoint ("/programs"), page by page.
  nlohmann::json read_all(const std::string& path);
  std::string token();
  // Posts each site's report of the intervals that ended since the last post (URL/reports) for
  // the events that ask for one.
  void post_reports();

  const Config& config_;
  const std::string database_url_;
  std::optional<std::string> token_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace chargegrid::server::openadr
