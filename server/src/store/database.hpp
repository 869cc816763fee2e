#pragma once
// Runs database work on the connection pool's threads and resumes the calling
// coroutine on its own executor (the station's strand), so no I/O thread ever
// waits for PostgreSQL. `transaction` hands the work a store::Tx to pass to the
// repositories and commits it when the work returns.

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <pqxx/pqxx>
#include <type_traits>

#include "chargegrid/db/pool.hpp"

namespace chargegrid::server {

class Database {
 public:
  explicit Database(db::ConnectionPool& pool) : pool_(pool) {}

  db::ConnectionPool& pool() { return pool_; }

  // auto value = co_await database.transaction([&](store::Tx& tx) { ...; return value; });
  // One read-write transaction, committed when `fn` returns (rolled back if it throws).
  template <class Fn>
  auto transaction(Fn fn) {
    return run([fn = std::move(fn)](pqxx::connection& c) mutable {
      pqxx::work tx(c);
      if constexpr (std::is_void_v<std::invoke_result_t<Fn&, pqxx::work&>>) {
        fn(tx);
        tx.commit();
      } else {
        auto result = fn(tx);
        tx.commit();
        return result;
      }
    });
  }

  // auto value = co_await database.run([&](pqxx::connection& c) { ...; return value; });
  // The function runs on a pool thread; its exception, or the reason it could
  // not run (no connection, queue full, shutting down), is thrown to the awaiter.
  // Not a coroutine itself: `fn` is moved into the operation before anything
  // suspends. Results must be default-constructible.
  template <class Fn>
  auto run(Fn fn) {
    using Result = std::invoke_result_t<Fn&, pqxx::connection&>;
    if constexpr (std::is_void_v<Result>) {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                         void(std::exception_ptr)>(
          [&pool = pool_, fn = std::move(fn)](auto handler) mutable {
            submit(pool, std::move(handler), [fn = std::move(fn)](pqxx::connection& c) mutable {
              fn(c);
              return true;
            });
          },
          boost::asio::use_awaitable);
    } else {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                         void(std::exception_ptr, Result)>(
          [&pool = pool_, fn = std::move(fn)](auto handler) mutable {
            submit(pool, std::move(handler), std::move(fn));
          },
          boost::asio::use_awaitable);
    }
  }

 private:
  // Runs `work` on `pool` and completes `handler` on its own executor.
  template <class Handler, class Work>
  static void submit(db::ConnectionPool& pool, Handler handler, Work work) {
    using Value = std::invoke_result_t<Work&, pqxx::connection&>;
    constexpr bool void_handler = std::is_invocable_v<Handler&, std::exception_ptr>;
    auto shared = std::make_shared<Handler>(std::move(handler));
    auto executor = boost::asio::get_associated_executor(*shared);
    auto complete = [shared, executor](std::exception_ptr error, Value value) {
      boost::asio::post(executor, [shared, error, value = std::move(value)]() mutable {
        if constexpr (void_handler)
          (*shared)(error);
        else
          (*shared)(error, std::move(value));
      });
    };
    auto job = [work = std::move(work), complete](pqxx::connection& connection) mutable {
      try {
        complete(nullptr, work(connection));
      } catch (...) {
        complete(std::current_exception(), Value{});
      }
    };
    auto not_run = [complete](std::exception_ptr error) { complete(error, Value{}); };
    pool.submit_or_fail(std::move(job), not_run);
  }

  db::ConnectionPool& pool_;
};

}  // namespace chargegrid::server
