#include "io/output.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "base/failure.hpp"

namespace pollscope {

namespace {

[[noreturn]] void cannot_write(const std::string& path, int error) {
  throw Failure::environment(path + ": cannot write: " + std::strerror(error));
}

[[noreturn]] void refuse(std::string_view option, const std::string& path,
                         const std::string& reason) {
  throw Failure::invalid_input(Problem{fmt::format("{} {}", option, path), "", reason});
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The descriptor N that /dev/fd/N, /proc/self/fd/N or /proc/thread-self/fd/N names. Such a
// link is no path to open again: for a pipe it reads "pipe:[N]", and a file opened anew would be
// written from offset 0, without the O_APPEND of the shell's `>>`.
std::optional<int> descriptor_named(const std::string& path) {
  for (const std::string_view folder : {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"}) {
    if (!path.starts_with(folder)) continue;
    const std::string_view number = std::string_view(path).substr(folder.size());
    int descriptor = -1;
    const auto [end, error] =
        std::from_chars(number.data(), number.data() + number.size(), descriptor);
    if (error == std::errc{} && end == number.data() + number.size() && !number.empty()) {
      return descriptor;
    }
  }
  return std::nullopt;
}

// Where a path leads: a file (links followed by hand, so that a dangling one still names the
// file to create), or one of this process's descriptors (/dev/stdout is a link to one).
struct Destination {
  std::string target;
  std::optional<int> descriptor;
};

Destination resolve_links(const std::string& path, std::string_view option) {
  std::string target = path;
  for (int hops = 0; hops < 40; ++hops) {
    if (const auto descriptor = descriptor_named(target)) return {target, descriptor};
    struct stat status {};
    if (::lstat(target.c_str(), &status) != 0 || !S_ISLNK(status.st_mode)) return {target, {}};
    char link[PATH_MAX];
    const auto length = ::readlink(target.c_str(), link, sizeof link - 1);
    if (length < 0) return {target, {}};
    const std::string next(link, static_cast<std::size_t>(length));
    target = next.starts_with('/') ? next : folder_of(target) + "/" + next;
  }
  refuse(option, path, "too many levels of symbolic links");
}

// SIGINT and SIGTERM wait while a temporary file exists: the handler notes them, and they are
// raised again once the file is gone. A run's own handler, installed on top, takes them first.
// Holds nest (the report and the pcap each hold while their temporary exists): the first saves
// the handlers there were, the last restores them and raises what arrived meanwhile. Holds are
// taken and released on the main thread only.
std::atomic<int> held_signal{0};
int holds = 0;
struct sigaction held_interrupt {};
struct sigaction held_terminate {};

extern "C" void hold_signal(int signal) {
  held_signal.store(signal, std::memory_order_relaxed);
}

}  // namespace

void hold_signals() {
  if (holds++ > 0) return;
  held_signal = 0;
  struct sigaction action {};
  action.sa_handler = hold_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &held_interrupt);
  ::sigaction(SIGTERM, &action, &held_terminate);
}

void release_signals() {
  if (holds == 0 || --holds > 0) return;
  ::sigaction(SIGINT, &held_interrupt, nullptr);
  ::sigaction(SIGTERM, &held_terminate, nullptr);
  if (const int signal = held_signal.exchange(0); signal != 0) ::raise(signal);
}

int pending_held_signal() {
  return held_signal.load(std::memory_order_relaxed);
}

int take_held_signal() {
  return held_signal.exchange(0);
}

namespace {

// A reader that went away (a FIFO's, or a pipe's behind /dev/fd/N) answers a write with SIGPIPE,
// which would end pollscope without a word or a documented exit code. Blocked in this thread
// while a document is written, so that the write fails with EPIPE and is reported as any other
// failure; the signal it left pending is taken back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    if (!was_pending_ && ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{};
      (void)::sigtimedwait(&pipe_, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

void write_all(int fd, std::string_view text, const auto& give_up) {
  for (std::size_t written = 0; written < text.size();) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) give_up(n < 0 ? errno : EIO);
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

OutputFile OutputFile::open(const std::optional<std::string>& path, std::string_view option) {
  OutputFile output;
  if (!path || *path == "-") return output;
  output.name_ = *path;
  output.option_ = option;
  if (path->empty()) refuse(option, *path, "the path is empty");
  const auto [target, descriptor] = resolve_links(*path, option);
  if (descriptor) {
    output.open_descriptor(*descriptor);
    return output;
  }
  struct stat status {};
  if (::stat(target.c_str(), &status) == 0) {
    if (S_ISDIR(status.st_mode)) refuse(option, *path, "is a directory");
    if (S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode) || S_ISSOCK(status.st_mode)) {
      output.open_stream(target);
    } else if (S_ISREG(status.st_mode)) {
      // The rename would replace a file its owner made read-only, which the shell's `>` refuses.
      if (::access(target.c_str(), W_OK) != 0) cannot_write(*path, errno);
      output.open_temporary(target, true, status.st_mode & 07777);
    } else {
      refuse(option, *path, "not a regular file, a character device or a FIFO");
    }
    return output;
  }
  if (errno != ENOENT) cannot_write(*path, errno);
  const std::string folder = folder_of(target);
  if (::stat(folder.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
    refuse(option, *path, "the folder " + folder + " does not exist");
  }
  output.open_temporary(target, false, 0644);
  return output;
}

void OutputFile::open_stream(const std::string& target) {
  fd_ = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) cannot_write(name_, errno);
}

// A copy of the descriptor, written at its offset as the shell left it (appending after `>>`).
void OutputFile::open_descriptor(int descriptor) {
  const int flags = ::fcntl(descriptor, F_GETFL);
  if (flags < 0) refuse(option_, name_, fmt::format("descriptor {} is not open", descriptor));
  if ((flags & O_ACCMODE) == O_RDONLY) {
    refuse(option_, name_, fmt::format("descriptor {} is open for reading only", descriptor));
  }
  struct stat status {};
  if (::fstat(descriptor, &status) == 0 && S_ISDIR(status.st_mode))
    refuse(option_, name_, "is a directory");
  fd_ = ::fcntl(descriptor, F_DUPFD_CLOEXEC, 0);
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
  const std::string_view piece = text;
  write(std::span(&piece, 1), out);
}

void OutputFile::write(std::span<const std::string_view> pieces, std::ostream& out) {
  if (fd_ < 0 && temporary_.empty()) {
    // The stream (stdout) buffers: a full disk or a closed pipe shows only in its state, after
    // the flush, and a document lost there is as much a failure as one lost in a file.
    errno = 0;
    for (const std::string_view piece : pieces) out << piece;
    out << std::flush;
    if (!out) cannot_write(name_, errno != 0 ? errno : EIO);
    return;
  }
  const auto give_up = [&](int error) {
    release();
    cannot_write(name_, error);
  };
  const SigpipeBlocked blocked;
  for (const std::string_view piece : pieces) write_all(fd_, piece, give_up);
  if (!temporary_.empty() && ::fsync(fd_) != 0) give_up(errno);
  if (::close(std::exchange(fd_, -1)) != 0) give_up(errno);
  if (!temporary_.empty()) {
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) give_up(errno);
    temporary_.clear();
  }
  release();
}

void check_destination(const std::optional<std::string>& path, std::string_view option) {
  // A FIFO is not opened to be checked: the open would wait for a reader, and the close would
  // hand that reader an end of file before the document.
  if (path && !path->empty() && *path != "-") {
    const auto [target, descriptor] = resolve_links(*path, option);
    struct stat status {};
    if (!descriptor && ::stat(target.c_str(), &status) == 0 && S_ISFIFO(status.st_mode)) {
      if (::access(target.c_str(), W_OK) != 0) cannot_write(*path, errno);
      return;
    }
  }
  (void)OutputFile::open(path, option);  // the temporary file it makes is removed as it goes
}

namespace {

// Where a destination leads, for same_destination.
struct Place {
  std::optional<int> descriptor;
  std::string target;  // the file, links followed, when no descriptor
  bool exists = false;
  bool device = false;
  dev_t file_device = 0;
  ino_t inode = 0;
};

Place place_of(const std::optional<std::string>& path, std::string_view option) {
  Place place;
  if (!path || *path == "-" || path->empty()) {
    place.descriptor = STDOUT_FILENO;
  } else {
    auto [target, descriptor] = resolve_links(*path, option);
    place.descriptor = descriptor;
    place.target = std::move(target);
  }
  struct stat status {};
  const int got = place.descriptor ? ::fstat(*place.descriptor, &status)
                                   : ::stat(place.target.c_str(), &status);
  if (got == 0) {
    place.exists = true;
    place.device = S_ISCHR(status.st_mode);
    place.file_device = status.st_dev;
    place.inode = status.st_ino;
  }
  return place;
}

// A new file's path, absolute, its folders' links followed. Absolute first: weakly_canonical
// leaves a relative path relative when its first component does not exist ("r.json" stays
// "r.json" while "./r.json" becomes "/cwd/r.json"), and the two would differ.
std::optional<std::filesystem::path> new_file_path(const std::string& target) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(target, error);
  if (error) return std::nullopt;
  auto canonical = std::filesystem::weakly_canonical(absolute, error);
  if (error) return std::nullopt;
  return canonical;
}

}  // namespace

bool same_destination(const std::optional<std::string>& one,
                      const std::optional<std::string>& other, std::string_view option) {
  const Place a = place_of(one, option);
  const Place b = place_of(other, option);
  if (a.descriptor && a.descriptor == b.descriptor) return true;
  if (a.exists && b.exists) {
    return a.file_device == b.file_device && a.inode == b.inode && !a.device;
  }
  if (a.exists || b.exists || a.descriptor || b.descriptor) return false;
  // Two new names (a dangling link's target among them, resolve_links followed it): the same
  // once their folders' links are followed.
  const auto a_path = new_file_path(a.target);
  const auto b_path = new_file_path(b.target);
  if (!a_path || !b_path) return a.target == b.target;
  return *a_path == *b_path;
}

}  // namespace pollscope
