#pragma once

// Text from a file, made safe to print on a terminal: a scenario's name or description must not
// move the cursor, clear the screen or retitle the window.

#include <string>
#include <string_view>

namespace pollscope {

// `text` with every control character escaped: C0 and DEL as \xNN, C1 (U+0080 to U+009F, as
// UTF-8) as \u00NN, and the backslash doubled so that an escape cannot be forged.
[[nodiscard]] std::string terminal_text(std::string_view text);

}  // namespace pollscope
