#include "trace/symbolize.hpp"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>

#include <fmt/format.h>

namespace pollscope {

namespace {

const Dwfl_Callbacks kOfflineCallbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo,
                                          dwfl_offline_section_address, nullptr};

std::string demangled(const char* name) {
  int status = 0;
  char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || plain == nullptr) return name;
  std::string text = plain;
  std::free(plain);
  return text;
}

}  // namespace

// One file, reported at address 0 so that its addresses are the file's own (what the
// interposer recorded: the return address minus the load bias).
struct Symbolizer::Module {
  Dwfl* session = nullptr;
  Dwfl_Module* module = nullptr;
  ~Module() {
    if (session != nullptr) dwfl_end(session);
  }
};

Symbolizer::Symbolizer() = default;
Symbolizer::~Symbolizer() = default;

Symbolizer::Module* Symbolizer::module(const std::string& path) {
  auto& slot = modules_[path];
  if (slot) return slot.get();
  slot = std::make_unique<Module>();
  slot->session = dwfl_begin(&kOfflineCallbacks);
  if (slot->session == nullptr) return slot.get();
  slot->module = dwfl_report_elf(slot->session, path.c_str(), path.c_str(), -1, 0, false);
  dwfl_report_end(slot->session, nullptr, nullptr);
  return slot.get();
}

StackFrame Symbolizer::frame(const std::string& recorded) {
  if (const auto it = frames_.find(recorded); it != frames_.end()) return it->second;
  StackFrame frame{};
  const auto at = recorded.rfind('@');
  frame.module = recorded.substr(0, at);
  frame.offset =
      at == std::string::npos ? 0 : std::strtoull(recorded.c_str() + at + 1, nullptr, 16);
  const auto* found = module(frame.module);
  if (found != nullptr && found->module != nullptr && frame.offset > 0) {
    const Dwarf_Addr address = frame.offset - 1;
    if (const char* name = dwfl_module_addrname(found->module, address))
      frame.function = demangled(name);
    if (Dwfl_Line* line = dwfl_module_getsrc(found->module, address)) {
      int number = 0;
      if (const char* file = dwfl_lineinfo(line, nullptr, &number, nullptr, nullptr, nullptr)) {
        frame.file = file;
        frame.line = number;
      }
    }
  }
  frames_.emplace(recorded, frame);
  return frame;
}

std::string describe_frame(const StackFrame& frame) {
  const std::string function = frame.function.empty() ? "??" : frame.function;
  if (!frame.file.empty()) return fmt::format("{} ({}:{})", function, frame.file, frame.line);
  return fmt::format("{} ({}+0x{:x})", function, frame.module, frame.offset);
}

}  // namespace pollscope
