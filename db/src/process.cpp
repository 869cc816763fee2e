#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

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

}  // namespace chargegrid::db::detail
