// Authorization: Authorize against the token table.

#include <pqxx/pqxx>

#include "common.hpp"

namespace chargegrid::server::handlers {

using protocols::OcppVersion;

namespace {

Handler authorize(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const bool v16 = ctx.version == OcppVersion::v16;
    const auto token = v16 ? ctx.payload.at("idTag").get<std::string>()
                           : ctx.payload.at("idToken").at("idToken").get<std::string>();
    if (!v16 && ctx.payload.at("idToken").at("type") == "NoAuthorization")
      co_return CallReply::ok({{"idTokenInfo", {{"status", "Accepted"}}}});
    auto check = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return check_token(tx, token, services.config.accept_unknown_tokens);
    });
    if (v16) co_return CallReply::ok({{"idTagInfo", id_tag_info_16(check)}});
    co_return CallReply::ok({{"idTokenInfo", id_token_info_201(check)}});
  };
}

}  // namespace

void register_authorization(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "Authorize", authorize(services));
  add_201_and_21(registry, "Authorize", authorize(services));
}

}  // namespace chargegrid::server::handlers
