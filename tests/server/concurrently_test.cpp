// concurrently(): every item runs once, never more than `width` at a time, and an item's
// exception reaches the caller only after the others have run.

#include "concurrently.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using chargegrid::server::concurrently;

namespace {

struct Counters {
  std::vector<int> runs;
  int running = 0;
  int most_at_once = 0;
};

// Each item waits a little (a station's answer), counting how many wait at once.
asio::awaitable<void> item(Counters& c, std::size_t i, bool fail_third) {
  ++c.runs[i];
  ++c.running;
  c.most_at_once = std::max(c.most_at_once, c.running);
  asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
  co_await pause.async_wait(asio::use_awaitable);
  --c.running;
  if (fail_third && i == 2) throw std::runtime_error("item 2 failed");
}

}  // namespace

TEST_CASE("concurrently runs every item once, at most width at a time", "[server][concurrently]") {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  Counters c;
  c.runs.assign(20, 0);
  auto done =
      asio::co_spawn(strand, concurrently(20, 3, [&](std::size_t i) { return item(c, i, false); }),
                     asio::use_future);
  io.run();
  done.get();
  CHECK(c.runs == std::vector<int>(20, 1));
  CHECK(c.most_at_once == 3);
  CHECK(c.running == 0);
}

TEST_CASE("concurrently with nothing to do, or a width above the count", "[server][concurrently]") {
  asio::io_context io;
  Counters c;
  c.runs.assign(2, 0);
  auto none = asio::co_spawn(
      io, concurrently(0, 4, [&](std::size_t i) { return item(c, i, false); }), asio::use_future);
  auto two = asio::co_spawn(
      io, concurrently(2, 50, [&](std::size_t i) { return item(c, i, false); }), asio::use_future);
  io.run();
  none.get();
  two.get();
  CHECK(c.runs == std::vector<int>{1, 1});
  CHECK(c.most_at_once == 2);
}

TEST_CASE("an item's exception is rethrown once the others have run", "[server][concurrently]") {
  asio::io_context io;
  Counters c;
  c.runs.assign(10, 0);
  auto done = asio::co_spawn(
      io, concurrently(10, 2, [&](std::size_t i) { return item(c, i, true); }), asio::use_future);
  io.run();
  CHECK_THROWS_WITH(done.get(), "item 2 failed");
  CHECK(c.runs == std::vector<int>(10, 1));
}
