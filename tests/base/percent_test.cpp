#include "chargegrid/base/percent.hpp"

#include <catch2/catch.hpp>

using namespace chargegrid::base;

TEST_CASE("percent-decoding reads escapes in either case", "[base][percent]") {
  CHECK(percent_decode("CP%2D1") == std::optional<std::string>("CP-1"));
  CHECK(percent_decode("a%2fb%2Fc") == std::optional<std::string>("a/b/c"));
  CHECK(percent_decode("%C3%A9") == std::optional<std::string>("\xC3\xA9"));
  CHECK(percent_decode("") == std::optional<std::string>(""));
  CHECK(percent_decode("100%25") == std::optional<std::string>("100%"));
}

TEST_CASE("'+' is a space only in form-encoded text", "[base][percent]") {
  CHECK(percent_decode("a+b") == std::optional<std::string>("a+b"));
  CHECK(percent_decode("a+b%2B", {.plus_is_space = true}) == std::optional<std::string>("a b+"));
}

TEST_CASE("percent-decoding refuses malformed escapes and says why", "[base][percent]") {
  for (std::string_view bad : {"%", "%2", "a%", "CP%2", "%zz", "%g0", "%0g", "%%41", "%+1"}) {
    INFO(bad);
    PercentError error = PercentError::kNul;
    CHECK_FALSE(percent_decode(bad, {}, &error).has_value());
    CHECK(error == PercentError::kMalformedEscape);
  }
}

TEST_CASE("percent-decoding refuses %00 unless told to keep it", "[base][percent]") {
  PercentError error = PercentError::kMalformedEscape;
  CHECK_FALSE(percent_decode("a%00b", {}, &error).has_value());
  CHECK(error == PercentError::kNul);
  CHECK(percent_decode("a%00b", {.refuse_nul = false}) ==
        std::optional<std::string>(std::string("a\0b", 3)));
  // A malformed escape after a NUL is still malformed.
  CHECK_FALSE(percent_decode("%00%zz", {.refuse_nul = false}).has_value());
}

TEST_CASE("lenient percent-decoding keeps what it cannot read", "[base][percent]") {
  CHECK(percent_decode_lenient("bad%zzname") == "bad%zzname");
  CHECK(percent_decode_lenient("we%20ird%2Fna%3Fme") == "we ird/na?me");
  CHECK(percent_decode_lenient("tail%2") == "tail%2");
  CHECK(percent_decode_lenient("%") == "%");
}

TEST_CASE("percent-encoding escapes all but unreserved characters", "[base][percent]") {
  CHECK(percent_encode("a b&c=d") == "a%20b%26c%3Dd");
  CHECK(percent_encode("/var/lib/pg-15_x.~") == "%2Fvar%2Flib%2Fpg-15_x.~");
  CHECK(percent_encode("/var/lib/pg-15_x.~", "/") == "/var/lib/pg-15_x.~");
  CHECK(percent_encode("\xC3\xA9") == "%C3%A9");
  CHECK(percent_encode(std::string_view("\0", 1)) == "%00");
  CHECK(percent_decode(percent_encode("we ird/na?me")) ==
        std::optional<std::string>("we ird/na?me"));
}
