#pragma once

// Text from a file or the command line, made safe to print: a scenario's name or description
// must not move the cursor, clear the screen or retitle the window, and a message must stay one
// line whatever file name, key or value it names.

#include <string>
#include <string_view>

namespace pollscope {

// `text` with every control character escaped: C0 and DEL as \xNN, C1 (U+0080 to U+009F, as
// UTF-8) as \u00NN, a byte that is not UTF-8 as \xNN, and the backslash doubled so that an
// escape cannot be forged.
[[nodiscard]] std::string terminal_text(std::string_view text);

// The same escapes with the backslash left as it is: for a one-line message, whose parts often
// quote values as JSON strings already (escaping again would double their backslashes).
[[nodiscard]] std::string one_line_text(std::string_view text);

}  // namespace pollscope
