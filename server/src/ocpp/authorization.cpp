// Authorization: Authorize against the token table.

#include "events/domain_events.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/associations.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

Handler authorize(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const bool v16 = ctx.version == OcppVersion::v16;
    const auto id_token = adapters::read<IdToken>(ctx.version, ctx.payload);
    const auto& token = id_token.value;
    if (id_token.type == "NoAuthorization")
      co_return CallReply::ok({{"idTokenInfo", {{"status", "Accepted"}}}});
    // In a transaction shared with other stations' session writes (StateWriters).
    TokenCheck check;
    SessionWrite item{ctx.station_id, [&](store::Tx& tx) {
                        check = check_token(tx, token, services.config.accept_unknown_tokens);
                        // A driver's token at a station associates the driver with it; the
                        // session that follows takes the association over (see 0002_api.sql).
                        if (check.status == "Accepted" && check.driver_id)
                          store::associations::authorized(tx, ctx.station_id, *check.driver_id,
                                                          token);
                      }};
    co_await services.writers.session_writes.write(std::move(item));
    if (check.status == "Accepted" && check.driver_id) {
      services.events.publish(events::AssociationCreated{
          ctx.station_id,
          *check.driver_id,
          {{"driver_id", *check.driver_id}, {"source", "authorize"}, {"id_token", token}}});
    }
    if (v16) co_return CallReply::ok({{"idTagInfo", id_tag_info_16(check)}});
    co_return CallReply::ok({{"idTokenInfo", id_token_info_201(check)}});
  };
}

}  // namespace

void register_authorization(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "Authorize", authorize(services));
  add_201_and_21(registry, "Authorize", authorize(services));
}

}  // namespace chargegrid::server::ocpp
