#include "inspect/process_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>

#include "inspect/file_identity.hpp"

namespace pollscope {

namespace {

std::string read_link(const std::string& path) {
  std::string target(4096, '\0');
  const auto length = ::readlink(path.c_str(), target.data(), target.size());
  if (length < 0) return {};
  target.resize(static_cast<std::size_t>(length));
  return target;
}

// The kernel ends the name with a newline, and prints it as it is: a name may hold a newline of
// its own (prctl(PR_SET_NAME, "a\nb")), so only the last one is dropped.
// Read with read(2), not a stream: a process that exits while it is read makes the read fail
// with ESRCH, which libstdc++'s filebuf throws even without exceptions asked for; here the
// name is then what was read (empty), as for a process gone before the open.
std::string read_command(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/comm";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string command;
  char buffer[256];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) {
    command.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  if (command.ends_with('\n')) command.pop_back();
  return command;
}

}  // namespace

std::string read_descriptor(pid_t pid, int fd) {
  return read_link("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
}

std::vector<pid_t> every_process() {
  std::vector<pid_t> pids;
  const std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir("/proc"), ::closedir);
  if (!listing) return pids;
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string_view name = entry->d_name;
    pid_t pid = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (error == std::errc() && end == name.data() + name.size() && pid != ::getpid())
      pids.push_back(pid);
  }
  return pids;
}

std::vector<ProcessFiles> processes_sharing(pid_t pid, int epoll_fd) {
  std::vector<ProcessFiles> sharing;
  for (const pid_t other : every_process()) {
    ProcessFiles files;
    if (other == pid || read_process_files(other, files)) continue;
    for (const auto& [fd, target] : files.fds) {
      if (!names_epoll(target) || is_same_file(pid, epoll_fd, other, fd) != true) continue;
      sharing.push_back(std::move(files));
      break;
    }
  }
  return sharing;
}

std::error_code read_process_files(pid_t pid, ProcessFiles& files) {
  const std::string directory = "/proc/" + std::to_string(pid) + "/fd";
  const std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(directory.c_str()), ::closedir);
  if (!listing) return {errno, std::system_category()};
  files.pid = pid;
  files.command = read_command(pid);
  files.fds.clear();
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string_view name = entry->d_name;
    int fd = -1;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (error != std::errc() || end != name.data() + name.size()) continue;  // "." and ".."
    // A descriptor closed between the listing and the readlink is simply not there.
    auto target = read_link(directory + "/" + std::string(name));
    if (!target.empty()) files.fds.emplace(fd, std::move(target));
  }
  return {};
}

bool names_epoll(const std::string& target) {
  return target == "anon_inode:[eventpoll]";
}

bool shares_inodes(const std::string& target) {
  return target.rfind("pipe:", 0) == 0 || target.rfind("anon_inode:", 0) == 0;
}

}  // namespace pollscope
