#pragma once

// Where a command's document goes, settled before the command does any work: a path that cannot
// take the document is refused before a run starts, not after it.

#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace pollscope {

// One document's destination.
//   - no path, or "-": the stream given to write (stdout);
//   - one of this process's descriptors (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N):
//     written directly at its offset, whatever it is (a pipe, or a file the shell opened with
//     `>` or `>>`), never opened again or renamed over;
//   - a character device, FIFO or socket (/dev/null, a named pipe): opened now, written
//     directly, never renamed over;
//   - a regular file, a symlink to one, or a new name in an existing folder: a temporary file is
//     created now next to the target (the symlink's target, not the link) and renamed onto it
//     once the document is written, so the target never holds a partial document; a file this
//     process may not write (read-only to it) is refused, not renamed over;
//   - a directory, a missing folder or anything else: refused (exit 2).
// A destination that cannot be written is a Failure (exit 3) at open, not at write; so is a FIFO
// or pipe whose reader went away while it was written (EPIPE, never a silent SIGPIPE). The
// temporary file never outlives the object; SIGINT and SIGTERM that arrive while it exists are
// held until it is renamed or removed, then take their usual effect.
class OutputFile {
 public:
  // `option` names the destination in a refusal: "--out PATH: is a directory".
  [[nodiscard]] static OutputFile open(const std::optional<std::string>& path,
                                       std::string_view option = "--out");

  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  // Writes the whole document and closes the destination. Throws a Failure (exit 3).
  void write(const std::string& text, std::ostream& out);
  // The same, the document given in pieces written one after another: a large one (a pcap) is
  // never copied into one string first.
  void write(std::span<const std::string_view> pieces, std::ostream& out);

  // The name reports and messages give the destination.
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  OutputFile() = default;
  void open_descriptor(int descriptor);
  void open_stream(const std::string& target);
  void open_temporary(const std::string& target, bool exists, unsigned mode);
  void release();

  std::string name_ = "(stdout)";
  std::string option_;     // the option that gave the path
  std::string target_;     // the file renamed onto; "" unless atomic
  std::string temporary_;  // "" once renamed or removed
  int fd_ = -1;            // -1 for stdout
  bool holds_signals_ = false;
};

// Refuses now what OutputFile::open would refuse, and keeps nothing open: for a document written
// later or again and again (trace --interval), after work that must stay interruptible
// meanwhile (ab's rounds: an open OutputFile holds SIGINT).
void check_destination(const std::optional<std::string>& path, std::string_view option = "--out");

// SIGINT and SIGTERM held (noted, not acted on) from the first hold_signals() to the last
// matching release_signals(), which restores the handlers there were before the first and
// raises a signal that arrived meanwhile. OutputFile holds them while its temporary file exists.
void hold_signals();
void release_signals();
// The signal held since the first hold_signals() (or the last take), 0 when none arrived; ab asks
// it between waits for a build. take_held_signal() also forgets it: the release raises nothing.
[[nodiscard]] int pending_held_signal();
int take_held_signal();

// Whether two destinations (as OutputFile::open takes them: none or "-" is stdout) would write
// to the same place: the same descriptor of this process, the same file (through links, a
// descriptor's file, or a name neither has created yet), or the same pipe. Two character devices
// never count (/dev/null twice is no mix-up). Refuses what OutputFile::open refuses on a link.
[[nodiscard]] bool same_destination(const std::optional<std::string>& one,
                                    const std::optional<std::string>& other,
                                    std::string_view option = "--out");

}  // namespace pollscope
