#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

extern char** environ;

namespace chargegrid::db::detail {
namespace {

[[noreturn]] void child_fail(int status_fd, int err) {
  // Reports the errno of the failed step to the parent; async-signal-safe only.
  [[maybe_unused]] auto written = ::write(status_fd, &err, sizeof err);
  ::_exit(127);
}

// Closes descriptors in [first, last); last < 0 means "to the end".
void close_range_from(int first, int last) {
  if (last >= 0 && first >= last) return;
#ifdef SYS_close_range
  const unsigned upper = last < 0 ? ~0U : static_cast<unsigned>(last - 1);
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), upper, 0U) == 0) return;
#endif
  const long max_fd = ::sysconf(_SC_OPEN_MAX);
  const int end = last >= 0 ? last : static_cast<int>(max_fd > 0 ? max_fd : 65536);
  for (int fd = first; fd < end; ++fd) ::close(fd);
}

// Closes every descriptor from 3 on except the `count` ones in `keep` (sorted ascending).
void close_all_except(const int* keep, std::size_t count) {
  int next = 3;
  for (std::size_t i = 0; i < count; ++i) {
    if (keep[i] < next) continue;
    close_range_from(next, keep[i]);
    next = keep[i] + 1;
  }
  close_range_from(next, -1);
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void reset_signals() {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
}

void on_child_exit(int) {}  // only interrupts the watchdog's ppoll()

// A descriptor number of 3 or more (close-on-exec) for `fd`, so that the dup2() onto 0, 1
// and 2 in the server's child can never overwrite one still needed.
int above_stdio(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "fcntl");
  return copy;
}

// What the watchdog needs, prepared before fork(): after it, only async-signal-safe calls.
struct WatchdogPlan {
  char* const* argv;
  char* const* envp;
  bool drop_privileges;
  uid_t uid;
  gid_t gid;
  int control;  // read end
  int output;
  int devnull;
  std::array<int, 8> keep;  // sorted; the first keep_count are used
  std::size_t keep_count;
  const char* remove_dir;  // nullptr: none
};

[[noreturn]] void run_server_child(const WatchdogPlan& plan, pid_t watchdog) {
  reset_signals();
  if (::dup2(plan.devnull, 0) < 0 || ::dup2(plan.output, 1) < 0 || ::dup2(plan.output, 2) < 0)
    ::_exit(127);
  close_range_from(3, -1);
  if (plan.drop_privileges &&
      (::setgroups(0, nullptr) != 0 || ::setgid(plan.gid) != 0 || ::setuid(plan.uid) != 0))
    ::_exit(127);
  // After setuid(), which clears it. Then: did the watchdog die before this took effect?
  if (::prctl(PR_SET_PDEATHSIG, SIGINT) != 0 || ::getppid() != watchdog) ::_exit(1);
  if (::chdir("/") != 0) ::_exit(127);
  ::execve(plan.argv[0], plan.argv, plan.envp);
  ::_exit(127);
}

