#include "settlement/pricing.hpp"

#include <map>

namespace chargegrid::server::settlement {

Prices prices_of(const tariff::Tariff& tariff, const std::string& time_zone) {
  tariff::import_price_at(tariff, base::TimePoint{}, time_zone);  // refuses an unknown zone now
  Prices prices;
  prices.currency = tariff.currency;
  prices.import_minor_per_kwh = [tariff, time_zone](base::TimePoint t) {
    return tariff::import_price_at(tariff, t, time_zone);
  };
  prices.export_credit_minor_per_kwh = tariff.export_credit_minor_per_kwh;
  return prices;
}

std::int64_t round_thousandths_half_even(std::int64_t thousandths) {
  std::int64_t quotient = thousandths / 1000;
  std::int64_t remainder = thousandths % 1000;  // same sign as thousandths
  if (remainder < 0) {
    remainder += 1000;
    quotient -= 1;
  }
  if (remainder > 500 || (remainder == 500 && quotient % 2 != 0)) quotient += 1;
  return quotient;
}

Money price(const std::vector<Packet>& packets, const Prices& prices) {
  Money money;
  std::map<std::int64_t, std::int64_t> wh_by_price;  // import price -> Wh
  std::int64_t exported_wh = 0;
  for (const auto& p : packets) {
    if (p.imported_wh > 0) wh_by_price[prices.import_minor_per_kwh(p.start)] += p.imported_wh;
    exported_wh += p.exported_wh;
  }
  std::int64_t exact = 0;  // thousandths of a minor unit
  for (const auto& [unit_price, wh] : wh_by_price) {
    const std::int64_t amount = wh * unit_price;
    exact += amount;
    money.components.push_back(
        {"energy", unit_price, "kWh", wh, round_thousandths_half_even(amount)});
  }
  if (exported_wh > 0 && prices.export_credit_minor_per_kwh != 0) {
    const std::int64_t credit = -exported_wh * prices.export_credit_minor_per_kwh;
    exact += credit;
    money.components.push_back({"export_credit", prices.export_credit_minor_per_kwh, "kWh",
                                exported_wh, round_thousandths_half_even(credit)});
  }
  money.exact_thousandths = exact;
  money.total_minor = round_thousandths_half_even(exact);
  return money;
}

}  // namespace chargegrid::server::settlement
