#include "network_simplex.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace chargegrid::scheduler::detail {
namespace {

constexpr std::int64_t unbounded = std::numeric_limits<std::int64_t>::max() / 4;
constexpr int root = 0;

}  // namespace

int NetworkSimplex::add_node(std::int64_t supply) {
  supply_.push_back(supply);
  parent_.push_back(-1);
  pred_.push_back(-1);
  depth_.push_back(0);
  pred_dir_.push_back(0);
  pi_.push_back(0);
  first_child_.push_back(-1);
  next_sibling_.push_back(-1);
  prev_sibling_.push_back(-1);
  in_tree_.push_back(0);
  return static_cast<int>(user_nodes_++);
}

int NetworkSimplex::add_internal_arc(int from, int to, std::int64_t capacity, std::int64_t cost) {
  source_.push_back(from);
  target_.push_back(to);
  cap_.push_back(capacity);
  cost_.push_back(cost);
  flow_.push_back(0);
  state_.push_back(1);
  return static_cast<int>(source_.size()) - 1;
}

int NetworkSimplex::add_arc(int from, int to, std::int64_t capacity, std::int64_t cost) {
  int arc = add_internal_arc(from + 1, to + 1, std::max<std::int64_t>(capacity, 0), cost);
  user_arcs_.push_back(arc);
  search_.push_back(arc);
  return static_cast<int>(user_arcs_.size()) - 1;
}

void NetworkSimplex::attach(int child, int new_parent) {
  parent_[child] = new_parent;
  prev_sibling_[child] = -1;
  next_sibling_[child] = first_child_[new_parent];
  if (first_child_[new_parent] >= 0) prev_sibling_[first_child_[new_parent]] = child;
  first_child_[new_parent] = child;
}

void NetworkSimplex::detach(int child) {
  int p = parent_[child];
  if (prev_sibling_[child] >= 0)
    next_sibling_[prev_sibling_[child]] = next_sibling_[child];
  else
    first_child_[p] = next_sibling_[child];
  if (next_sibling_[child] >= 0) prev_sibling_[next_sibling_[child]] = prev_sibling_[child];
  parent_[child] = -1;
}

// Block search: scan blocks of candidate arcs and take the most violating arc of the first
// block that has one.
bool NetworkSimplex::find_entering(int& arc) {
  const std::size_t count = search_.size();
  if (count == 0) return false;
  const std::size_t block =
      std::max<std::size_t>(10, static_cast<std::size_t>(std::sqrt(double(count))));
  std::int64_t best = 0;
  std::size_t left = block;
  for (std::size_t k = 0; k < count; ++k) {
    std::size_t at = next_search_ + k;
    if (at >= count) at -= count;
    int e = search_[at];
    std::int64_t c = state_[e] * (cost_[e] + pi_[source_[e]] - pi_[target_[e]]);
    if (c < best) {
      best = c;
      arc = e;
      next_search_ = at;
    }
    if (--left == 0) {
      if (best < 0) return true;
      left = block;
    }
  }
  return best < 0;
}

