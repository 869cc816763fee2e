#include "security/limits.hpp"

#include <algorithm>
#include <cmath>

namespace chargegrid::server::security {

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool TokenBucket::take(Clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

double TokenBucket::wait_seconds(Clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0) return 0;
  return rate_ > 0 ? (1.0 - tokens_) / rate_ : 1e9;
}

bool TokenBucket::idle(Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  return tokens_ + std::max(0.0, elapsed) * rate_ >= burst_;
}

std::string address_key(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

ConnectionLimits::Ticket& ConnectionLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    key_ = std::move(other.key_);
    other.owner_ = nullptr;
  }
  return *this;
}

void ConnectionLimits::Ticket::release() {
  if (owner_) owner_->release(key_);
  owner_ = nullptr;
}

std::optional<ConnectionLimits::Ticket> ConnectionLimits::admit(
    const boost::asio::ip::address& address, Refusal& why) {
  auto key = address_key(address);
  std::lock_guard lock(mutex_);
  if (total_limit_ > 0 && total_ >= total_limit_) {
    why = Refusal::Total;
    return std::nullopt;
  }
  auto& count = per_address_[key];
  if (per_address_limit_ > 0 && count >= per_address_limit_) {
    why = Refusal::PerAddress;
    return std::nullopt;
  }
  ++count;
  ++total_;
  why = Refusal::None;
  return Ticket(this, std::move(key));
}

void ConnectionLimits::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  --total_;
  auto it = per_address_.find(key);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t ConnectionLimits::open() const {
  std::lock_guard lock(mutex_);
  return total_;
}

int FailureThrottle::blocked_for(const std::string& key, Clock::time_point now) {
  if (per_minute_ <= 0) return 0;
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return 0;
  const double wait = it->second.wait_seconds(now);
  return wait <= 0 ? 0 : static_cast<int>(std::ceil(wait));
}

bool FailureThrottle::record_failure(const std::string& key, Clock::time_point now) {
  if (per_minute_ <= 0) return false;
  std::lock_guard lock(mutex_);
  if (buckets_.size() > kPruneAbove) {
    std::erase_if(buckets_, [now](auto& entry) { return entry.second.idle(now); });
  }
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    // Under a flood from more sources than this remembers, new sources go uncounted; the
    // connection limits still hold.
    if (buckets_.size() >= kMaxTracked) return false;
    it = buckets_.emplace(key, TokenBucket(per_minute_ / 60.0, per_minute_, now)).first;
  }
  return it->second.take(now) && it->second.wait_seconds(now) > 0;
}

bool LogThrottle::allow(std::string_view kind, std::size_t& suppressed) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  auto& state = kinds_[std::string(kind)];
  if (now < state.next) {
    ++state.held;
    return false;
  }
  state.next = now + interval_;
  suppressed = state.held;
  state.held = 0;
  return true;
}

}  // namespace chargegrid::server::security
