#include "chargegrid/base/enum_names.hpp"

#include <catch2/catch.hpp>

namespace {

enum class Colour { Red, Green, Blue };

constexpr auto kColourNames = chargegrid::base::enum_names<Colour>({
    {Colour::Red, "red"},
    {Colour::Green, "green"},
});

// The table works at compile time too.
static_assert(kColourNames.name(Colour::Green) == "green");
static_assert(kColourNames.parse("red") == Colour::Red);

}  // namespace

TEST_CASE("enum names: each value prints as its name and parses back", "[enum_names]") {
  for (const auto& [value, name] : kColourNames.entries()) {
    CHECK(kColourNames.name(value) == name);
    CHECK(kColourNames.parse(name) == value);
  }
}

TEST_CASE("enum names: unlisted values and unknown or differently cased names", "[enum_names]") {
  CHECK(kColourNames.name(Colour::Blue).empty());
  CHECK_FALSE(kColourNames.parse("blue").has_value());
  CHECK_FALSE(kColourNames.parse("Red").has_value());
  CHECK_FALSE(kColourNames.parse("").has_value());
}
