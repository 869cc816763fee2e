#pragma once
// How the command-line tools declare an option: its value's default shown in --help and, where
// given, a check of what may be passed (CLI::Range, CLI::PositiveNumber, CLI::IsMember, ...).

#include <CLI/CLI.hpp>
#include <string>
#include <utility>

namespace chargegrid::tools {

template <class T>
CLI::Option* option(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  return app.add_option(name, value, help)->capture_default_str();
}

template <class T, class Check>
CLI::Option* option(CLI::App& app, const std::string& name, T& value, const std::string& help,
                    Check&& check) {
  return option(app, name, value, help)->check(std::forward<Check>(check));
}

}  // namespace chargegrid::tools
