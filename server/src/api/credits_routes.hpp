#pragma once
// The credits resources: regulator energy reports (reports_routes.cpp) and credit imports,
// balances and station owners (credits_routes.cpp).

#include "api/context.hpp"

namespace chargegrid::server::api {

void add_report_routes(Router&, ApiContext&);
void add_credit_routes(Router&, ApiContext&);

}  // namespace chargegrid::server::api
