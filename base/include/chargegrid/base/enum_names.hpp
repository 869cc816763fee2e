#pragma once
// A two-way table between an enum's values and the names they have on the wire or in
// configuration, so each name is spelt once and printing and parsing cannot disagree.
//
//   constexpr auto kRoleNames = base::enum_names<Role>({
//       {Role::Admin, "admin"},
//       {Role::Driver, "driver"},
//   });
//   kRoleNames.name(Role::Admin);   // "admin"
//   kRoleNames.parse("driver");     // Role::Driver

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace chargegrid::base {

template <class Enum, std::size_t N>
class EnumNames {
 public:
  using Entry = std::pair<Enum, std::string_view>;

  constexpr explicit EnumNames(const Entry (&entries)[N]) {
    for (std::size_t i = 0; i < N; ++i) entries_[i] = entries[i];
  }

  // The name of `value`; empty for a value the table does not list.
  constexpr std::string_view name(Enum value) const {
    for (const auto& [v, n] : entries_)
      if (v == value) return n;
    return {};
  }

  // The value named `text` (exact, case-sensitive), if any.
  constexpr std::optional<Enum> parse(std::string_view text) const {
    for (const auto& [v, n] : entries_)
      if (n == text) return v;
    return std::nullopt;
  }

  constexpr const std::array<Entry, N>& entries() const { return entries_; }

 private:
  std::array<Entry, N> entries_{};
};

template <class Enum, std::size_t N>
constexpr EnumNames<Enum, N> enum_names(const std::pair<Enum, std::string_view> (&entries)[N]) {
  return EnumNames<Enum, N>(entries);
}

}  // namespace chargegrid::base
