#include "chargegrid/db/errors.hpp"

#include <pqxx/except>

#include "chargegrid/db/pool.hpp"

namespace chargegrid::db {

FailureKind classify_failure(const std::exception& error) {
  if (dynamic_cast<const DatabaseUnavailable*>(&error) || dynamic_cast<const PoolFull*>(&error) ||
      dynamic_cast<const PoolStopped*>(&error) ||
      dynamic_cast<const pqxx::broken_connection*>(&error) ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error))
    return FailureKind::Transient;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string state = sql->sqlstate();
    const std::string klass = state.substr(0, 2);
    // 08 connection, 40 rollback (serialization, deadlock), 53 resources, 57 operator
    // intervention (shutdown), 58 system error: conditions of the moment.
    if (klass == "08" || klass == "40" || klass == "53" || klass == "57" || klass == "58")
      return FailureKind::Transient;
    if (klass == "22" || klass == "23") return FailureKind::Data;
    return FailureKind::Other;
  }
  return FailureKind::Other;
}

FailureKind classify_failure(std::exception_ptr error) {
  if (!error) return FailureKind::Other;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return classify_failure(e);
  } catch (...) {
    return FailureKind::Other;
  }
}

std::string failure_summary(const std::exception& error) {
  std::string text = error.what();
  if (auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  constexpr std::size_t kMax = 200;
  if (text.size() > kMax) text.resize(kMax);
  return text;
}

}  // namespace chargegrid::db
