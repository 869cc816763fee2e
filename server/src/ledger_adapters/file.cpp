#include "ledger_adapters/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace chargegrid::server::ledger_adapters {

namespace {

std::runtime_error failure(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

FileAdapter::FileAdapter(std::string path) : path_(std::move(path)) {
  const auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw failure("cannot open", path_);
  std::lock_guard lock(mutex_);
  recount();
}

FileAdapter::~FileAdapter() {
  if (fd_ >= 0) ::close(fd_);
}

void FileAdapter::recount() {
  struct stat info {};
  if (::fstat(fd_, &info) != 0) throw failure("cannot stat", path_);
  if (info.st_size == size_) return;
  std::uint64_t lines = 0;
  std::int64_t last_newline_end = 0;  // the size of the file's complete lines
  std::vector<char> buffer(1 << 16);
  std::int64_t offset = 0;
  for (;;) {
    const auto n = ::pread(fd_, buffer.data(), buffer.size(), offset);
    if (n < 0) throw failure("cannot read", path_);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        ++lines;
        last_newline_end = offset + i + 1;
      }
    }
    offset += n;
  }
  if (last_newline_end != offset) {
    // A line left unfinished (the process died while writing it): it was never delivered.
    if (::ftruncate(fd_, last_newline_end) != 0 || ::fsync(fd_) != 0)
      throw failure("cannot cut the unfinished last line of", path_);
  }
  lines_ = lines;
  size_ = last_newline_end;
}

bool FileAdapter::last_line_is(std::string_view record) {
  // The line and the newline before it (none for the file's first line).
  const auto length = static_cast<std::int64_t>(record.size()) + 1;
  const auto at = size_ - length;
  if (at < 0) return false;
  const std::int64_t from = at > 0 ? at - 1 : 0;
  std::string bytes(static_cast<std::size_t>(size_ - from), '\0');
  if (::pread(fd_, bytes.data(), bytes.size(), from) != static_cast<ssize_t>(bytes.size()))
    return false;
  std::string expected = at > 0 ? "\n" : "";
  expected.append(record);
  expected += '\n';
  return bytes == expected;
}

std::uint64_t FileAdapter::lines() {
  std::lock_guard lock(mutex_);
  recount();
  return lines_;
}

nlohmann::json FileAdapter::deliver(std::uint64_t index, std::string_view record,
                                    const std::string&) {
  if (record.find('\n') != std::string_view::npos)
    throw std::runtime_error("entry " + std::to_string(index) + " holds a newline");
  std::lock_guard lock(mutex_);
  recount();
  if (index < lines_) {
    // Written before, by a delivery that did not commit: the last line must be this entry.
    if (index + 1 == lines_ && !last_line_is(record))
      throw std::runtime_error(path_ + ": line " + std::to_string(index) + " is not log entry " +
                               std::to_string(index));
    return nullptr;
  }
  if (index > lines_)
    throw std::runtime_error(path_ + " has " + std::to_string(lines_) + " lines: entry " +
                             std::to_string(index) +
                             " cannot be its next line (was the file replaced?)");
  std::string line(record);
  line += '\n';
  std::size_t written = 0;
  while (written < line.size()) {
    const auto n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const auto error = failure("cannot append to", path_);
      size_ = -1;  // count again before the next write (and cut what was written)
      throw error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    size_ = -1;
    throw failure("cannot fsync", path_);
  }
  ++lines_;
  size_ += static_cast<std::int64_t>(line.size());
  return nullptr;
}

nlohmann::json FileAdapter::describe() const {
  return {{"path", path_}};
}

}  // namespace chargegrid::server::ledger_adapters
