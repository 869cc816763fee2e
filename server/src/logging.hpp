#pragma once
// The server logs through base's structured logger as `log::info(...)`.

#include "chargegrid/base/log.hpp"

namespace chargegrid::server {
namespace log = base::log;
}  // namespace chargegrid::server
