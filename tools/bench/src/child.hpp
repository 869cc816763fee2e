#pragma once
// A child process of the benchmark: the server under test, a peer or a load generator.
// Its standard error (and standard output, unless read line by line) goes to a log file;
// it gets SIGTERM if the benchmark dies, and SIGKILL if still running when destroyed.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chargegrid::bench {

class Child {
 public:
  using LineHandler = std::function<void(const std::string&)>;
  // With on_line, standard output is read line by line on a thread of its own and
  // standard input is a pipe (send()); otherwise both go to the log / /dev/null.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
        LineHandler on_line = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Writes one line to the child's standard input; false if it is gone.
  bool send(const std::string& line);
  void close_input();
  void signal(int sig);
  // The exit status (or 128 + signal) once it ended within `timeout`; nullopt otherwise.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int input_fd_ = -1;
  std::optional<int> status_;
  std::thread reader_;
};

}  // namespace chargegrid::bench