void NetworkSimplex::pivot(int in) {
  int first = state_[in] == 1 ? source_[in] : target_[in];
  int second = state_[in] == 1 ? target_[in] : source_[in];
  int a = first, b = second;
  while (a != b) {
    if (depth_[a] > depth_[b]) {
      a = parent_[a];
    } else if (depth_[b] > depth_[a]) {
      b = parent_[b];
    } else {
      a = parent_[a];
      b = parent_[b];
    }
  }
  const int join = a;

  // Leaving arc: the blocking arc met last along the cycle's orientation (keeps the tree
  // strongly feasible, which rules out cycling on degenerate pivots).
  std::int64_t delta = cap_[in];
  int u_out = -1, side = 0;
  for (int u = first; u != join; u = parent_[u]) {
    int e = pred_[u];
    std::int64_t d = pred_dir_[u] == 1 ? flow_[e] : cap_[e] - flow_[e];
    if (d < delta) {
      delta = d;
      u_out = u;
      side = 1;
    }
  }
  for (int u = second; u != join; u = parent_[u]) {
    int e = pred_[u];
    std::int64_t d = pred_dir_[u] == 1 ? cap_[e] - flow_[e] : flow_[e];
    if (d <= delta) {
      delta = d;
      u_out = u;
      side = 2;
    }
  }

  if (delta > 0) {
    std::int64_t val = state_[in] * delta;
    flow_[in] += val;
    for (int u = source_[in]; u != join; u = parent_[u]) flow_[pred_[u]] -= pred_dir_[u] * val;
    for (int u = target_[in]; u != join; u = parent_[u]) flow_[pred_[u]] += pred_dir_[u] * val;
  }
  if (side == 0) {
    state_[in] = static_cast<signed char>(-state_[in]);
    return;
  }

  // Re-hang the subtree cut off by the leaving arc from the entering arc.
  const int u_in = side == 1 ? first : second;
  const int v_in = side == 1 ? second : first;
  const int out = pred_[u_out];
  std::vector<int> path;
  for (int u = u_in;; u = parent_[u]) {
    path.push_back(u);
    if (u == u_out) break;
  }
  std::vector<int> old_pred(path.size());
  std::vector<signed char> old_dir(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    old_pred[i] = pred_[path[i]];
    old_dir[i] = pred_dir_[path[i]];
  }
  for (int u : path) detach(u);
  attach(u_in, v_in);
  pred_[u_in] = in;
  pred_dir_[u_in] = source_[in] == u_in ? 1 : -1;
  for (std::size_t i = 1; i < path.size(); ++i) {
    attach(path[i], path[i - 1]);
    pred_[path[i]] = old_pred[i - 1];
    pred_dir_[path[i]] = static_cast<signed char>(-old_dir[i - 1]);
  }
  state_[in] = 0;
  state_[out] = flow_[out] == 0 ? 1 : -1;

  // Potentials and depths of the moved subtree.
  std::int64_t new_pi = source_[in] == u_in ? pi_[v_in] - cost_[in] : pi_[v_in] + cost_[in];
  std::int64_t sigma = new_pi - pi_[u_in];
  stack_.clear();
  stack_.push_back(u_in);
  while (!stack_.empty()) {
    int u = stack_.back();
    stack_.pop_back();
    pi_[u] += sigma;
    depth_[u] = depth_[parent_[u]] + 1;
    for (int c = first_child_[u]; c >= 0; c = next_sibling_[c]) stack_.push_back(c);
  }
}

NetworkSimplex::Status NetworkSimplex::solve() {
  if (art_cost_ == 0) {
    for (int e : search_)
      cost_bound_ = std::max(cost_bound_, static_cast<std::int64_t>(std::llabs(cost_[e])));
    // Above the cost of any path of real arcs, with room for nodes added later.
    art_cost_ = (cost_bound_ + 1) * (8 * static_cast<std::int64_t>(supply_.size()) + 64);
  }
  std::int64_t max_nodes = art_cost_ / (cost_bound_ + 1);
  for (int e : search_)
    if (static_cast<std::int64_t>(std::llabs(cost_[e])) > cost_bound_)
      return Status::iteration_limit;
  if (static_cast<std::int64_t>(supply_.size()) > max_nodes) return Status::iteration_limit;

  // New nodes hang from the root by an artificial arc carrying their supply.
  for (std::size_t u = 1; u < supply_.size(); ++u) {
    if (in_tree_[u]) continue;
    in_tree_[u] = 1;
    int node = static_cast<int>(u);
    int arc;
    if (supply_[u] >= 0) {
      arc = add_internal_arc(node, root, unbounded, 0);
      flow_[arc] = supply_[u];
      pred_dir_[u] = 1;
      pi_[u] = 0;
    } else {
      arc = add_internal_arc(root, node, unbounded, art_cost_);
      flow_[arc] = -supply_[u];
      pred_dir_[u] = -1;
      pi_[u] = art_cost_;
    }
    state_[arc] = 0;
    pred_[u] = arc;
    depth_[u] = 1;
    attach(node, root);
  }

  const std::size_t limit = 200 * (search_.size() + supply_.size()) + 10000;
  std::size_t done = 0;
  int in = -1;
  while (find_entering(in)) {
    pivot(in);
    ++pivots_;
    if (++done > limit) return Status::iteration_limit;
  }
  for (std::size_t e = 0; e < source_.size(); ++e)
    if ((source_[e] == root || target_[e] == root) && flow_[e] != 0) return Status::infeasible;
  return Status::optimal;
}

}  // namespace chargegrid::scheduler::detail
