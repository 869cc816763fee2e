#include "chargegrid/ledger/jcs.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/ledger/codec.hpp"
#include "test_data.hpp"

using namespace chargegrid::ledger;
using chargegrid::ledger::testing::data_dir;
using chargegrid::ledger::testing::read_file;

TEST_CASE("every RFC 8785 reference vector canonicalises to its expected bytes", "[jcs]") {
  int cases = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(data_dir() / "jcs-vectors" / "input")) {
    auto name = entry.path().filename();
    INFO(name.string());
    std::string expected = read_file(data_dir() / "jcs-vectors" / "output" / name);
    CHECK(canonicalize(read_file(entry.path())) == expected);
    // The hex spelling of the expected bytes agrees with the output file.
    std::string hex =
        read_file(data_dir() / "jcs-vectors" / "outhex" / name.replace_extension(".txt"));
    std::string compact;
    for (char c : hex) {
      if (std::isxdigit(static_cast<unsigned char>(c)))
        compact.push_back(static_cast<char>(std::tolower(c)));
    }
    CHECK(compact == hex_encode(Bytes(expected.begin(), expected.end())));
    ++cases;
  }
  CHECK(cases == 6);
}

TEST_CASE("ECMAScript number serialisation", "[jcs]") {
  CHECK(es6_number(0.0) == "0");
  CHECK(es6_number(-0.0) == "0");
  CHECK(es6_number(1) == "1");
  CHECK(es6_number(-1.5) == "-1.5");
  CHECK(es6_number(1e21) == "1e+21");
  CHECK(es6_number(1e20) == "100000000000000000000");
  CHECK(es6_number(123456789012345680000.0) == "123456789012345680000");
  CHECK(es6_number(0.000001) == "0.000001");
  CHECK(es6_number(0.0000001) == "1e-7");
  CHECK(es6_number(5e-324) == "5e-324");
  CHECK(es6_number(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(es6_number(9007199254740992.0) == "9007199254740992");
  CHECK(es6_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK_THROWS_AS(es6_number(std::numeric_limits<double>::infinity()), CanonicalJsonError);
  CHECK_THROWS_AS(es6_number(std::numeric_limits<double>::quiet_NaN()), CanonicalJsonError);
}

TEST_CASE("integers beyond 2^53 are refused rather than rounded", "[jcs]") {
  CHECK(canonicalize("[9007199254740992,-9007199254740992]") ==
        "[9007199254740992,-9007199254740992]");
  CHECK_THROWS_AS(canonicalize("[9007199254740993]"), CanonicalJsonError);
  CHECK_THROWS_AS(canonicalize("[-9007199254740993]"), CanonicalJsonError);
  CHECK_THROWS_AS(canonicalize("[18446744073709551615]"), CanonicalJsonError);
}

TEST_CASE("different spellings of the same value share one canonical form", "[jcs]") {
  auto a = canonicalize(R"({ "b" : [1, 2.0, "\u00e9"], "a" : {"y": null, "x": true} })");
  auto b = canonicalize("{\"a\":{\"x\":true,\"y\":null},\"b\":[1,2,\"\xc3\xa9\"]}");
  CHECK(a == b);
  CHECK(a == "{\"a\":{\"x\":true,\"y\":null},\"b\":[1,2,\"\xc3\xa9\"]}");
  CHECK(canonicalize(R"("\u001f\u007f")") == "\"\\u001f\x7f\"");
  CHECK_THROWS(canonicalize("{\"a\":"));
  CHECK_THROWS(canonicalize(R"(["\ud800"])"));
}