[[noreturn]] void run_watchdog(const WatchdogPlan& plan) {
  ::setsid();
  reset_signals();
  std::array<int, 11> keep{};
  std::size_t count = 0;
  for (int fd : {plan.control, plan.output, plan.devnull}) keep[count++] = fd;
  for (std::size_t i = 0; i < plan.keep_count; ++i) keep[count++] = plan.keep[i];
  std::sort(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(count));
  close_all_except(keep.data(), count);

  // SIGCHLD stays blocked except inside ppoll(), so the server's exit cannot slip in
  // between the check and the wait.
  struct sigaction action {};
  action.sa_handler = on_child_exit;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGCHLD, &action, nullptr);
  sigset_t child_only, unblocked;
  ::sigemptyset(&child_only);
  ::sigaddset(&child_only, SIGCHLD);
  ::sigemptyset(&unblocked);
  ::sigprocmask(SIG_BLOCK, &child_only, nullptr);

  const pid_t self = ::getpid();
  const pid_t server = ::fork();
  if (server < 0) ::_exit(127);
  if (server == 0) run_server_child(plan, self);
  ::close(plan.output);
  ::close(plan.devnull);

  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(server, &status, WNOHANG);
    if (done == server) break;
    pollfd control{plan.control, POLLIN, 0};
    const int ready = ::ppoll(&control, 1, nullptr, &unblocked);
    if (ready > 0) {
      // A stop request, or this process's parent is gone: fast shutdown, then wait for it.
      ::kill(server, SIGINT);
      while (::waitpid(server, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  if (plan.remove_dir != nullptr) ::rmdir(plan.remove_dir);
  ::_exit(exit_code_of(status));
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry{*e};
    // libpq and the server read PG* variables; locale variables change message language.
    if (entry.starts_with("PG") || entry.starts_with("LC_") || entry.starts_with("LANG=") ||
        entry.starts_with("LANGUAGE="))
      continue;
    env.emplace_back(entry);
  }
  env.emplace_back("LC_ALL=C");
  return env;
}

std::vector<char*> as_c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string describe_command(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    if (arg.find_first_of(" '\"\\$") == std::string::npos && !arg.empty()) {
      text += arg;
    } else {
      text += '\'';
      for (char c : arg) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
      text += '\'';
    }
  }
  return text;
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::optional<RunAs>& run_as) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argv");
  auto args = argv;
  auto env = child_environment();
  auto c_args = as_c_array(args);
  auto c_env = as_c_array(env);

  std::array<int, 2> out_pipe{}, err_pipe{}, status_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0 ||
      ::pipe2(status_pipe.data(), O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd :
         {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], status_pipe[0], status_pipe[1]})
      ::close(fd);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2})
      ::signal(sig, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out_pipe[1], 1) < 0 ||
        ::dup2(err_pipe[1], 2) < 0)
      child_fail(status_pipe[1], errno);
    // Keep stdio and the status pipe (close-on-exec); nothing else of the parent's
    // descriptors (listening sockets, database connections) may leak into a postmaster.
    const int status_fd = status_pipe[1];
    close_range_from(3, status_fd);
    close_range_from(status_fd + 1, -1);
    if (run_as) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(run_as->gid) != 0 || ::setuid(run_as->uid) != 0)
        child_fail(status_fd, errno);
    }
    if (::chdir("/") != 0) child_fail(status_fd, errno);
    ::execve(c_args[0], c_args.data(), c_env.data());
    child_fail(status_fd, errno);
  }

  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(status_pipe[1]);

  CommandResult result;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  int open_count = 2;
  std::array<char, 4096> buffer{};
  while (open_count > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }

  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(status_pipe[0], &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  ::close(status_pipe[0]);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  if (got == static_cast<ssize_t>(sizeof child_errno))
    throw std::system_error(child_errno, std::generic_category(),
                            "cannot start " + describe_command(argv));
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Supervised start_supervised(const SupervisedOptions& options) {
  if (options.argv.empty()) throw std::invalid_argument("start_supervised: empty argv");
  if (options.keep_fds.size() > 8) throw std::invalid_argument("start_supervised: too many fds");
  auto args = options.argv;
  auto env = child_environment();
  auto c_args = as_c_array(args);
  auto c_env = as_c_array(env);

  std::vector<int> opened;
  const auto close_opened = [&opened] {
    for (int fd : opened) ::close(fd);
  };
  std::array<int, 2> control{};
  try {
    if (::pipe2(control.data(), O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe");
    opened = {control[0], control[1]};
    const int read_end = above_stdio(control[0]);
    opened.push_back(read_end);
    const int write_end = above_stdio(control[1]);
    opened.push_back(write_end);
    const int devnull_raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull_raw < 0) throw std::system_error(errno, std::generic_category(), "/dev/null");
    opened.push_back(devnull_raw);
    const int devnull = above_stdio(devnull_raw);
    opened.push_back(devnull);
    const int output = above_stdio(options.output_fd);
    opened.push_back(output);
    WatchdogPlan plan{
        c_args.data(),
        c_env.data(),
        options.run_as.has_value(),
        options.run_as ? options.run_as->uid : 0,
        options.run_as ? options.run_as->gid : 0,
        read_end,
        output,
        devnull,
        {},
        0,
        options.remove_dir_after.empty() ? nullptr : options.remove_dir_after.c_str()};
    for (int fd : options.keep_fds) {
      const int copy = above_stdio(fd);
      opened.push_back(copy);
      plan.keep[plan.keep_count++] = copy;
    }

    const pid_t watchdog = ::fork();
    if (watchdog < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (watchdog == 0) run_watchdog(plan);

    // Everything but the write end belongs to the watchdog now.
    std::erase(opened, write_end);
    close_opened();
    return Supervised{watchdog, write_end};
  } catch (...) {
    close_opened();
    throw;
  }
}

std::optional<int> supervised_exit_code(Supervised& process) {
  if (process.watchdog <= 0) return std::nullopt;
  int status = 0;
  pid_t done;
  do {
    done = ::waitpid(process.watchdog, &status, WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return std::nullopt;
  // Reaped now (or, with ECHILD, by someone else: its code is unknown).
  const int code = done == process.watchdog ? exit_code_of(status) : -1;
  if (process.control >= 0) ::close(process.control);
  process = Supervised{};
  return code;
}

std::optional<int> stop_supervised(Supervised& process, std::chrono::milliseconds timeout) {
  if (process.watchdog <= 0) return std::nullopt;
  if (process.control >= 0) {
    // A byte, then end-of-file: either one stops it (the byte even while a forked copy of
    // this process still holds the write end). A watchdog already gone makes the write fail
    // with EPIPE; its SIGPIPE is blocked and discarded rather than ending this process.
    sigset_t pipe_only, previous;
    ::sigemptyset(&pipe_only);
    ::sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    const char stop = 'q';
    ssize_t written;
    do {
      written = ::write(process.control, &stop, 1);
    } while (written < 0 && errno == EINTR);
    if (written < 0 && errno == EPIPE) {
      const timespec now{};
      ::sigtimedwait(&pipe_only, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::close(process.control);
    process.control = -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto code = supervised_exit_code(process)) return code;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace chargegrid::db::detail
