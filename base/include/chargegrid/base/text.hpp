// Small text helpers shared by every module.
#pragma once

#include <string>
#include <string_view>

namespace chargegrid::base {

// The text up to its first newline: database and library errors run over several lines
// (detail, hint, query), and a log line or an API problem wants the first.
inline std::string first_line(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

}  // namespace chargegrid::base
