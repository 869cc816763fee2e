#include "chargegrid/base/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>

namespace chargegrid::base::prometheus {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string labels(std::initializer_list<Label> labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

Writer& Writer::family(std::string_view name, std::string_view help, Type type) {
  const char* type_name = type == Type::kCounter ? "counter"
                          : type == Type::kGauge ? "gauge"
                                                 : "histogram";
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type_name);
  return *this;
}

Writer& Writer::sample_text(std::string_view name, std::string_view rendered_labels,
                            std::string_view value) {
  out_ += name;
  if (!rendered_labels.empty()) {
    out_ += '{';
    out_ += rendered_labels;
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
  return *this;
}

Writer& Writer::histogram(std::string_view name, std::string_view help,
                          std::span<const double> bounds, std::span<const std::uint64_t> counts,
                          double sum, std::uint64_t count) {
  family(name, help, Type::kHistogram);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    sample(bucket, labels({{"le", le}}), cumulative);
  }
  sample(std::string(name) + "_sum", sum);
  sample(std::string(name) + "_count", count);
  return *this;
}

}  // namespace chargegrid::base::prometheus
