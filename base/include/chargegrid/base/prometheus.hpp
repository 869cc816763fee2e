// The Prometheus text exposition format (version 0.0.4): one renderer for every metric.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace chargegrid::base::prometheus {

enum class Type { kCounter, kGauge, kHistogram };

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4";

// A label value with '\', '"' and newline escaped.
std::string escape_label_value(std::string_view value);

using Label = std::pair<std::string_view, std::string_view>;
// `name="value",...` (values escaped), for a sample's braces or as a key kept between scrapes.
std::string labels(std::initializer_list<Label> labels);

// A sample value: integers as they are, others in their shortest exact form, and +Inf, -Inf,
// NaN as Prometheus spells them.
std::string format_value(double value);
template <std::integral T>
std::string format_value(T value) {
  return std::to_string(value);
}

// Appends families to `out`: a header, then its samples.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  // "# HELP name help" and "# TYPE name type".
  Writer& family(std::string_view name, std::string_view help, Type type);

  // `name{labels} value`; `labels` as made by labels() (empty: no braces).
  template <class T>
  Writer& sample(std::string_view name, std::string_view rendered_labels, T value) {
    return sample_text(name, rendered_labels, format_value(value));
  }
  template <class T>
  Writer& sample(std::string_view name, T value) {
    return sample_text(name, {}, format_value(value));
  }

  // A family with one unlabelled sample.
  template <class T>
  Writer& counter(std::string_view name, std::string_view help, T value) {
    return family(name, help, Type::kCounter).sample(name, value);
  }
  template <class T>
  Writer& gauge(std::string_view name, std::string_view help, T value) {
    return family(name, help, Type::kGauge).sample(name, value);
  }

  // A histogram from its per-bucket (not yet cumulative) counts: one more count than bounds,
  // the last for values above every bound.
  Writer& histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                    std::span<const std::uint64_t> counts, double sum, std::uint64_t count);

 private:
  Writer& sample_text(std::string_view name, std::string_view rendered_labels,
                      std::string_view value);

  std::string& out_;
};

}  // namespace chargegrid::base::prometheus
