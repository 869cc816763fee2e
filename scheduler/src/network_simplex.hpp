#pragma once
// Primal network simplex for minimum-cost flow with integer supplies, capacities and costs
// (spanning-tree basis, block-search pricing, strongly feasible leaving-arc rule). The basis is
// kept between solves: nodes and arcs added after a solve start from the previous optimal tree,
// so a small change costs a few pivots instead of a full solve.

#include <cstdint>
#include <vector>

namespace chargegrid::scheduler::detail {

class NetworkSimplex {
 public:
  enum class Status { optimal, infeasible, iteration_limit };

  // Supply > 0: the node sends flow; < 0: it takes flow. Supplies must sum to zero.
  int add_node(std::int64_t supply);
  // Flow from `from` to `to` within [0, capacity] at `cost` per unit.
  int add_arc(int from, int to, std::int64_t capacity, std::int64_t cost);
  // Solves from scratch on the first call and from the previous basis afterwards.
  Status solve();
  std::int64_t flow(int arc) const { return flow_[user_arcs_[arc]]; }
  std::size_t nodes() const { return user_nodes_; }
  std::size_t arcs() const { return user_arcs_.size(); }
  std::size_t pivots() const { return pivots_; }
  // Largest |cost| the artificial arcs were sized for; a later arc above it needs a new model.
  std::int64_t cost_bound() const { return cost_bound_; }

 private:
  // Internal node 0 is the artificial root; user node k is internal node k + 1.
  std::vector<std::int64_t> supply_{0};
  std::vector<int> parent_{-1}, pred_{-1}, depth_{0};
  std::vector<signed char> pred_dir_{0};  // +1: pred arc points to the parent, -1: from it
  std::vector<std::int64_t> pi_{0};
  std::vector<int> first_child_{-1}, next_sibling_{-1}, prev_sibling_{-1};
  std::vector<char> in_tree_{1};

  std::vector<int> source_, target_;
  std::vector<std::int64_t> cap_, cost_, flow_;
  std::vector<signed char> state_;  // +1 at lower bound, -1 at upper bound, 0 in the tree
  std::vector<int> user_arcs_;      // user arc -> internal arc
  std::vector<int> search_;         // arcs that may enter the basis (not the artificial ones)
  std::size_t user_nodes_ = 0;
  std::size_t next_search_ = 0;
  std::size_t pivots_ = 0;
  std::int64_t art_cost_ = 0, cost_bound_ = 0;
  std::vector<int> stack_;

  int add_internal_arc(int from, int to, std::int64_t capacity, std::int64_t cost);
  void attach(int child, int new_parent);
  void detach(int child);
  bool find_entering(int& arc);
  void pivot(int in_arc);
};

}  // namespace chargegrid::scheduler::detail
