// chargegridd's command line for the ledger adapter tests that run it as a process of its own.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "chargegrid/testing/daemon.hpp"
#include "support.hpp"

namespace chargegrid::ledger_testing {

// A node with its files in `data_dir` keeping the log (its key in `dir`) and delivering it to
// the JSON Lines `file` and `receiver`; `more` adds the adapters and anything else.
inline std::vector<std::string> delivering_daemon_flags(const TempDir& dir,
                                                        const std::filesystem::path& data_dir,
                                                        const std::filesystem::path& file,
                                                        const WebhookReceiver& receiver,
                                                        const std::vector<std::string>& more) {
  auto args = testing::daemon_test_flags();
  const std::vector<std::string> ledger{"--ocpp-port",
                                        "0",
                                        "--http-port",
                                        "0",
                                        "--data-dir",
                                        data_dir.string(),
                                        "--ledger-key-file",
                                        (dir.path() / "log.key").string(),
                                        "--checkpoint-interval",
                                        "1",
                                        "--ledger-file",
                                        file.string(),
                                        "--webhook-url",
                                        receiver.url(),
                                        "--webhook-secret",
                                        kWebhookSecret};
  args.insert(args.end(), ledger.begin(), ledger.end());
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace chargegrid::ledger_testing
