// libFuzzer's entry point for one target, chosen at compile time (CHARGEGRID_FUZZ_TARGET).

#include <cstddef>
#include <cstdint>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return chargegrid::fuzz::CHARGEGRID_FUZZ_TARGET(data, size);
}
