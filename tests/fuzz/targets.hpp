#pragma once
// The fuzz targets: each takes one input of any bytes and runs it through code that reads
// untrusted input, checking properties that must hold whatever the input. A violated
// property aborts (a crash for libFuzzer, a failure for the corpus test).
//
// Built twice: into libFuzzer binaries (scripts/fuzz, a clang build) and into the ordinary
// test suite, which feeds every seed and every input that once crashed to each target.

#include <cstddef>
#include <cstdint>

namespace chargegrid::fuzz {

// protocols::parse_rpc on the input as a frame of each OCPP version.
int rpc(const std::uint8_t* data, std::size_t size);
// protocols::validate: an action (named in the input, or picked by its first bytes), a
// direction and a JSON payload.
int validate(const std::uint8_t* data, std::size_t size);
// An HTTP request as bytes: the server's request parser, the REST API's routing, query and
// body checks, the whole request through api::Api::respond (the database unreachable), and
// the OCPP upgrade's station id and subprotocol reading.
int http(const std::uint8_t* data, std::size_t size);
// Plug & Charge's parsers: V2G CSRs, OCSP responses, contract chains and OCSP request data
// (the first byte picks which).
int pki(const std::uint8_t* data, std::size_t size);

// The station TLS stream: the input as a client's bytes, or a real client's connection
// scripted by the input (segments, a flipped byte, a cut, read sizes, close_notify).
int tls(const std::uint8_t* data, std::size_t size);

// Aborts with `what` on stderr when `condition` is false.
void require(bool condition, const char* what);

}  // namespace chargegrid::fuzz
