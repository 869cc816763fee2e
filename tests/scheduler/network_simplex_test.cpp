// The planner's min-cost-flow solver on its own: known optima, infeasible and degenerate
// networks, the iteration limit, nodes and arcs added after a solve, and random networks
// against an independent successive-shortest-path solver.

#include "network_simplex.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <vector>

using chargegrid::scheduler::detail::NetworkSimplex;
using Status = NetworkSimplex::Status;

namespace {

struct Arc {
  int from, to;
  std::int64_t capacity, cost;
};

struct Network {
  std::vector<std::int64_t> supply;
  std::vector<Arc> arcs;
};

std::int64_t cost_of(const NetworkSimplex& solver, const Network& net) {
  std::int64_t total = 0;
  for (std::size_t a = 0; a < net.arcs.size(); ++a)
    total += solver.flow(static_cast<int>(a)) * net.arcs[a].cost;
  return total;
}

// Flow within bounds and conserved at every node.
void check_feasible(const NetworkSimplex& solver, const Network& net) {
  std::vector<std::int64_t> balance = net.supply;
  for (std::size_t a = 0; a < net.arcs.size(); ++a) {
    const auto f = solver.flow(static_cast<int>(a));
    CHECK(f >= 0);
    CHECK(f <= net.arcs[a].capacity);
    balance[net.arcs[a].from] -= f;
    balance[net.arcs[a].to] += f;
  }
  for (auto b : balance) CHECK(b == 0);
}

// Successive shortest paths with Bellman-Ford (negative costs allowed, no negative cycles in
// the random networks below since they are acyclic); nullopt when the supplies cannot be met.
std::optional<std::int64_t> reference_cost(const Network& net) {
  const int n = static_cast<int>(net.supply.size()) + 2;
  const int source = n - 2, sink = n - 1;
  struct Edge {
    int to;
    std::int64_t cap, cost;
    int rev;
  };
  std::vector<std::vector<Edge>> g(n);
  auto add = [&](int u, int v, std::int64_t cap, std::int64_t cost) {
    g[u].push_back({v, cap, cost, static_cast<int>(g[v].size())});
    g[v].push_back({u, 0, -cost, static_cast<int>(g[u].size()) - 1});
  };
  std::int64_t need = 0;
  for (int v = 0; v < n - 2; ++v) {
    if (net.supply[v] > 0) add(source, v, net.supply[v], 0), need += net.supply[v];
    if (net.supply[v] < 0) add(v, sink, -net.supply[v], 0);
  }
  for (const auto& a : net.arcs) add(a.from, a.to, a.capacity, a.cost);
  std::int64_t flow = 0, cost = 0;
  const auto inf = std::numeric_limits<std::int64_t>::max() / 4;
  while (flow < need) {
    std::vector<std::int64_t> dist(n, inf);
    std::vector<int> prev_node(n, -1), prev_edge(n, -1);
    dist[source] = 0;
    for (int round = 0; round < n; ++round) {
      bool changed = false;
      for (int u = 0; u < n; ++u) {
        if (dist[u] == inf) continue;
        for (int e = 0; e < static_cast<int>(g[u].size()); ++e) {
          const auto& edge = g[u][e];
          if (edge.cap > 0 && dist[u] + edge.cost < dist[edge.to]) {
            dist[edge.to] = dist[u] + edge.cost;
            prev_node[edge.to] = u;
            prev_edge[edge.to] = e;
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    if (dist[sink] == inf) return std::nullopt;
    std::int64_t push = need - flow;
    for (int v = sink; v != source; v = prev_node[v])
      push = std::min(push, g[prev_node[v]][prev_edge[v]].cap);
    for (int v = sink; v != source; v = prev_node[v]) {
      auto& edge = g[prev_node[v]][prev_edge[v]];
      edge.cap -= push;
      g[v][edge.rev].cap += push;
    }
    flow += push;
    cost += push * dist[sink];
  }
  return cost;
}

NetworkSimplex build(const Network& net) {
  NetworkSimplex solver;
  for (auto s : net.supply) solver.add_node(s);
  for (const auto& a : net.arcs) solver.add_arc(a.from, a.to, a.capacity, a.cost);
  return solver;
}

}  // namespace

TEST_CASE("NetworkSimplex finds a known optimum", "[scheduler][network-simplex]") {
  // Two suppliers, two consumers: the cheap routes are full, the rest goes the dear way.
  Network net{{5, 3, -4, -4},
              {{0, 2, 3, 1}, {0, 3, 10, 4}, {1, 2, 10, 3}, {1, 3, 2, 1}, {0, 1, 10, 1}}};
  auto solver = build(net);
  REQUIRE(solver.solve() == Status::optimal);
  check_feasible(solver, net);
  CHECK(cost_of(solver, net) == *reference_cost(net));
  CHECK(solver.flow(0) == 3);  // the 1-cost route to node 2 is full
}

TEST_CASE("NetworkSimplex reports an infeasible network", "[scheduler][network-simplex]") {
  SECTION("not enough capacity") {
    Network net{{5, -5}, {{0, 1, 3, 1}}};
    auto solver = build(net);
    CHECK(solver.solve() == Status::infeasible);
  }
  SECTION("no path at all") {
    Network net{{2, 0, -2}, {{0, 1, 5, 1}}};
    auto solver = build(net);
    CHECK(solver.solve() == Status::infeasible);
  }
}

TEST_CASE("NetworkSimplex copes with degenerate networks", "[scheduler][network-simplex]") {
  // Zero supplies, zero-capacity arcs, parallel arcs of equal cost, a zero-cost cycle.
  Network net{{0, 4, 0, -4},
              {{1, 0, 4, 0},
               {0, 2, 0, 1},
               {0, 3, 2, 2},
               {0, 3, 2, 2},
               {1, 3, 1, 2},
               {2, 0, 5, 0},
               {0, 2, 5, 0}}};
  auto solver = build(net);
  REQUIRE(solver.solve() == Status::optimal);
  check_feasible(solver, net);
  CHECK(cost_of(solver, net) == 8);
  CHECK(solver.flow(1) == 0);
  // Solving again changes nothing.
  REQUIRE(solver.solve() == Status::optimal);
  CHECK(cost_of(solver, net) == 8);
}

TEST_CASE("NetworkSimplex asks for a new model past what its artificial costs cover",
          "[scheduler][network-simplex]") {
  Network net{{1, -1}, {{0, 1, 1, 10}}};
  auto solver = build(net);
  REQUIRE(solver.solve() == Status::optimal);
  CHECK(solver.cost_bound() == 10);
  // An arc dearer than any the artificial arcs were sized for: the answer would be wrong.
  solver.add_arc(0, 1, 1, 11);
  CHECK(solver.solve() == Status::iteration_limit);
}

TEST_CASE("NetworkSimplex solves from its previous basis after nodes and arcs are added",
          "[scheduler][network-simplex]") {
  std::mt19937 random(42);
  Network net{{6, -3, -3}, {{0, 1, 6, 2}, {0, 2, 6, 3}, {1, 2, 6, 1}}};
  auto solver = build(net);
  REQUIRE(solver.solve() == Status::optimal);
  CHECK(cost_of(solver, net) == *reference_cost(net));
  for (int round = 0; round < 20; ++round) {
    // A new pair of nodes (a vehicle and its need, say) joined to the network.
    std::uniform_int_distribution<int> amount(1, 4), cost(0, 3);
    const auto a = amount(random);
    const int supplier = static_cast<int>(net.supply.size());
    net.supply.push_back(a);
    net.supply.push_back(-a);
    solver.add_node(a);
    solver.add_node(-a);
    std::vector<Arc> added{{supplier, supplier + 1, a, cost(random)},
                           {supplier, 0, 10, cost(random)},
                           {2, supplier + 1, 10, cost(random)}};
    for (const auto& arc : added) {
      net.arcs.push_back(arc);
      solver.add_arc(arc.from, arc.to, arc.capacity, arc.cost);
    }
    const auto before = solver.pivots();
    REQUIRE(solver.solve() == Status::optimal);
    check_feasible(solver, net);
    CHECK(cost_of(solver, net) == *reference_cost(net));
    // A warm start: a few pivots, never a solve from scratch's worth.
    auto fresh = build(net);
    REQUIRE(fresh.solve() == Status::optimal);
    CHECK(solver.pivots() - before <= fresh.pivots() + 2);
  }
}

TEST_CASE("NetworkSimplex agrees with successive shortest paths on random networks",
          "[scheduler][network-simplex]") {
  std::mt19937 random(20261205);
  int infeasible = 0;
  for (int instance = 0; instance < 300; ++instance) {
    std::uniform_int_distribution<int> size(2, 9), capacity(0, 6), cost(-5, 9), supply(0, 5);
    const int n = size(random);
    Network net;
    net.supply.assign(n, 0);
    // Sources come first, sinks last: arcs go forward only, so there is no negative cycle.
    std::int64_t total = 0;
    for (int v = 0; v < n / 2; ++v) total += net.supply[v] = supply(random);
    for (std::int64_t left = total; left > 0;) {
      const int v = n / 2 + static_cast<int>(random() % static_cast<unsigned>(n - n / 2));
      const std::int64_t part = std::min<std::int64_t>(left, 1 + random() % 3);
      net.supply[v] -= part;
      left -= part;
    }
    for (int u = 0; u < n; ++u)
      for (int v = u + 1; v < n; ++v)
        if (random() % 3 != 0) net.arcs.push_back({u, v, capacity(random), cost(random)});
    auto solver = build(net);
    const auto status = solver.solve();
    const auto expected = reference_cost(net);
    INFO("instance " << instance);
    if (!expected) {
      CHECK(status == Status::infeasible);
      ++infeasible;
      continue;
    }
    REQUIRE(status == Status::optimal);
    check_feasible(solver, net);
    CHECK(cost_of(solver, net) == *expected);
  }
  // Both kinds were exercised.
  CHECK(infeasible > 10);
  CHECK(infeasible < 290);
}
