#pragma once
// The JSON Lines adapter: the log's entries in a file, one canonical record per line, line N
// (from 0) being entry N. Each line is appended and fsynced before its delivery commits; on
// start, and whenever the file changed under it, the adapter counts the file's lines (cutting
// a last line a crash left unfinished), so an entry already in the file is never written again
// and a gap is refused: the file stays a prefix of the log.

#include <cstdint>
#include <mutex>
#include <string>

#include "ledger_adapters/adapter.hpp"

namespace chargegrid::server::ledger_adapters {

class FileAdapter : public LedgerAdapter {
 public:
  // Opens (creates) the file; throws std::runtime_error when it cannot.
  explicit FileAdapter(std::string path);
  ~FileAdapter() override;

  const std::string& name() const override { return name_; }
  bool from_start() const override { return true; }
  nlohmann::json deliver(std::uint64_t index, std::string_view record,
                         const std::string& idempotency_key) override;
  nlohmann::json describe() const override;

  std::uint64_t lines();

 private:
  void recount();                              // with mutex_ held
  bool last_line_is(std::string_view record);  // with mutex_ held

  const std::string name_ = "file";
  std::string path_;
  int fd_ = -1;
  std::mutex mutex_;
  std::uint64_t lines_ = 0;
  std::int64_t size_ = -1;  // the file's size when last counted or written
};

}  // namespace chargegrid::server::ledger_adapters
