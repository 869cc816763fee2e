#pragma once
// SQL building blocks for the repositories: PostgreSQL array literals for passing many values
// as one parameter ($1::text[]), and columns set from a JSON merge-patch.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace chargegrid::server::store {

// {"a","b"} with quotes and backslashes escaped.
std::string text_array(std::span<const std::string> items);
// {1,2,3}
std::string integer_array(const std::vector<std::int64_t>& items);

// "column = CASE WHEN $n ? 'key' THEN ($n->>'key')::type ELSE column END": a column that a
// JSON merge-patch in parameter $n may set (null clears it).
std::string patch_column(const std::string& column, const std::string& key, const std::string& type,
                         int param = 2);

// An array literal built value by value, NULLs and numbers included, for unnest() of many
// columns at once.
class ArrayLiteral {
 public:
  void add(const std::string& value);
  void add_null();
  void add_number(double value);
  void add_int(long long value);
  // The value, or NULL when there is none.
  void add_or_null(const std::optional<std::string>& value);
  void add_int_or_null(const std::optional<long long>& value);
  std::string str() const { return "{" + out_ + "}"; }

 private:
  void separate() {
    if (!out_.empty()) out_ += ',';
  }
  std::string out_;
};

}  // namespace chargegrid::server::store
