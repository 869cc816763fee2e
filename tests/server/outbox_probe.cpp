// A consumer of the durable outbox in a process of its own, for the test that kills one with
// SIGKILL while it holds a row: chargegrid-outbox-probe URL CONSUMER DELAY_MS.
// Its handler records the row in probe_effects inside the row's transaction, then waits
// DELAY_MS before the transaction commits. It exits 0 once the consumer has no row left.

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "chargegrid/db/pool.hpp"
#include "events/outbox_consumer.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: chargegrid-outbox-probe URL CONSUMER DELAY_MS\n";
    return 2;
  }
  const std::string url = argv[1], consumer = argv[2];
  const auto delay = std::chrono::milliseconds(std::stol(argv[3]));
  chargegrid::db::ConnectionPool pool(url, 1);
  boost::asio::io_context io;
  chargegrid::server::OutboxConsumer::Options options;
  options.poll_interval = std::chrono::milliseconds(100);
  chargegrid::server::OutboxConsumer probe(
      io, pool, consumer, {"test.topic"},
      [delay](chargegrid::server::store::Tx& tx,
              const chargegrid::server::store::outbox::Row& row) {
        tx.exec_params("INSERT INTO probe_effects (outbox_id, pid) VALUES ($1, $2)", row.id,
                       static_cast<int>(::getpid()));
        std::this_thread::sleep_for(delay);
      },
      options);
  probe.start();
  std::thread watcher([&] {
    pqxx::connection c(url);
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      pqxx::read_transaction tx(c);
      if (tx.exec_params1("SELECT count(*) FROM outbox WHERE consumer = $1 AND done_at IS NULL",
                          consumer)[0]
              .as<int>() == 0)
        break;
    }
    probe.stop();
    io.stop();
  });
  auto guard = boost::asio::make_work_guard(io);
  io.run();
  watcher.join();
  return 0;
}
