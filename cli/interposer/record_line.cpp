// The interposer's records: one line each, numbers written by hand (snprintf costs more than the
// rest of a record together), and the stack of an ADD as module@offset frames.

#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <sys/syscall.h>

#include <cstdint>

#include "interposer.hpp"

namespace pollscope::interposer {

namespace {

// One executable segment of a loaded module: where its code is, and its load bias.
struct CodeRange {
  std::uintptr_t start;
  std::uintptr_t end;
  std::uintptr_t bias;
  const char* module;  // the loader's string, valid while the module is loaded
};
constexpr int kMaxCodeRanges = 512;

CodeRange code_ranges[kMaxCodeRanges];
int code_range_count = 0;  // changed under the state's lock (Line::stack runs under a Guard)

// The code ranges, read again from the loader (a module may have been loaded since): cheaper by
// far than dladdr, which searches the symbol tables for every frame.
int add_code_ranges(dl_phdr_info* info, std::size_t, void*) {
  const char* module = (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0')
                           ? info->dlpi_name
                           : executable_path();
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_X) == 0) continue;
    if (code_range_count == kMaxCodeRanges) return 1;
    const std::uintptr_t start = info->dlpi_addr + header.p_vaddr;
    code_ranges[code_range_count++] = {start, start + header.p_memsz, info->dlpi_addr, module};
  }
  return 0;
}

const CodeRange* find_code_range(std::uintptr_t address) {
  for (int i = 0; i < code_range_count; ++i) {
    const auto& range = code_ranges[i];
    if (address >= range.start && address < range.end) return &range;
  }
  return nullptr;
}

const CodeRange* code_range_of(std::uintptr_t address) {
  if (const auto* range = find_code_range(address)) return range;
  ::dl_iterate_phdr(add_code_ranges, nullptr);
  return find_code_range(address);
}

}  // namespace

Line::Line(char kind) {
  buffer_[size_++] = kind;
}

Line& Line::text(const char* value) {
  if (size_ + 1 < sizeof buffer_) buffer_[size_++] = ' ';
  for (; *value != '\0' && size_ + 2 < sizeof buffer_; ++value)
    buffer_[size_++] = (*value == ' ' || *value == '\n') ? '_' : *value;
  return *this;
}

// snprintf costs more than the rest of a record together; numbers are written by hand.
void Line::append_digits(std::uint64_t value, unsigned base, char separator) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value != 0);
  if (size_ + static_cast<unsigned>(count) + 2 >= sizeof buffer_) return;
  if (separator != '\0') buffer_[size_++] = separator;
  while (count > 0) buffer_[size_++] = digits[--count];
}

Line& Line::number(std::int64_t value) {
  if (value >= 0) {
    append_digits(static_cast<std::uint64_t>(value), 10, ' ');
    return *this;
  }
  text("-");
  append_digits(0 - static_cast<std::uint64_t>(value), 10, '\0');
  return *this;
}

Line& Line::unsigned_number(std::uint64_t value) {
  append_digits(value, 10, ' ');
  return *this;
}

Line& Line::stack() {
  void* frames[32];
  const int count = ::backtrace(frames, 32);
  for (int i = 1; i < count; ++i) {  // frame 0 is this function
    const auto address = reinterpret_cast<std::uintptr_t>(frames[i]);
    const CodeRange* range = code_range_of(address);
    if (range == nullptr) continue;
    text(range->module);
    append_digits(address - range->bias, 16, '@');
  }
  return *this;
}

void Line::write() {
  buffer_[size_++] = '\n';
  const int fd = verified_log();
  if (fd >= 0) libc_syscall(SYS_write, fd, buffer_, size_);
}

void Line::write_unowned() {
  buffer_[size_++] = '\n';
  write_to_own_log(buffer_, size_);
}

}  // namespace pollscope::interposer
