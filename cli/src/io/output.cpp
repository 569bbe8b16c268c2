#include "io/output.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "base/failure.hpp"

namespace pollscope {

namespace {

[[noreturn]] void cannot_write(const std::string& path, int error) {
  throw Failure::environment(path + ": cannot write: " + std::strerror(error));
}

[[noreturn]] void refuse(const std::string& path, const std::string& reason) {
  throw Failure::invalid_input(Problem{"--out " + path, "", reason});
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Follows symlinks by hand, so that a dangling one still names the file to create.
std::string resolve_links(const std::string& path) {
  std::string target = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat status {};
    if (::lstat(target.c_str(), &status) != 0 || !S_ISLNK(status.st_mode)) return target;
    char link[PATH_MAX];
    const auto length = ::readlink(target.c_str(), link, sizeof link - 1);
    if (length < 0) return target;
    const std::string next(link, static_cast<std::size_t>(length));
    target = next.starts_with('/') ? next : folder_of(target) + "/" + next;
  }
  refuse(path, "too many levels of symbolic links");
}

// SIGINT and SIGTERM wait while a temporary file exists: the handler notes them, and they are
// raised again once the file is gone. A run's own handler, installed on top, takes them first.
std::atomic<int> held_signal{0};
struct sigaction held_interrupt {};
struct sigaction held_terminate {};

extern "C" void hold_signal(int signal) {
  held_signal.store(signal, std::memory_order_relaxed);
}

void hold_signals() {
  held_signal = 0;
  struct sigaction action {};
  action.sa_handler = hold_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &held_interrupt);
  ::sigaction(SIGTERM, &action, &held_terminate);
}

void release_signals() {
  ::sigaction(SIGINT, &held_interrupt, nullptr);
  ::sigaction(SIGTERM, &held_terminate, nullptr);
  if (const int signal = held_signal.exchange(0); signal != 0) ::raise(signal);
}

void write_all(int fd, const std::string& text, const auto& give_up) {
  for (std::size_t written = 0; written < text.size();) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) give_up(n < 0 ? errno : EIO);
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

OutputFile OutputFile::open(const std::optional<std::string>& path) {
  OutputFile output;
  if (!path || *path == "-") return output;
  output.name_ = *path;
  if (path->empty()) refuse(*path, "the path is empty");
  const std::string target = resolve_links(*path);
  struct stat status {};
  if (::stat(target.c_str(), &status) == 0) {
    if (S_ISDIR(status.st_mode)) refuse(*path, "is a directory");
    if (S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode) || S_ISSOCK(status.st_mode)) {
      output.open_stream(target);
    } else if (S_ISREG(status.st_mode)) {
      output.open_temporary(target, true, status.st_mode & 07777);
    } else {
      refuse(*path, "not a regular file, a character device or a FIFO");
    }
    return output;
  }
  if (errno != ENOENT) cannot_write(*path, errno);
  const std::string folder = folder_of(target);
  if (::stat(folder.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
    refuse(*path, "the folder " + folder + " does not exist");
  }
  output.open_temporary(target, false, 0644);
  return output;
}

void OutputFile::open_stream(const std::string& target) {
  fd_ = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) cannot_write(name_, errno);
}

void OutputFile::open_temporary(const std::string& target, bool exists, unsigned mode) {
  target_ = target;
  const std::string temporary = target + ".tmp." + std::to_string(::getpid());
  hold_signals();
  fd_ = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exists ? 0600 : mode);
  if (fd_ < 0) {
    const int error = errno;
    release_signals();
    cannot_write(name_, error);
  }
  holds_signals_ = true;
  temporary_ = temporary;
  if (exists) (void)::fchmod(fd_, mode);  // the report keeps the permissions it replaces
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : name_(std::move(other.name_)),
      target_(std::move(other.target_)),
      temporary_(std::exchange(other.temporary_, {})),
      fd_(std::exchange(other.fd_, -1)),
      holds_signals_(std::exchange(other.holds_signals_, false)) {}

OutputFile::~OutputFile() {
  release();
}

void OutputFile::release() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!temporary_.empty()) ::unlink(std::exchange(temporary_, {}).c_str());
  if (std::exchange(holds_signals_, false)) release_signals();
}

void OutputFile::write(const std::string& text, std::ostream& out) {
  if (fd_ < 0 && temporary_.empty()) {
    out << text << std::flush;
    return;
  }
  const auto give_up = [&](int error) {
    release();
    cannot_write(name_, error);
  };
  write_all(fd_, text, give_up);
  if (!temporary_.empty() && ::fsync(fd_) != 0) give_up(errno);
  if (::close(std::exchange(fd_, -1)) != 0) give_up(errno);
  if (!temporary_.empty()) {
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) give_up(errno);
    temporary_.clear();
  }
  release();
}

}  // namespace pollscope
