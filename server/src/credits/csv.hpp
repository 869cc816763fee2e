#pragma once
// CSV (RFC 4180) as the credit programme exchanges it: writing report rows, and reading the
// authority's credit files strictly (a malformed row is refused with its number, never guessed).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::server::credits {

// One field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(std::string_view text);
// Fields joined by commas, ended by CRLF.
std::string csv_line(const std::vector<std::string>& fields);

struct CsvRow {
  std::size_t line = 0;  // 1-based line of the file where the row starts
  std::vector<std::string> fields;
};
struct CsvParse {
  std::vector<CsvRow> rows;          // every record, the header included; blank lines skipped
  std::optional<std::string> error;  // "line N: ..." for a quote left open or stray text
};
CsvParse parse_csv(std::string_view text);

}  // namespace chargegrid::server::credits
