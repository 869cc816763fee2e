#include "copy_limit.hpp"

#include <libpq-fe.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

#include "proc_stats.hpp"

namespace chargegrid::bench {

namespace {
double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
// COPY FROM STDIN with libpq itself, the way any bulk loader sends rows: text lines in
// large chunks, one transaction.
void copy_in(const std::string& database_url, const std::string& table,
             const std::vector<std::string>& lines) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(database_url.c_str()),
                                                          &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("COPY limit: ") + PQerrorMessage(connection.get()));
  }
  const auto check = [&](PGresult* result, ExecStatusType expected) {
    const bool ok = PQresultStatus(result) == expected;
    PQclear(result);
    if (!ok)
      throw std::runtime_error(std::string("COPY limit: ") + PQerrorMessage(connection.get()));
  };
  check(PQexec(connection.get(), "BEGIN"), PGRES_COMMAND_OK);
  const std::string copy = "COPY \"" + table + "\" FROM STDIN";
  check(PQexec(connection.get(), copy.c_str()), PGRES_COPY_IN);
  std::string chunk;
  const auto send = [&] {
    if (PQputCopyData(connection.get(), chunk.data(), static_cast<int>(chunk.size())) != 1) {
      throw std::runtime_error(std::string("COPY limit: ") + PQerrorMessage(connection.get()));
    }
    chunk.clear();
  };
  for (const auto& line : lines) {
    chunk += line;
    if (line.empty() || line.back() != '\n') chunk += '\n';
    if (chunk.size() >= 256 * 1024) send();
  }
  if (!chunk.empty()) send();
  if (PQputCopyEnd(connection.get(), nullptr) != 1) {
    throw std::runtime_error(std::string("COPY limit: ") + PQerrorMessage(connection.get()));
  }
  check(PQgetResult(connection.get()), PGRES_COMMAND_OK);
  while (PGresult* rest = PQgetResult(connection.get())) PQclear(rest);
  check(PQexec(connection.get(), "COMMIT"), PGRES_COMMAND_OK);
}

}  // namespace

nlohmann::json copy_limit(const std::string& database_url, const std::string& table,
                          pid_t postmaster) {
  pqxx::connection connection(database_url);
  const std::string copy = table + "_copy_limit";
  {
    pqxx::work work(connection);
    work.exec("DROP TABLE IF EXISTS " + work.quote_name(copy));
    work.exec("CREATE TABLE " + work.quote_name(copy) + " (LIKE " + work.quote_name(table) +
              " INCLUDING ALL)");
    work.commit();
  }
  // The rows as COPY text, read before the clock starts.
  std::vector<std::string> lines;
  {
    pqxx::work work(connection);
    pqxx::stream_from from(work, table);
    for (std::string line; from.get_raw_line(line);) lines.push_back(line);
    from.complete();
    work.commit();
  }
  const auto db_before = sample_cluster(postmaster);
  const double cpu_before = thread_cpu_s();
  const auto started = std::chrono::steady_clock::now();
  copy_in(database_url, copy, lines);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double client_cpu_s = thread_cpu_s() - cpu_before;
  const auto db_after = sample_cluster(postmaster);
  {
    pqxx::work work(connection);
    work.exec("DROP TABLE " + work.quote_name(copy));
    work.commit();
  }
  const double rows = static_cast<double>(lines.size());
  return {{"rows", lines.size()},
          {"seconds", seconds},
          {"rows_per_s", seconds > 0 ? rows / seconds : 0.0},
          {"client_cpu_s", client_cpu_s},
          {"db_cpu_s", db_after.cpu_s - db_before.cpu_s}};
}

}  // namespace chargegrid::bench
