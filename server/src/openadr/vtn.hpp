#pragma once
// The built-in OpenADR 3.0.1 VTN on the HTTP port, for utilities without a VTN of their own:
//   POST/GET /openadr3/3.0.1/programs, GET/PUT/DELETE /openadr3/3.0.1/programs/{programID}
//   POST/GET /openadr3/3.0.1/events (programID, targetType, targetValues, skip, limit),
//   GET/PUT/DELETE /openadr3/3.0.1/events/{eventID}
//   GET /openadr3/3.0.1/reports (eventID, programID, clientName, skip, limit): each site's
//   USAGE, DEMAND and BASELINE per ended interval of the events that ask for them
// Callers present an API key of role utility (or admin) as a bearer token. A utility sees only
// the programs it created and their events, and may target only its own sites. Every change to
// an event rewrites its demand-response windows and appends "demand_response.changed" to the
// outbox in the same transaction. Errors are the specification's `problem`.

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "connections/http_connection.hpp"
#include "services.hpp"

namespace chargegrid::server::openadr {

class Vtn {
 public:
  explicit Vtn(Services& services);
  ~Vtn();
  static bool handles(const HttpRequest& request);
  boost::asio::awaitable<HttpResponse> respond(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::server::openadr
