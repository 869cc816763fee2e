#pragma once
// A database transaction as the repositories take it. The repositories (this folder) are the
// one place that writes SQL; their callers hold a transaction without seeing libpqxx, and
// compose several repository calls in one commit.

namespace pqxx {
class transaction_base;
}

namespace chargegrid::server::store {

using Tx = pqxx::transaction_base;

}  // namespace chargegrid::server::store
