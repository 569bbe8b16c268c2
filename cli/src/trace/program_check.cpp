#include "trace/program_check.hpp"

#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace pollscope {

namespace {

std::optional<std::string> in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream directories(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string directory; std::getline(directories, directory, ':');) {
    const auto candidate = (directory.empty() ? "." : directory) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// A script's interpreter: "#!/usr/bin/python3 -u" or "#!/usr/bin/env python3".
std::optional<std::string> interpreter_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line.rfind("#!", 0) != 0) return std::nullopt;
  std::istringstream words(line.substr(2));
  std::string interpreter;
  std::string argument;
  words >> interpreter >> argument;
  if (interpreter == "/usr/bin/env" && !argument.empty()) return in_path(argument);
  return interpreter;
}

bool has_section(Elf* elf, const char* wanted) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return false;
  for (Elf_Scn* section = nullptr; (section = elf_nextscn(elf, section)) != nullptr;) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr) continue;
    const char* name = elf_strptr(elf, names, header.sh_name);
    if (name != nullptr && std::strcmp(name, wanted) == 0) return true;
  }
  return false;
}

bool has_interpreter(Elf* elf) {
  std::size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return false;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr header;
    if (gelf_getphdr(elf, static_cast<int>(i), &header) != nullptr && header.p_type == PT_INTERP)
      return true;
  }
  return false;
}

}  // namespace

std::string program_name(const std::string& program) {
  if (program.empty()) return program;
  const auto path = program.find('/') == std::string::npos ? in_path(program) : program;
  if (!path) return program;
  std::error_code error;
  // weakly_canonical resolves what exists and normalises the rest (a program since deleted).
  auto name = std::filesystem::weakly_canonical(std::filesystem::absolute(*path, error), error);
  if (error) name = std::filesystem::path(*path).lexically_normal();
  return name.string();
}

std::optional<std::string> program_file(const std::string& name) {
  auto path = in_path(name);
  if (!path) return std::nullopt;
  for (int depth = 0; depth < 4; ++depth) {
    auto interpreter = interpreter_of(*path);
    if (!interpreter) break;
    path = interpreter;
  }
  return program_name(*path);
}

std::optional<std::string> untraceable_reason(const std::string& path) {
  elf_version(EV_CURRENT);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // running it will say what is wrong
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  std::optional<std::string> reason;
  if (elf != nullptr && elf_kind(elf) == ELF_K_ELF) {
    if (has_section(elf, ".go.buildinfo") || has_section(elf, ".note.go.buildid")) {
      reason =
          "is a Go program: it makes its system calls itself, where LD_PRELOAD cannot see "
          "them";
    } else if (!has_interpreter(elf)) {
      reason = "is statically linked: no dynamic loader will load the interposer into it";
    }
  }
  if (elf != nullptr) elf_end(elf);
  ::close(fd);
  return reason;
}

std::string exec_obstacle(const std::string& program) {
  const auto path = program.empty() ? std::nullopt : program_file(program);
  if (!path) return "did not load the interposer";
  if (const auto reason = untraceable_reason(*path)) return *reason;
  struct stat status {};
  if (::stat(path->c_str(), &status) == 0 && (status.st_mode & (S_ISUID | S_ISGID)) != 0)
    return (status.st_mode & S_ISUID) != 0
               ? "is set-user-ID: the loader ignores LD_PRELOAD for it"
               : "is set-group-ID: the loader ignores LD_PRELOAD for it";
  if (::getxattr(path->c_str(), "security.capability", nullptr, 0) >= 0)
    return "has file capabilities: the loader ignores LD_PRELOAD for it";
  return "did not load the interposer (it clears LD_PRELOAD, is built for another machine, or "
         "ended before its first instruction)";
}

Finding untraced_finding(pid_t pid, const std::string& program, const char* how) {
  Finding finding;
  finding.kind = "untraced";
  finding.severity = Severity::kError;
  finding.pid = pid;
  finding.detail = fmt::format(
      "{} {}, which {}: nothing it did was traced (pollscope inspect PID reads a live process's "
      "registrations from the kernel)",
      how, program.empty() ? "a program" : program, exec_obstacle(program));
  return finding;
}

}  // namespace pollscope
