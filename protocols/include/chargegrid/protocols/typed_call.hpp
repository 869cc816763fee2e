#pragma once
// The fast way in for the requests stations send most (BootNotification, StatusNotification,
// Heartbeat, Authorize, MeterValues and the transaction messages of each version): a CALL
// frame read straight into its generated request struct with simdjson, its schema checked
// while it is read, no JSON DOM built.
//
//   if (auto call = read_typed_call(frame, version)) {
//     auto& meter = std::get<v16::MeterValuesRequest>(call->request);  // valid already
//   } else {
//     ... parse_rpc(frame, version), then validate(): the errors and their paths come from there
//   }
//
// It reads only what parse_rpc + validate would accept with no error, and the struct equals
// what from_json makes of parse_rpc's payload. Anything else (another message type or action,
// any error, a member given twice, members of open objects the schema does not name, a NUL
// escape) is nullopt, and the DOM path decides.

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>

#include "chargegrid/protocols/v16/typed_requests.hpp"
#include "chargegrid/protocols/v201/typed_requests.hpp"
#include "chargegrid/protocols/v21/typed_requests.hpp"
#include "chargegrid/protocols/version.hpp"

namespace chargegrid::protocols {

namespace detail {
template <class... Lists>
struct VariantOfLists;
template <class... A, class... B, class... C>
struct VariantOfLists<std::tuple<A...>, std::tuple<B...>, std::tuple<C...>> {
  using type = std::variant<std::monostate, A..., B..., C...>;
};
}  // namespace detail

// One of the typed requests of any version (generated lists: <version>/typed_requests.hpp).
using TypedRequest = typename detail::VariantOfLists<v16::TypedRequests, v201::TypedRequests,
                                                     v21::TypedRequests>::type;

namespace detail {
template <class T, class Variant>
struct IsAlternative;
template <class T, class... A>
struct IsAlternative<T, std::variant<A...>> : std::bool_constant<(std::is_same_v<T, A> || ...)> {};
}  // namespace detail

// Whether read_typed_call reads requests of type T.
template <class T>
inline constexpr bool kIsTypedRequest = detail::IsAlternative<T, TypedRequest>::value;

struct TypedCall {
  std::string message_id;
  std::string action;
  TypedRequest request;
  // The payload's JSON text as it stands in the frame: a view into the frame passed in.
  std::string_view payload_json;
};

// Never throws, whatever the input.
std::optional<TypedCall> read_typed_call(std::string_view frame, OcppVersion version);

}  // namespace chargegrid::protocols
