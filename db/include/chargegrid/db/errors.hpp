#pragma once
// Is a database failure worth trying again? Stations and clients are told "send it again
// later" only when the answer is yes: a failure that would happen again forever must be
// reported as permanent, or a station resends the same message for ever.

#include <exception>
#include <string>

namespace chargegrid::db {

enum class FailureKind {
  Transient,  // the database is away, busy or shutting down; the same work may succeed later
  Data,       // the values cannot be stored (SQLSTATE class 22 data exception, 23 constraint)
  Other,      // anything else (a programming error): trying again gives the same result
};

FailureKind classify_failure(const std::exception& error);
FailureKind classify_failure(std::exception_ptr error);

// The first line of the error's message, for a reply that must stay short.
std::string failure_summary(const std::exception& error);

}  // namespace chargegrid::db
