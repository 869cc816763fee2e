#pragma once
// The storage limit: the meter rows a run stored, copied again by a trivial client with
// one COPY into a table of the same shape (same keys and indexes) on the same cluster.
// What it costs PostgreSQL and the client, and how fast it goes, is what any server that
// stores those rows could at best approach.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

namespace chargegrid::bench {

// Copies every row of `table` into a fresh table LIKE it (INCLUDING ALL), timed, then
// drops the copy. `postmaster` is sampled for the cluster's CPU time. Returns rows,
// seconds, rows_per_s, client_cpu_s, db_cpu_s.
nlohmann::json copy_limit(const std::string& database_url, const std::string& table,
                          pid_t postmaster);

}  // namespace chargegrid::bench
