#include "io/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace pollscope {

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The file's bytes, or the reason it cannot be read.
std::variant<std::string, Problem> read_text(const std::string& path) {
  const auto cannot_read = [&](int code) {
    return Problem{path, "", fmt::format("cannot read: {}", std::generic_category().message(code))};
  };
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return cannot_read(errno);
  std::string text;
  std::array<char, 16384> buffer;
  std::size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    text.append(buffer.data(), read);
  }
  if (std::ferror(file.get())) return cannot_read(errno);  // a directory: EISDIR
  return text;
}

[[noreturn]] void cannot_write(const std::string& path, int error) {
  throw Failure::environment(path + ": cannot write: " + std::strerror(error));
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
  try {
    file.document = nlohmann::json::parse(file.text);
  } catch (const nlohmann::json::exception& error) {
    // what() starts with "[json.exception.parse_error.101] ": the id means nothing to a user.
    std::string_view message = error.what();
    if (const auto end = message.find("] "); message.starts_with('[') && end != message.npos) {
      message.remove_prefix(end + 2);
    }
    return Problem{path, "", fmt::format("not valid JSON: {}", message)};
  }
  return file;
}

void write_atomically(const std::string& path, const std::string& text) {
  injected_failure_point("io");
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) cannot_write(path, errno);
  const auto give_up = [&](int error) {
    ::unlink(temporary.c_str());
    cannot_write(path, error);
  };
  for (std::size_t written = 0; written < text.size();) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      give_up(error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    give_up(error);
  }
  if (::close(fd) != 0) give_up(errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) give_up(errno);
}

void write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out) {
  if (!out_path) {
    out << text << std::flush;
    return;
  }
  write_atomically(*out_path, text);
}

}  // namespace pollscope
