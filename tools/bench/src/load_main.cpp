// chargegrid-bench-load: one load-generator process of the benchmark. It runs its share
// of a workload's simulated stations (several fleets for the mixed day, one otherwise)
// and talks to the benchmark over standard input and output, one JSON object a line:
//
//   out {"event":"ready"}                    fleets built, waiting for "go"
//   in  go                                   stations start
//   out {"event":"progress", counters...}    every 100 ms
//   in  begin / out {"event":"begin", ...}   a measurement window opens
//   in  end   / out {"event":"end", ..., "latency": histogram}
//   in  stop (or end of input)               stations end their sessions and close
//   out {"event":"done", "stats": ..., "latency": histogram}   then it exits

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "chargegrid/tools/options.hpp"
#include "plan_options.hpp"
#include "workload.hpp"

namespace {

using namespace chargegrid;
using chargegrid::tools::option;
using Json = nlohmann::json;

std::mutex output_mutex;
void emit(const Json& line) {
  std::lock_guard lock(output_mutex);
  std::cout << line.dump() << '\n' << std::flush;
}

Json counters_of(const std::vector<std::unique_ptr<sim::Fleet>>& fleets) {
  sim::FleetProbe::Counters total;
  for (const auto& fleet : fleets) {
    const auto c = fleet->probe().counters();
    total.connected += c.connected;
    total.booted += c.booted;
    total.connects += c.connects;
    total.connect_failures += c.connect_failures;
    total.calls_sent += c.calls_sent;
    total.calls_answered += c.calls_answered;
    total.call_errors += c.call_errors;
    total.call_timeouts += c.call_timeouts;
    total.sessions_started += c.sessions_started;
    total.sessions_completed += c.sessions_completed;
  }
  return total.to_json();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chargegrid-bench-load: one load-generator process of chargegrid-bench"};
  bench::LoadPlan plan;
  std::string workload = "idle";
  std::string version = "1.6";
  std::string log_level = "warn";
  app.add_option("--url", plan.url, "CSMS endpoint (ws:// or wss://)")->required();
  option(app, "--workload", workload, "idle, boot-storm, metering, sessions, mixed",
         [](const std::string& w) {
           return bench::parse_workload(w) ? std::string() : "unknown workload " + w;
         });
  option(app, "--version", version, "OCPP version: 1.6 or 2.0.1", CLI::IsMember({"1.6", "2.0.1"}));
  app.add_option("--total-stations", plan.total_stations, "stations in the whole run")
      ->check(CLI::Range(1, 1000000))
      ->required();
  option(app, "--processes", plan.processes, "load processes sharing them", CLI::Range(1, 1000));
  option(app, "--process-index", plan.process_index, "this process, from 0",
         CLI::NonNegativeNumber);
  option(app, "--id-prefix", plan.id_prefix, "station id prefix");
  option(app, "--threads", plan.threads, "I/O threads per fleet", CLI::Range(1, 64));
  option(app, "--source-spread", plan.source_spread, "source addresses 127.0.0.2..(1+N)",
         CLI::Range(0, 253));
  bench::add_plan_options(app, plan);
  app.add_option("--ca-file", plan.ca_file, "CA bundle for wss://");
  app.add_flag("!--no-verify", plan.verify_peer, "do not verify the wss:// certificate");
  option(app, "--log-level", log_level, "simulator log level");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  plan.workload = *bench::parse_workload(workload);
  plan.version = *sim::parse_version(version);

  std::vector<std::unique_ptr<sim::Fleet>> fleets;
  try {
    for (auto& options : bench::fleets_for(plan)) {
      fleets.push_back(std::make_unique<sim::Fleet>(options));
    }
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-bench-load: " << e.what() << "\n";
    return 2;
  }
  emit({{"event", "ready"}, {"fleets", fleets.size()}});

  std::mutex mutex;
  std::condition_variable changed;
  bool go = false;
  bool stop = false;
  std::thread input([&] {
    for (std::string line; std::getline(std::cin, line);) {
      if (line == "go") {
        std::lock_guard lock(mutex);
        go = true;
        changed.notify_all();
      } else if (line == "begin") {
        for (auto& fleet : fleets) fleet->probe().begin_window();
        emit({{"event", "begin"}, {"counters", counters_of(fleets)}});
      } else if (line == "end") {
        sim::LatencyHistogram window;
        for (auto& fleet : fleets) window.merge(fleet->probe().end_window());
        emit({{"event", "end"},
              {"counters", counters_of(fleets)},
              {"latency", window.to_buckets_json()}});
      } else if (line == "stop") {
        break;
      }
    }
    std::lock_guard lock(mutex);
    go = true;
    stop = true;
    changed.notify_all();
  });
  input.detach();  // blocks on standard input; ends with the process

  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return go; });
    if (stop) {
      emit({{"event", "done"}, {"stats", sim::Stats{}.to_json()}});
      std::_Exit(0);
    }
  }

  std::vector<sim::Stats> results(fleets.size());
  std::atomic<std::size_t> running{fleets.size()};
  std::vector<std::thread> runners;
  for (std::size_t i = 0; i < fleets.size(); ++i) {
    runners.emplace_back([&, i] {
      results[i] = fleets[i]->run();
      --running;
      std::lock_guard lock(mutex);
      changed.notify_all();
    });
  }
  std::thread stopper([&] {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return stop || running == 0; });
    for (auto& fleet : fleets) fleet->stop();
  });
  const auto started = std::chrono::steady_clock::now();
  while (running > 0) {
    Json line{{"event", "progress"},
              {"t_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count()},
              {"counters", counters_of(fleets)}};
    emit(line);
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; });
  }
  for (auto& runner : runners) runner.join();
  {
    std::lock_guard lock(mutex);
    stop = true;
    changed.notify_all();
  }
  stopper.join();

  sim::Stats total;
  for (const auto& stats : results) total.merge(stats);
  emit({{"event", "done"},
        {"counters", counters_of(fleets)},
        {"stats", total.to_json()},
        {"latency", total.latency.to_buckets_json()}});
  std::cout.flush();
  // The input thread may still wait on standard input; leave without unwinding it.
  std::_Exit(0);
}
