#pragma once
// Administrative subcommands of chargegridd that work on the database directly
// (the server need not run):
//   chargegridd apikey create --role ROLE --name NAME [--site ID]... [--driver ID]
//   chargegridd apikey list
//   chargegridd apikey revoke ID
//   chargegridd database start|stop      the embedded cluster alone (prints its URL)
//   chargegridd pki check [FLAGS]        the Plug & Charge PKI's expiry dates and broken chains

namespace chargegrid::server {

// True when argv names an administrative subcommand.
bool is_admin_command(int argc, const char* const* argv);
// Runs it; returns the process exit code.
int run_admin_command(int argc, const char* const* argv);

}  // namespace chargegrid::server
