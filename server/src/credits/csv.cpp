#include "credits/csv.hpp"

namespace chargegrid::server::credits {

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
  return line + "\r\n";
}

CsvParse parse_csv(std::string_view text) {
  CsvParse out;
  std::size_t line = 1, i = 0;
  while (i < text.size()) {
    CsvRow row;
    row.line = line;
    std::string field;
    bool ended = false;
    while (!ended) {
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size()) {
            out.error = "line " + std::to_string(row.line) + ": a quoted field is not closed";
            return out;
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          out.error = "line " + std::to_string(line) + ": text after a closing quote";
          return out;
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          if (text[i] == '"') {
            out.error = "line " + std::to_string(line) + ": a quote inside an unquoted field";
            return out;
          }
          field += text[i++];
        }
      }
      row.fields.push_back(std::move(field));
      field.clear();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '\r') ++i;
      if (i < text.size() && text[i] == '\n') ++i;
      ++line;
      ended = true;
    }
    const bool blank = row.fields.size() == 1 && row.fields[0].empty();
    if (!blank) out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace chargegrid::server::credits
