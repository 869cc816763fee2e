#include "store/sql_arrays.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store {

std::string text_array(std::span<const std::string> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string integer_array(const std::vector<std::int64_t>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(items[i]);
  }
  out += '}';
  return out;
}

std::string patch_column(const std::string& column, const std::string& key, const std::string& type,
                         int param) {
  const auto p = "$" + std::to_string(param) + "::jsonb";
  return column + " = CASE WHEN " + p + " ? '" + key + "' THEN (" + p + "->>'" + key +
         "')::" + type + " ELSE " + column + " END";
}

void ArrayLiteral::add(const std::string& value) {
  separate();
  out_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out_ += '\\';
    out_ += c;
  }
  out_ += '"';
}

void ArrayLiteral::add_null() {
  separate();
  out_ += "NULL";
}

// pqxx::to_string writes doubles that read back exactly.
void ArrayLiteral::add_number(double value) {
  separate();
  out_ += pqxx::to_string(value);
}

void ArrayLiteral::add_int(long long value) {
  separate();
  out_ += std::to_string(value);
}

void ArrayLiteral::add_or_null(const std::optional<std::string>& value) {
  value ? add(*value) : add_null();
}

void ArrayLiteral::add_int_or_null(const std::optional<long long>& value) {
  value ? add_int(*value) : add_null();
}

}  // namespace chargegrid::server::store
