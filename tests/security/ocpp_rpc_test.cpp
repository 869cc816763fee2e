// Interop: the npm ocpp-rpc client (installed in tests/interop by scripts/test) connects to
// chargegridd over wss with HTTP Basic (profile 2) and with a client certificate (profile 3),
// and is refused with a wrong password.

#include <catch2/catch.hpp>
#include <cstdio>

#include "security_fixture.hpp"

using namespace chargegrid::testing;

namespace {

struct NodeRun {
  int exit_code = -1;
  nlohmann::json result;
};

// Runs ocpp_rpc_station.mjs with `arguments` and reads the JSON line it prints.
NodeRun run_station(const std::string& arguments) {
  const std::string modules = CHARGEGRID_INTEROP_DIR "/node_modules";
  REQUIRE(std::filesystem::exists(modules + "/ocpp-rpc"));  // scripts/test installs it
  const std::string command = std::string(CHARGEGRID_NODE) + " ocpp_rpc_station.mjs --modules " +
                              modules + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  NodeRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.result = nlohmann::json::parse(output, nullptr, false);
  INFO(output);
  REQUIRE(run.result.is_object());
  return run;
}

std::string url(ServerFixture& fixture) {
  return "wss://127.0.0.1:" + std::to_string(fixture.server().ocpp_tls_port()) + "/ocpp";
}

}  // namespace

TEST_CASE("ocpp-rpc connects over wss with HTTP Basic (profile 2)", "[security][interop]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "RPC-P2", 2, "ocpp-rpc-password-2");
  const auto base = "--url " + url(fixture) + " --id RPC-P2 --ca " + pki.file("ca.pem");

  auto ok = run_station(base + " --version 2.0.1 --password ocpp-rpc-password-2");
  CHECK(ok.exit_code == 0);
  CHECK(ok.result.at("protocol") == "ocpp2.0.1");
  CHECK(ok.result.at("boot") == "Accepted");

  auto refused = run_station(base + " --version 2.0.1 --password not-the-password-2");
  INFO(refused.result.dump());
  CHECK(refused.exit_code == 1);
  CHECK(refused.result.at("error") == "Unauthorized");  // the HTTP 401 reason
}

TEST_CASE("ocpp-rpc connects over wss with a client certificate (profile 3)",
          "[security][interop]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P3", 3);
  auto run = run_station("--url " + url(fixture) + " --id SEC-P3 --version 1.6 --ca " +
                         pki.file("ca.pem") + " --cert " + pki.file("p3.pem") + " --key " +
                         pki.file("p3.key"));
  CHECK(run.exit_code == 0);
  CHECK(run.result.at("protocol") == "ocpp1.6");
  CHECK(run.result.at("boot") == "Accepted");
}
