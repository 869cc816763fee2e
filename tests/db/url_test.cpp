#include "chargegrid/db/url.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

using chargegrid::db::database_of;
using chargegrid::db::percent_encode;
using chargegrid::db::url_with_database;

TEST_CASE("url_with_database replaces the database of a socket URI", "[db][url]") {
  const std::string url = "postgresql:///postgres?host=/tmp/pg%20x&port=5432&user=postgres";
  CHECK(url_with_database(url, "chargegrid_test_1") ==
        "postgresql:///chargegrid_test_1?host=/tmp/pg%20x&port=5432&user=postgres");
  CHECK(database_of(url_with_database(url, "chargegrid_test_1")) == "chargegrid_test_1");
}

TEST_CASE("url_with_database keeps credentials, host and port", "[db][url]") {
  CHECK(url_with_database("postgresql://u:p@db.example:6432/app?sslmode=require", "other") ==
        "postgresql://u:p@db.example:6432/other?sslmode=require");
  CHECK(url_with_database("postgres://db.example", "other") == "postgres://db.example/other");
  CHECK(url_with_database("postgresql://db.example?sslmode=disable", "x") ==
        "postgresql://db.example/x?sslmode=disable");
}

TEST_CASE("url_with_database encodes unusual database names", "[db][url]") {
  const auto url = url_with_database("postgresql:///a", "we ird/na?me");
  CHECK(url == "postgresql:///we%20ird%2Fna%3Fme");
  CHECK(database_of(url) == "we ird/na?me");
}

TEST_CASE("url helpers reject what is not a postgresql URI", "[db][url]") {
  CHECK_THROWS_AS(url_with_database("host=/tmp dbname=x", "y"), std::invalid_argument);
  CHECK_THROWS_AS(url_with_database("", "y"), std::invalid_argument);
  CHECK_THROWS_AS(database_of("mysql://x/y"), std::invalid_argument);
  CHECK(database_of("postgresql://host") == "");
  CHECK(database_of("postgresql:///bad%zzname") == "bad%zzname");
}

TEST_CASE("percent_encode leaves unreserved characters and slashes alone", "[db][url]") {
  CHECK(percent_encode("/var/lib/pg-15_x.~") == "/var/lib/pg-15_x.~");
  CHECK(percent_encode("a b&c=d") == "a%20b%26c%3Dd");
  CHECK(percent_encode("\xC3\xA9") == "%C3%A9");
}
