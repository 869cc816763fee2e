#include "targets.hpp"

#include <cstdio>
#include <cstdlib>

namespace chargegrid::fuzz {

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace chargegrid::fuzz
