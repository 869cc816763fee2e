#pragma once
// Group commit: items from all connections queue up and go to PostgreSQL together, one
// transaction per batch (when enough items wait, or the oldest has waited long enough). A
// caller resumes only once the batch holding its item has committed, with its item's result.
// A batch the database refuses for its data is written again item by item, each in its own
// transaction, so a bad item fails only its own caller. One batch is in flight at a time, so
// items keep their queue order across batches.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/db/fwd.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server {

struct GroupCommitOptions {
  std::string name;             // in logs: "<name>_batch_failed"
  std::size_t batch_items = 1;  // a batch is written once this many items wait...
  int batch_delay_ms = 0;       // ...or once the oldest has waited this long (0: at once)
  std::function<void(std::size_t items)> on_batch;  // metrics: called for every batch written
};

namespace detail {

// One batch's items and their callers, as the queue below sees them.
class GroupCommitBatch {
 public:
  virtual ~GroupCommitBatch() = default;
  virtual std::size_t size() const = 0;
  // Writes items [begin, end) in `tx` (committed by the caller).
  virtual void write(store::Tx& tx, std::size_t begin, std::size_t end) = 0;
  // Resumes the callers of items [begin, end): committed (null) or failed.
  virtual void complete(std::size_t begin, std::size_t end, std::exception_ptr error) = 0;
};

// The part of the writer that does not depend on the item type: the queue, the delay timer
// and the batches' transactions on the pool.
class GroupCommitQueue {
 public:
  using MakeBatch = std::function<std::unique_ptr<GroupCommitBatch>()>;
  GroupCommitQueue(boost::asio::io_context& io, db::ConnectionPool& pool,
                   GroupCommitOptions options, MakeBatch make_batch);
  ~GroupCommitQueue();
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  // Adds an item to the waiting batch (`push` puts it there) and writes the batch if it is due.
  void add(const std::function<void(GroupCommitBatch&)>& push);
  // Writes whatever waits now (used at shutdown).
  void flush();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace detail

template <class Item, class Result>
class GroupCommit {
 public:
  // Writes the items in `tx` and returns one result per item, in order. Called for whole
  // batches and, after a batch failed, for single items.
  using BatchWriter = std::function<std::vector<Result>(store::Tx& tx, std::span<const Item>)>;

  GroupCommit(boost::asio::io_context& io, db::ConnectionPool& pool, GroupCommitOptions options,
              BatchWriter writer)
      : writer_(std::make_shared<BatchWriter>(std::move(writer))),
        queue_(io, pool, std::move(options),
               [writer = writer_] { return std::make_unique<Batch>(writer); }) {}

  // co_await writer.write(item): the item's result once its batch has committed; throws what
  // the database said when the item could not be stored (the batch's error when the
  // database was away, the item's own when only it was refused).
  auto write(Item item) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                       void(std::exception_ptr, Result)>(
        [this, item = std::move(item)](auto handler) mutable {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto executor = boost::asio::get_associated_executor(*shared);
          Done done = [shared, executor](std::exception_ptr error, Result result) {
            boost::asio::post(executor, [shared, error, result = std::move(result)]() mutable {
              (*shared)(error, std::move(result));
            });
          };
          queue_.add([&](detail::GroupCommitBatch& batch) {
            static_cast<Batch&>(batch).push(std::move(item), std::move(done));
          });
        },
        boost::asio::use_awaitable);
  }

  // Queues an item nobody waits for: it is written with its batch, and a failure is logged
  // as the batch's (<name>_batch_failed).
  void submit(Item item) {
    queue_.add([&](detail::GroupCommitBatch& batch) {
      static_cast<Batch&>(batch).push(std::move(item), [](std::exception_ptr, Result) {});
    });
  }

  void flush() { queue_.flush(); }

 private:
  using Done = std::function<void(std::exception_ptr, Result)>;

  class Batch final : public detail::GroupCommitBatch {
   public:
    explicit Batch(std::shared_ptr<const BatchWriter> writer) : writer_(std::move(writer)) {}
    void push(Item item, Done done) {
      items_.push_back(std::move(item));
      done_.push_back(std::move(done));
    }
    std::size_t size() const override { return items_.size(); }
    void write(store::Tx& tx, std::size_t begin, std::size_t end) override {
      results_.resize(items_.size());
      auto results = (*writer_)(tx, std::span<const Item>(items_).subspan(begin, end - begin));
      if (results.size() != end - begin)
        throw std::logic_error("group commit: one result per item expected");
      std::move(results.begin(), results.end(), results_.begin() + static_cast<long>(begin));
    }
    void complete(std::size_t begin, std::size_t end, std::exception_ptr error) override {
      for (auto i = begin; i < end; ++i) done_[i](error, error ? Result{} : std::move(results_[i]));
    }

   private:
    std::shared_ptr<const BatchWriter> writer_;
    std::vector<Item> items_;
    std::vector<Done> done_;
    std::vector<Result> results_;
  };

  std::shared_ptr<const BatchWriter> writer_;
  detail::GroupCommitQueue queue_;
};

}  // namespace chargegrid::server
