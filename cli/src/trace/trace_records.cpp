#include "trace/trace_records.hpp"

#include <charconv>
#include <sstream>

namespace pollscope {

namespace {

// `value` is left as it was unless the whole word is a number.
template <typename T>
bool parse_number(const std::string& word, T& value) {
  T parsed{};
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), parsed);
  if (error != std::errc() || end != word.data() + word.size()) return false;
  value = parsed;
  return true;
}

template <typename T>
bool read_number(std::istringstream& in, T& value) {
  std::string word;
  return static_cast<bool>(in >> word) && parse_number(word, value);
}

bool read_ctl(std::istringstream& in, TraceRecord& record) {
  if (!(read_number(in, record.epoll_fd) && read_number(in, record.fd) &&
        read_number(in, record.events) && read_number(in, record.data) &&
        read_number(in, record.result) && read_number(in, record.error)))
    return false;
  // The time (a hand-written log may leave it out), then the frames: module@offset.
  std::string word;
  for (bool first = true; in >> word; first = false) {
    if (!(first && parse_number(word, record.time))) record.frames.push_back(word);
  }
  return true;
}

// A V or Z record's data word and whether the registration was inherited.
bool read_closed(std::istringstream& in, TraceRecord& record) {
  int inherited = 0;
  if (!(read_number(in, record.data) && read_number(in, inherited))) return false;
  record.inherited = inherited != 0;
  return true;
}

bool read_fields(std::istringstream& in, TraceRecord& record) {
  switch (record.kind) {
    case 'I':
      return read_number(in, record.pid) && read_number(in, record.parent) &&
             static_cast<bool>(in >> record.executable);
    case 'C':
    case 'X':
      return read_number(in, record.epoll_fd);
    case 'A':
    case 'M':
    case 'D':
      return read_ctl(in, record);
    case 'V':
      return read_number(in, record.epoll_fd) && read_number(in, record.fd) &&
             read_number(in, record.events) && read_closed(in, record);
    case 'Z':
      return read_number(in, record.epoll_fd) && read_number(in, record.fd) &&
             read_number(in, record.keeper) && read_number(in, record.events) &&
             read_closed(in, record);
    case 'G':
      return read_number(in, record.epoll_fd) && read_number(in, record.data) &&
             read_number(in, record.count);
    case 'K':
      return read_number(in, record.epoll_fd) && read_number(in, record.fd) &&
             read_number(in, record.data) && read_number(in, record.keeper);
    case 'U':
      return read_number(in, record.epoll_fd) && read_number(in, record.fd);
    case 'N':
      return read_number(in, record.epoll_fd) && read_number(in, record.keeper);
    case 'E':
      // The program may be missing (an exec of a null path); what is there is kept.
      if (!(read_number(in, record.pid) && read_number(in, record.parent))) return false;
      in >> record.executable;
      return true;
    case 'R':
      return read_number(in, record.error);
    case 'P':
      if (!read_number(in, record.pid)) return false;
      in >> record.executable;
      return true;
    case 'Q':
      return read_number(in, record.fd);
    default:
      return false;
  }
}

}  // namespace

std::vector<TraceRecord> parse_trace_records(const std::string& text) {
  std::vector<TraceRecord> records;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() < 2 || line[1] != ' ') continue;
    std::istringstream in(line.substr(2));
    TraceRecord record;
    record.kind = line[0];
    if (read_fields(in, record)) records.push_back(std::move(record));
  }
  return records;
}

}  // namespace pollscope
