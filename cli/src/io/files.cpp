#include "io/files.hpp"

#include "io/output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <ostream>
#include <sstream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace pollscope {

const char* kind_of_file(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

namespace {

Problem cannot_read(const std::string& path, int code) {
  return Problem{path, "", fmt::format("cannot read: {}", std::generic_category().message(code))};
}

Problem too_large(const std::string& path) {
  return Problem{
      path, "",
      fmt::format("larger than the {} MiB limit for an input file", kMaxInputBytes >> 20)};
}

// Reads what `fd` holds, at most kMaxInputBytes + 1 bytes; the caller closes it.
std::variant<std::string, Problem> read_capped(int fd, const std::string& path) {
  std::string text;
  std::array<char, 16384> buffer;
  while (text.size() <= kMaxInputBytes) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cannot_read(path, errno);
    if (n == 0) return text;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return too_large(path);
}

// Opens `path` without waiting (a FIFO with no writer must not hang the command) and accepts a
// regular file no larger than the cap, checked before a byte is read.
std::variant<std::string, Problem> read_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return cannot_read(path, errno);
  struct stat status {};
  std::variant<std::string, Problem> read;
  if (::fstat(fd, &status) != 0) {
    read = cannot_read(path, errno);
  } else if (!S_ISREG(status.st_mode)) {
    read = Problem{path, "",
                   fmt::format("not a regular file ({}): give a file, or - for stdin",
                               kind_of_file(status.st_mode))};
  } else if (static_cast<std::uint64_t>(status.st_size) > kMaxInputBytes) {
    read = too_large(path);
  } else {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    read = read_capped(fd, path);
  }
  ::close(fd);
  return read;
}

// The file's bytes, or the reason it cannot be read: "-" is stdin.
std::variant<std::string, Problem> read_text(const std::string& path) {
  auto read = path == "-" ? read_capped(STDIN_FILENO, path) : read_regular_file(path);
  if (auto* text = std::get_if<std::string>(&read)) {
    if (const auto nul = text->find('\0'); nul != std::string::npos) {
      return Problem{path, "", fmt::format("a NUL byte at offset {}: not a text file", nul)};
    }
  }
  return read;
}

}  // namespace

std::variant<JsonFile, Problem> read_json_file(const std::string& path) {
  auto read = read_text(path);
  if (auto* problem = std::get_if<Problem>(&read)) return std::move(*problem);
  JsonFile file{std::get<std::string>(std::move(read)), {}};
  // Said plainly: the parser would report "unexpected end of input" at some column.
  if (file.text.empty()) return Problem{path, "", "not valid JSON: the file is empty"};
  if (file.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Problem{path, "", "not valid JSON: the file holds only white space"};
  }
  // The parser itself keeps its own stack, but dump() and the checks recurse: a value nested
  // 50,000 deep would overflow the C++ stack. Deeper containers are dropped, then refused.
  bool too_deep = false;
  const auto depth_guard = [&too_deep](int depth, nlohmann::json::parse_event_t event,
                                       const nlohmann::json&) {
    using event_t = nlohmann::json::parse_event_t;
    if ((event == event_t::object_start || event == event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  try {
    file.document = nlohmann::json::parse(file.text, depth_guard);
  } catch (const nlohmann::json::exception& error) {
    // what() starts with "[json.exception.parse_error.101] ": the id means nothing to a user.
    std::string_view message = error.what();
    if (const auto end = message.find("] "); message.starts_with('[') && end != message.npos) {
      message.remove_prefix(end + 2);
    }
    return Problem{path, "", fmt::format("not valid JSON: {}", message)};
  }
  if (too_deep) {
    return Problem{path, "", fmt::format("nested deeper than {} levels", kMaxJsonDepth)};
  }
  return file;
}

void write_atomically(const std::string& path, const std::string& text, std::string_view option) {
  injected_failure_point("io");
  std::ostringstream unused;
  OutputFile::open(path, option).write(text, unused);
}

void write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out) {
  injected_failure_point("io");
  OutputFile::open(out_path).write(text, out);
}

}  // namespace pollscope
