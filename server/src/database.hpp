#pragma once
// Runs database work on the connection pool's threads and resumes the calling
// coroutine on its own executor (the station's strand), so no I/O thread ever
// waits for PostgreSQL.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <type_traits>

#include "chargegrid/db/pool.hpp"

namespace chargegrid::server {

class Database {
 public:
  explicit Database(db::ConnectionPool& pool) : pool_(pool) {}

  db::ConnectionPool& pool() { return pool_; }

  // co_await database.run([](pqxx::connection& c) { ...; return value; });
  // The function runs on a pool thread; exceptions propagate to the awaiter.
  template <class Fn>
  auto run(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, pqxx::connection&>> {
    using Result = std::invoke_result_t<Fn&, pqxx::connection&>;
    using Stored = std::conditional_t<std::is_void_v<Result>, bool, Result>;
    auto outcome = co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                                        void(std::exception_ptr, std::optional<Stored>)>(
        [this, fn = std::move(fn)](auto handler) mutable {
          
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto executor = boost::asio::get_associated_executor(*shared);
          auto job = [fn = std::move(fn), shared, executor](pqxx::connection& connection) mutable {
            std::exception_ptr error;
            std::optional<Stored> value;
            try {
              if constexpr (std::is_void_v<Result>) {
                fn(connection);
                value = true;
              } else {
                value = fn(connection);
              }
            } catch (...) {
              error = std::current_exception();
            }
            boost::asio::post(executor, [shared, error, value = std::move(value)]() mutable {
              (*shared)(error, std::move(value));
            });
          };
          // The job did not run (no connection, shutting down): resume with why.
          auto not_run = [shared, executor](std::exception_ptr error) {
            boost::asio::post(executor, [shared, error]() mutable { (*shared)(error, std::nullopt); });
          };
          if (!pool_.try_submit(std::move(job), not_run))
            not_run(std::make_exception_ptr(db::PoolFull("the database queue is full")));
        },
        boost::asio::use_awaitable);
    if constexpr (!std::is_void_v<Result>) co_return std::move(*outcome);
  }

 private:
  db::ConnectionPool& pool_;
};

}  // namespace chargegrid::server
