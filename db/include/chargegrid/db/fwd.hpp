#pragma once
// Declarations for headers that name the connection pool or a libpqxx connection or
// transaction without including libpqxx (their .cpp files include what they use).

namespace pqxx {
class connection_base;
class transaction_base;
}  // namespace pqxx

namespace chargegrid::db {
class ConnectionPool;
}  // namespace chargegrid::db
