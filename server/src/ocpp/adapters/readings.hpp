#pragma once
// The meter readings of a message (MeterValues, StopTransaction's transactionData,
// TransactionEvent's meterValue), whatever generated type each version and message gives
// them: `sample(s)` reads one sampled value; the loop sets each sample's JSON pointer.

#include <string>
#include <string_view>
#include <vector>

#include "ocpp/messages.hpp"

namespace chargegrid::server::ocpp::adapters {

// `path` is the array's JSON pointer, a string literal: the samples keep a view of it.
template <class MeterValueType, class ReadSample>
std::vector<MeterValue> readings(const std::vector<MeterValueType>& values, std::string_view path,
                                 ReadSample sample) {
  std::vector<MeterValue> out;
  out.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& value = values[i];
    MeterValue reading{value.timestamp, {}};
    reading.samples.reserve(value.sampledValue.size());
    for (std::size_t j = 0; j < value.sampledValue.size(); ++j) {
      SampledValue read = sample(value.sampledValue[j]);
      read.array = path;
      read.value_index = i;
      read.sample_index = j;
      reading.samples.push_back(std::move(read));
    }
    out.push_back(std::move(reading));
  }
  return out;
}

}  // namespace chargegrid::server::ocpp::adapters
