#!/usr/bin/env python3
"""The OpenAPI 3.1 description of ChargeGrid's REST API, and what is made from it.

    openapi.py --json OUT.json        the document served at /api/v1/openapi.json
    openapi.py --cpp OUT.cpp          the same, embedded in the server
    openapi.py --markdown OUT.md      the API reference (docs/api.md)

The server checks request bodies against the component schemas defined here, and
a test checks that the routes the server serves and the paths here are the same.
"""

import argparse
import json
import sys

ADMIN, MANAGER, UTILITY, DRIVER = "admin", "facility_manager", "utility", "driver"
OPERATORS = [ADMIN, MANAGER]
EVERYONE = [ADMIN, MANAGER, UTILITY, DRIVER]

# ---- schema helpers -------------------------------------------------------


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=(), closed=True, description=None):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def nullable(schema):
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    return out


def string(description=None, **extra):
    s = {"type": "string", **extra}
    if description:
        s["description"] = description
    return s


def integer(description=None, **extra):
    s = {"type": "integer", **extra}
    if description:
        s["description"] = description
    return s


TIME = string(format="date-time")
ID = integer(minimum=1)
TOKEN_TYPES = ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
               "NoAuthorization"]

# The demand-response targets OpenADR events name a site by.
VEN_NAME = nullable(string("The OpenADR VEN acting for the site (its venName)", minLength=1,
                           maxLength=200))
POWER_SERVICE_LOCATION = nullable(string(
    "The grid connection point as an OpenADR POWER_SERVICE_LOCATION target: an EAN-18, 18 digits "
    "ending in a valid GS1 check digit (else 422)", minLength=18, maxLength=18))
# What a driver declares of a stay (smart charging): it replaces the predicted median.
DECLARATION = {
    "departure_time": string("When the vehicle leaves (RFC 3339, in the future)",
                             format="date-time"),
    "energy_wh": integer("Energy the vehicle needs in this session, Wh", minimum=0),
    "target_soc": {"type": "number", "minimum": 0, "maximum": 100,
                   "description": "State of charge to reach, percent (with ISO 15118 SoC)"}}
NULLABLE_INT = {"type": ["integer", "null"]}
# The built-in holiday calendars (scheduler/holidays.hpp; a test checks the two agree).
HOLIDAY_CALENDARS = ["NO"]
DATE = string("A local date of the site (RFC 3339 full-date, e.g. 2026-12-24)", format="date")

SCHEMAS = {
    "Problem": obj({
        "type": string(), "title": string(), "status": integer(), "detail": string(
            "What went wrong and what to change"), "instance": string(),
        "command_id": integer("For command failures: the audit log entry")},
        ["title", "status", "detail"], closed=False,
        description="RFC 9457 problem details"),
    "Location": obj({
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "altitude_m": {"type": ["number", "null"], "description": "Metres above the WGS84 ellipsoid"},
    }, ["latitude", "longitude"], description="WGS84 geodetic position"),
    "Site": obj({
        "id": ID, "name": string(), "address": nullable(string()),
        "location": {"oneOf": [ref("Location"), {"type": "null"}]},
        "time_zone": string("IANA time zone, e.g. Europe/Oslo"),
        "import_limit_w": nullable(integer(minimum=0)),
        "export_limit_w": nullable(integer(minimum=0)),
        "ven_name": nullable(string("The OpenADR VEN acting for the site")),
        "power_service_location": nullable(string("The grid connection point's EAN-18")),
        "station_count": integer(), "created_at": TIME, "updated_at": TIME}, closed=False),
    "SiteCreate": obj({
        "name": string(minLength=1, maxLength=200), "address": nullable(string(maxLength=500)),
        "location": {"oneOf": [ref("Location"), {"type": "null"}]},
        "time_zone": string("IANA time zone name (default UTC)", maxLength=64),
        "import_limit_w": nullable(integer("Grid connection import limit, W", minimum=0)),
        "export_limit_w": nullable(integer("Grid connection export limit, W", minimum=0)),
        "ven_name": VEN_NAME, "power_service_location": POWER_SERVICE_LOCATION,
    }, ["name"]),
    "SitePatch": obj({
        "name": string(minLength=1, maxLength=200), "address": nullable(string(maxLength=500)),
        "location": {"oneOf": [ref("Location"), {"type": "null"}]},
        "time_zone": string(maxLength=64),
        "import_limit_w": nullable(integer(minimum=0)),
        "export_limit_w": nullable(integer(minimum=0)),
        "ven_name": VEN_NAME, "power_service_location": POWER_SERVICE_LOCATION,
    }),
    "ImportBand": obj({
        "days": {"type": "array", "items": string(enum=["mon", "tue", "wed", "thu", "fri", "sat",
                                                        "sun"]),
                 "description": "Days of the week the band applies to, each at most once"},
        "from": string("Local time HH:MM in the site's time zone, inclusive"),
        "to": string("Local time HH:MM, exclusive and later than from; 24:00 ends the day"),
        "price_minor_per_kwh": integer("Import price, minor currency units per kWh, ≥ 0")},
        description="An import price for some hours of some days"),
    "DischargeBand": obj({
        "soc_from": {"type": "number", "description": "State of charge %, inclusive, 0..100"},
        "soc_to": {"type": "number",
                   "description": "State of charge %, exclusive (100 inclusive), above soc_from"},
        "price_minor_per_kwh": integer("Price paid for discharged energy, minor units per kWh")},
        description="The price for energy a vehicle discharges within a state-of-charge range"),
    "Tariff": obj({
        "currency": string("ISO 4217 alphabetic code, e.g. EUR"),
        "import": {"type": "array", "items": ref("ImportBand"), "maxItems": 1000,
                   "description": "Every minute of the week covered by exactly one band"},
        "export_credit_minor_per_kwh": integer("Credit for exported energy, ≥ 0 (default 0)"),
        "demand_response_credit_minor_per_kwh": integer(
            "Credit per kWh of flexibility delivered during demand-response windows, ≥ 0 "
            "(default 0; docs/settlement.md)"),
        "discharge_price_by_soc": {"type": "array", "items": ref("DischargeBand"), "maxItems": 100,
                                   "description": "Non-overlapping bands; none: no discharge"}},
        description="A site's tariff (docs/tariffs.md). currency and import are required. A "
                    "tariff that does not add up (a gap or an overlap in the week, a bad time, "
                    "currency or price, overlapping discharge bands) answers 422 whose detail "
                    "names the member and whose pointer is its JSON pointer."),
    "HolidayDate": obj({
        "date": DATE,
        "name": nullable(string("What the day is, e.g. Christmas Eve", minLength=1,
                                maxLength=200))},
        ["date"], description="A holiday of the site's own"),
    "SiteHolidays": obj({
        "calendar": {"type": ["string", "null"], "enum": HOLIDAY_CALENDARS + [None],
                     "description": "A built-in calendar whose holidays the site keeps (NO: "
                                    "Norway's public holidays with Christmas Eve and New Year's "
                                    "Eve), or null for none"},
        "dates": {"type": "array", "items": ref("HolidayDate"), "maxItems": 1000,
                  "description": "The site's own holidays (each date once; answered by date)"}},
        ["calendar", "dates"],
        description="A site's public holidays, which smart charging's departure prediction "
                    "counts as Sundays (docs/smart-charging.md). A calendar the server does not "
                    "have or a date listed twice answers 422 naming the member."),
    "HolidayInForce": obj({
        "date": DATE, "name": nullable(string()),
        "source": string("calendar: the site's calendar's; site: one of its own dates (which "
                         "wins where both name a date)", enum=["calendar", "site"])},
        closed=False),
    "SiteHolidaysInForce": obj({
        "calendar": nullable(string()), "dates": {"type": "array", "items": ref("HolidayDate")},
        "from": DATE, "to": DATE,
        "in_force": {"type": "array", "items": ref("HolidayInForce"),
                     "description": "Every holiday from from to to (both included), by date: "
                                    "the calendar's and the site's own"}},
        ["calendar", "dates"], closed=False,
        description="The site's holidays as set; with ?from=&to= also those in force then"),
    "Connector": obj({
        "evse_id": integer(), "connector_id": integer(), "status": string(),
        "error_code": nullable(string()), "reported_at": TIME}, closed=False),
    "Station": obj({
        "id": string(), "name": nullable(string()), "site_id": nullable(integer()),
        "registration": string(enum=["pending", "accepted", "rejected"]),
        "security_profile": integer(minimum=0, maximum=3),
        "has_password": {"type": "boolean"}, "password_set_at": nullable(TIME),
        "protocol": nullable(string()), "online": {"type": "boolean"},
        "online_since": nullable(TIME),
        "last_seen_at": dict(nullable(TIME), description=(
            "When the station was last heard from (any message or connection), to within a "
            "minute")),
        "boot_info": {"type": "object", "description": "What the station said in BootNotification"},
        "connectors": {"type": "array", "items": ref("Connector")},
        "associations": {"type": "array", "items": ref("Association")},
        "registered_at": TIME}, closed=False),
    "StationCreate": obj({
        "id": string("The identity in the station's connection URL", minLength=1, maxLength=48),
        "name": nullable(string(maxLength=200)), "site_id": nullable(ID),
        "security_profile": integer("OCPP security profile (docs/security.md)", minimum=0, maximum=3),
        "registration": string(enum=["pending", "accepted", "rejected"]),
    }, ["id"]),
    "StationPatch": obj({
        "name": nullable(string(maxLength=200)), "site_id": nullable(ID),
        "security_profile": integer(minimum=0, maximum=3),
        "registration": string("accepted approves a pending station; rejected disconnects it",
                               enum=["pending", "accepted", "rejected"]),
    }),
    "StationPassword": obj({
        "password": string("16 to 40 characters; omit to have one generated",
                           minLength=16, maxLength=40),
        "send_to_station": {"type": "boolean", "description":
                            "Send it to the station first and store it only if accepted "
                            "(default: when the station is online)"},
    }),
    "PasswordResult": obj({
        "station_id": string(), "password_set_at": TIME, "sent_to_station": {"type": "boolean"},
        "password": string("Only when generated: shown once"), "command_id": integer()},
        closed=False),
    "Evse": obj({
        "evse_id": integer(), "connectors": {"type": ["array", "null"], "items": ref("Connector")},
        "active_session_id": nullable(integer()), "driver_id": nullable(integer())}, closed=False),
    "EvsePower": obj({
        "station_id": string(), "evse_id": integer(),
        "max_power_w": nullable({"type": "number", "description": "The most it delivers, W"}),
        "phases": nullable(integer("1 or 3")),
        "bidirectional": {"type": "boolean", "description": "Whether it can discharge a vehicle"},
        "updated_at": nullable(TIME),
        "connectors": {"type": "array", "items": ref("Connector"),
                       "description": "As the station last reported them"}}, closed=False,
        description="An EVSE's power model as the operator describes it (null: not described) "
                    "and its connectors as the station reports them"),
    "EvsePowerPatch": obj({
        "max_power_w": nullable({"type": "number", "description": "Positive, W (else 422)"}),
        "phases": nullable(integer("1 or 3 (else 422)")),
        "bidirectional": {"type": "boolean"}},
        description="Members absent stay as they are; null clears"),
    "StatusChange": obj({
        "id": integer(), "evse_id": integer(), "connector_id": integer(), "status": string(),
        "error_code": nullable(string()), "info": nullable(string()), "reported_at": TIME,
        "received_at": TIME}, closed=False),
    "SecurityEvent": obj({
        "id": integer(), "type": string(), "occurred_at": TIME, "tech_info": nullable(string()),
        "received_at": TIME}, closed=False),
    "Token": obj({
        "id_token": string(), "type": nullable(string()), "status": string(),
        "blocked": {"type": "boolean"}, "valid_from": nullable(TIME),
        "valid_until": nullable(TIME), "parent_id_tag": nullable(string()),
        "driver_id": nullable(integer()), "created_at": TIME}, closed=False),
    "TokenCreate": obj({
        "id_token": string("RFID UID, app token or ISO 15118 eMAID", minLength=1, maxLength=36),
        "type": string(enum=TOKEN_TYPES), "valid_from": nullable(TIME),
        "valid_until": nullable(TIME), "blocked": {"type": "boolean"},
        "parent_id_tag": nullable(string(maxLength=36))}, ["id_token"]),
    "TokenPatch": obj({
        "type": string(enum=TOKEN_TYPES), "valid_from": nullable(TIME),
        "valid_until": nullable(TIME), "blocked": {"type": "boolean"},
        "parent_id_tag": nullable(string(maxLength=36))}),
    "Driver": obj({
        "id": integer(), "name": string(), "email": nullable(string()),
        "site_id": nullable(integer()), "created_at": TIME, "updated_at": TIME,
        "tokens": {"type": "array", "items": ref("Token")}}, closed=False),
    "DriverCreate": obj({
        "name": string(minLength=1, maxLength=200), "email": nullable(string(maxLength=320)),
        "site_id": nullable(ID)}, ["name"]),
    "DriverPatch": obj({
        "name": string(minLength=1, maxLength=200), "email": nullable(string(maxLength=320)),
        "site_id": nullable(ID)}),
    "Session": obj({
        "id": integer(), "station_id": string(), "site_id": nullable(integer()),
        "evse_id": nullable(integer()), "connector_id": nullable(integer()),
        "protocol": string(), "station_transaction_id": string(),
        "status": string(enum=["active", "ended"]), "charging_state": nullable(string()),
        "id_token": nullable(string()), "driver_id": nullable(integer()),
        "started_at": nullable(TIME), "ended_at": nullable(TIME),
        "stop_reason": nullable(string()), "meter_start_wh": nullable(integer()),
        "meter_stop_wh": nullable(integer()),
        "energy_imported_wh": {"type": ["number", "null"]},
        "energy_exported_wh": {"type": ["number", "null"]},
        "association": {"type": ["object", "null"]}, "updated_at": TIME}, closed=False),
    "MeterKey": obj({
        "station_id": string(), "evse_id": integer(),
        "public_key": string("DER SubjectPublicKeyInfo, lowercase hex"),
        "source": string(enum=["registered", "learnt"]), "created_at": TIME,
        "updated_at": TIME}, closed=False),
    "MeterKeyPut": obj({
        "public_key": string("The meter's DER SubjectPublicKeyInfo, hex or base64",
                             minLength=1, maxLength=4096)}, ["public_key"]),
    "Settlement": obj({
        "id": string(), "session_id": integer(), "station_id": string(),
        "site_id": nullable(integer()),
        "status": string(enum=["verified", "unsigned", "invalid"]),
        "reason": nullable(string("Why the signed meter data is invalid: key_mismatch, "
                                  "signature_invalid, unsupported_algorithm, malformed, "
                                  "meter_error, register_backwards, single_reading, "
                                  "key_missing")),
        "record": obj({}, closed=False, description="The canonical SettlementRecord "
                      "(docs/settlement-record.schema.json)"),
        "log_index": integer(), "currency": nullable(string()), "total_minor": integer(),
        "energy_imported_wh": integer(), "energy_exported_wh": integer(),
        "started_at": TIME, "ended_at": TIME, "settled_at": TIME,
        "settlement_kind": string("docs/settlement.md#interim-settlements: interim (one day of "
                                  "a session still running) or final",
                                  enum=["interim", "final"]),
        "interim_number": nullable(integer("1 for a session's first day, ...; null for a "
                                           "final settlement")),
        "previous_settlement_id": nullable(string("The session's settlement before this one")),
        "adapters": {"type": "array", "items": obj({
            "name": string(), "state": string(enum=["delivered", "pending"]),
            "delivered_at": nullable(TIME)}, ["name", "state", "delivered_at"], closed=False)}},
        closed=False),
    "MeterValue": obj({
        "sampled_at": TIME, "measurand": string(), "phase": string(), "location": string(),
        "context": string(), "value": {"type": ["number", "null"]}, "unit": string(),
        "format": string(), "signed_data": nullable(string())}, closed=False),
    "Association": obj({
        "id": integer(), "station_id": string(), "evse_id": nullable(integer()),
        "driver_id": integer(), "id_token": nullable(string()),
        "source": string(enum=["claim", "authorize", "transaction"]),
        "session_id": nullable(integer()), "started_at": TIME, "ended_at": nullable(TIME),
        "end_reason": nullable(string()), "active": {"type": "boolean"}}, closed=False),
    "AssociationCreate": obj({
        "station_id": string(minLength=1, maxLength=48),
        "evse_id": integer("Omit for the whole station", minimum=1),
        "driver_id": integer("Required except for driver keys (their own driver)", minimum=1),
        **DECLARATION},
        ["station_id"]),
    "SessionPatch": obj(dict(DECLARATION)),
    "Declaration": obj({
        "session_id": integer(), "station_id": string(), "departure_time": nullable(TIME),
        "energy_wh": NULLABLE_INT, "target_soc": {"type": ["number", "null"]},
        "declared_at": TIME}, closed=False),
    "ChargingProfile": obj({
        "id": integer(), "profile_id": integer("The chargingProfileId the station received"),
        "kind": string(enum=["set", "clear"]), "purpose": string(), "station_id": string(),
        "evse_id": integer(), "session_id": NULLABLE_INT, "start_at": nullable(TIME),
        "rate_unit": nullable(string(enum=["W", "A"])),
        "schedule": {"type": "object", "description": "The version-neutral schedule sent"},
        "command_id": NULLABLE_INT,
        "outcome": nullable(string(description="answered, call_error, timeout, offline, ...")),
        "status": nullable(string(description="The station's status: Accepted, Rejected, ...")),
        "sent_at": TIME, "answered_at": nullable(TIME)}, closed=False),
    "ScheduleSlot": obj({
        "start": TIME, "end": TIME, "import_limit_w": NULLABLE_INT, "export_limit_w": NULLABLE_INT,
        "baseline_w": integer("Load not under control (offline stations, rejected profiles)"),
        "planned_import_w": integer(), "planned_export_w": integer(),
        "flex_up_w": integer("How much more the site could import within its limit"),
        "flex_down_w": integer("How much less the controlled vehicles could take"),
        "import_price_minor_per_kwh": NULLABLE_INT, "export_price_minor_per_kwh": NULLABLE_INT,
        "event_ids": {"type": "array", "items": string(),
                      "description": "Demand-response events in force"}}, closed=False),
    "ScheduleVehicle": obj({
        "session_id": integer(), "station_id": string(), "evse_id": integer(),
        "departure_p10": TIME, "departure_p50": TIME, "departure_p90": TIME,
        "departure_source": string(enum=["declared", "iso15118", "predicted"]),
        "energy_need_wh": integer("Still to deliver"),
        "energy_source": string(enum=["declared", "iso15118", "predicted"]),
        "planned_energy_wh": integer(), "max_power_w": integer(),
        "min_power_w": integer("Below it the vehicle draws nothing (6 A per phase on AC unless "
                               "ISO 15118 reports its minimum current; 0 on DC): planned 0 or "
                               "at least this"),
        "control": string(enum=["controlled", "station_offline", "profile_rejected"]),
        "power_w": {"type": "array", "items": integer(), "description": "One per slot"}},
        closed=False),
    "Schedule": obj({
        "site_id": integer(), "from": TIME, "to": TIME, "slot_seconds": integer(),
        "planned_at": nullable(TIME),
        "planned_reason": nullable(string("What made the latest plan: arrival, departure, "
                                          "demand_response, slot_boundary, ...")),
        "planned_by": nullable(string("The cluster node that made the latest plan (null "
                                      "outside cluster mode)")),
        "currency": string("ISO 4217 code of the slots' prices (the site's tariff); absent "
                           "without a tariff"),
        "slots": {"type": "array", "items": ref("ScheduleSlot")},
        "vehicles": {"type": "array", "items": ref("ScheduleVehicle")}}, closed=False),
    "ApiKey": obj({
        "id": integer(), "name": string(), "role": string(enum=EVERYONE),
        "site_ids": {"type": "array", "items": integer()}, "driver_id": nullable(integer()),
        "created_at": TIME, "last_used_at": nullable(TIME), "revoked_at": nullable(TIME),
        "secret": string("Only in the answer to POST: the bearer secret, shown once")},
        closed=False),
    "ApiKeyCreate": obj({
        "name": string(minLength=1, maxLength=200), "role": string(enum=EVERYONE),
        "site_ids": {"type": "array", "items": ID, "maxItems": 1000,
                     "description": "facility_manager and utility keys: their sites"},
        "driver_id": integer("driver keys: their driver", minimum=1)}, ["name", "role"]),
    "Me": obj({
        "key_id": integer(), "name": string(), "role": string(enum=EVERYONE),
        "site_ids": {"type": "array", "items": integer()}, "driver_id": nullable(integer())},
        closed=False),
    "CommandResult": obj({
        "command_id": integer(), "station_id": string(), "command": string(),
        "ocpp_action": string(), "outcome": string(enum=["answered"]),
        "status": {"description": "The station's status field, when its answer has one"},
        "response": {"type": "object", "description": "The station's answer as sent"}},
        closed=False),
    "CommandLogEntry": obj({
        "id": integer(), "station_id": string(), "site_id": nullable(integer()),
        "api_key_id": nullable(integer()),
        "origin": string("Who sent it: \"api\" (api_key_id says which key) or the server's "
                         "own service (registration, pki, smart-charging, ...)"),
        "command": string(), "ocpp_action": nullable(string()),
        "request": {"type": "object"},
        "outcome": string(enum=["pending", "answered", "call_error", "timeout", "offline",
                                "lost", "refused", "invalid"],
                          description="lost: routed to the node holding the station, which "
                                      "stopped before it answered"),
        "response": {"type": ["object", "null"]}, "created_at": TIME,
        "completed_at": nullable(TIME),
        "routed_from": nullable(string("Cluster mode: the node that took the request")),
        "routed_to": nullable(string("Cluster mode: the node holding the station, which sent "
                                     "the call"))}, closed=False),
    "ClusterNode": obj({
        "id": string(), "host": string(), "pid": integer(), "ocpp_port": nullable(integer()),
        "http_port": nullable(integer()), "started_at": TIME, "heartbeat_at": TIME,
        "lease_timeout_s": integer(),
        "live": {"type": "boolean", "description": "Heartbeat within its lease timeout"},
        "stations_held": integer("Stations whose lease names this node")}, closed=False),
    "Cluster": obj({
        "cluster": {"type": "boolean", "description": "Whether this server runs in cluster mode"},
        "node_id": nullable(string("The node that answered")),
        "nodes": {"type": "array", "items": ref("ClusterNode")}},
        ["cluster", "node_id", "nodes"], closed=False),
    "ClusterConnection": obj({
        "station_id": string(), "protocol": string(),
        "lease_epoch": integer("The lease this node took for the connection; 0 while it is "
                               "being taken")}, closed=False),
    "Event": obj({
        "id": integer(), "type": string(enum=[
            "station.online", "station.offline", "connector.status", "session.started",
            "session.updated", "session.ended", "command.result", "association.created",
            "association.ended"]),
        "time": TIME, "station_id": nullable(string()), "site_id": nullable(integer()),
        "data": {"type": "object"}}, closed=False,
        description="The data line of each Server-Sent Event"),
    # ---- command bodies ----
    "EmptyCommand": obj({}),
    "OcppPayload": {"type": "object", "description":
                    "The OCPP request payload, checked against the schema of the station's version"},
    "RemoteStartCommand": obj({
        "evse_id": integer("1.6 connectorId / 2.0.1 evseId", minimum=1),
        "id_token": string(minLength=1, maxLength=36),
        "token_type": string("2.0.1 only (default Central)", enum=TOKEN_TYPES)}, ["id_token"]),
    "RemoteStopCommand": obj({"session_id": ID}, ["session_id"]),
    "ResetCommand": obj({
        "type": string("Soft/OnIdle: when idle; Hard/Immediate: now", enum=[
            "Soft", "Hard", "Immediate", "OnIdle"]),
        "evse_id": integer("2.0.1 only", minimum=1)}, ["type"]),
    "UnlockConnectorCommand": obj({
        "evse_id": integer(minimum=1), "connector_id": integer("2.0.1 (default 1)", minimum=1)},
        ["evse_id"]),
    "ChangeAvailabilityCommand": obj({
        "operational": {"type": "boolean"},
        "evse_id": integer("0 or omitted: the whole station", minimum=0),
        "connector_id": integer("2.0.1 only", minimum=1)}, ["operational"]),
    "GetConfigurationCommand": obj({
        "keys": {"type": "array", "items": string(maxLength=50), "maxItems": 100}},
        description="OCPP 1.6 only"),
    "ChangeConfigurationCommand": obj({
        "key": string(minLength=1, maxLength=50), "value": string(maxLength=500)},
        ["key", "value"], description="OCPP 1.6 only"),
    "VariableRef": obj({
        "component": string(minLength=1, maxLength=50), "component_instance": string(maxLength=50),
        "evse_id": integer(minimum=1), "variable": string(minLength=1, maxLength=50),
        "variable_instance": string(maxLength=50),
        "attribute_type": string(enum=["Actual", "Target", "MinSet", "MaxSet"]),
        "value": string("set-variables only", maxLength=1000)}, ["component", "variable"]),
    "GetVariablesCommand": obj({
        "variables": {"type": "array", "items": ref("VariableRef"), "minItems": 1,
                      "maxItems": 100}}, ["variables"], description="OCPP 2.0.1 and 2.1"),
    "SetVariablesCommand": obj({
        "variables": {"type": "array", "items": ref("VariableRef"), "minItems": 1,
                      "maxItems": 100}}, ["variables"], description="OCPP 2.0.1 and 2.1"),
    "TriggerMessageCommand": obj({
        "message": string("e.g. BootNotification, Heartbeat, StatusNotification, MeterValues",
                          minLength=1, maxLength=50),
        "evse_id": integer(minimum=1)}, ["message"]),
    "LocalListEntry": obj({
        "id_token": string(minLength=1, maxLength=36), "token_type": string(enum=TOKEN_TYPES),
        "status": string(enum=["Accepted", "Blocked", "Expired", "Invalid"]),
        "expiry": TIME}, ["id_token"]),
    "SendLocalListCommand": obj({
        "version": integer(minimum=0), "update_type": string(enum=["Full", "Differential"]),
        "entries": {"type": "array", "items": ref("LocalListEntry"), "maxItems": 10000}},
        ["version", "update_type"]),
    "ReserveNowCommand": obj({
        "id_token": string(minLength=1, maxLength=36), "token_type": string(enum=TOKEN_TYPES),
        "expiry": TIME, "evse_id": integer(minimum=0),
        "reservation_id": integer("Default: the command id", minimum=0)},
        ["id_token", "expiry"]),
    "CancelReservationCommand": obj({"reservation_id": integer(minimum=0)}, ["reservation_id"]),
    "UpdateFirmwareCommand": obj({
        "location": string(format="uri", minLength=1, maxLength=512), "retrieve_at": TIME,
        "retries": integer(minimum=0), "retry_interval_s": integer(minimum=0)},
        ["location", "retrieve_at"]),
    "GetLogCommand": obj({
        "location": string("Where the station uploads the log", format="uri", minLength=1,
                           maxLength=512),
        "log_type": string("2.0.1 (1.6: diagnostics only)", enum=["DiagnosticsLog", "SecurityLog"]),
        "from": TIME, "to": TIME, "retries": integer(minimum=0),
        "retry_interval_s": integer(minimum=0)}, ["location"],
        description="1.6 GetDiagnostics / 2.0.1 GetLog"),
}

# ---- paths ---------------------------------------------------------------

PATHS = {}
PROBLEM = {"description": "Problem", "content": {"application/problem+json": {"schema": ref("Problem")}}}


def param(name, where="query", schema=None, description=None, required=None):
    p = {"name": name, "in": where, "schema": schema or {"type": "string"}}
    if description:
        p["description"] = description
    if where == "path" or required:
        p["required"] = True
    return p


PAGE = [param("limit", schema=integer(minimum=1, maximum=500, default=50)),
        param("offset", schema=integer(minimum=0, default=0))]
TIME_RANGE = [param("from", schema=TIME, description="Inclusive start"),
              param("to", schema=TIME, description="Exclusive end")]


def page_of(schema):
    return obj({"items": {"type": "array", "items": ref(schema)}, "limit": integer(),
                "offset": integer(), "next_offset": nullable(integer())},
               ["items", "limit", "offset", "next_offset"], closed=False)


def items_of(schema):
    return obj({"items": {"type": "array", "items": ref(schema)}}, ["items"], closed=False)


def op(method, path, summary, roles, tag, *, body=None, response=None, status=200, params=(),
       description=None, errors=(400, 404, 422), also=None):
    """One operation. `also`: (status, description) of a second success answer with the
    same body, e.g. 200 for a create that finds the resource to adopt."""
    path_params = [param(seg[1:-1], "path", integer(minimum=1) if seg.endswith("_id}") and
                         seg not in ("{station_id}", "{certificate_id}") else None)
                   for seg in path.split("/") if seg.startswith("{")]
    operation = {"summary": summary, "tags": [tag],
                 "operationId": (method + path.replace("/api/v1", "").replace("/", "_")
                                 .replace("{", "").replace("}", "").replace("-", "_")),
                 "parameters": path_params + list(params), "responses": {}}
    if description:
        operation["description"] = description
    if roles:
        operation["security"] = [{"apiKey": []}]
        operation["x-roles"] = roles
        operation["description"] = (operation.get("description", "") +
                                    ("\n\n" if description else "") + "Roles: " + ", ".join(roles))
    if body:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": ref(body)}}}
    if status == 204:
        operation["responses"]["204"] = {"description": "Done"}
    else:
        content = response if isinstance(response, dict) else (ref(response) if response else {})
        operation["responses"][str(status)] = {
            "description": {200: "OK", 202: "Accepted"}.get(status, "Created"),
            "content": {"application/json": {"schema": content}}}
        if also:
            operation["responses"][str(also[0])] = {
                "description": also[1], "content": {"application/json": {"schema": content}}}
    codes = set(errors) | ({401, 403} if roles else set())
    for code in sorted(codes):
        operation["responses"][str(code)] = {"$ref": "#/components/responses/Problem"}
    PATHS.setdefault(path, {})[method] = operation


V = "/api/v1"
op("get", V + "/openapi.json", "This document", [], "Meta", response={"type": "object"},
   errors=())
op("get", V + "/me", "Who this API key is", EVERYONE, "Meta", response="Me", errors=())
op("get", V + "/events", "Live events (Server-Sent Events)", [ADMIN, MANAGER, DRIVER], "Events",
   response={"type": "string"},
   params=[param("types", description="Comma-separated event types to receive"),
           param("station_id"), param("site_id", schema=integer())],
   description="A text/event-stream: each event has an id, an event type and a data line "
               "holding an Event object. Facility managers receive their sites' events, drivers "
               "their own sessions' and associations'. Send Last-Event-ID to resume after a "
               "reconnect (the latest 1,000 events are kept). In cluster mode the stream "
               "carries every node's events; resume on the node the stream was on (event ids "
               "are per node), within five minutes of the last stream for every node's events "
               "of the gap. A comment line every 15 s keeps "
               "the stream open. types takes Event types, comma-separated; an unknown type answers "
               "400 naming the known ones.",
   errors=(400, 404))

op("get", V + "/api-keys", "List API keys", [ADMIN], "API keys", response=page_of("ApiKey"),
   params=PAGE + [param("revoked", schema={"type": "boolean"})], errors=(400,))
op("post", V + "/api-keys", "Create an API key (its secret is shown once)", [ADMIN], "API keys",
   body="ApiKeyCreate", response="ApiKey", status=201)
op("delete", V + "/api-keys/{key_id}", "Revoke an API key", [ADMIN], "API keys", status=204,
   errors=(404, 409))

op("get", V + "/sites", "List sites", [ADMIN, MANAGER, UTILITY], "Sites", response=page_of("Site"),
   params=PAGE, errors=(400,))
op("post", V + "/sites", "Create a site", [ADMIN], "Sites", body="SiteCreate", response="Site",
   status=201)
op("get", V + "/sites/{site_id}", "A site", [ADMIN, MANAGER, UTILITY], "Sites", response="Site",
   errors=(404,))
op("patch", V + "/sites/{site_id}", "Change a site (null clears a field)", OPERATORS, "Sites",
   body="SitePatch", response="Site")
op("delete", V + "/sites/{site_id}", "Delete a site without stations", [ADMIN], "Sites",
   status=204, errors=(404, 409))
op("get", V + "/sites/{site_id}/tariff", "The site's tariff", [ADMIN, MANAGER, UTILITY], "Sites",
   response="Tariff", errors=(404,), description="404 when the site has no tariff.")
op("put", V + "/sites/{site_id}/tariff", "Set or replace the site's tariff", OPERATORS, "Sites",
   body="Tariff", response="Tariff",
   description="Answers the tariff as stored (every member written out). A tariff that does not "
               "add up answers 422 and the site keeps the tariff it had.")
op("get", V + "/sites/{site_id}/holidays", "The site's public holidays",
   [ADMIN, MANAGER, UTILITY], "Sites", response="SiteHolidaysInForce",
   params=[param("from", schema=DATE, description="First date of the holidays in force "
                 "(with to)"),
           param("to", schema=DATE, description="Last date, included; the range spans at most "
                 "10 calendar years")],
   description="A site without holidays answers a null calendar and no dates. from and to "
               "together add the holidays in force over that range; one without the other or "
               "a malformed date answers 400, to before from or a wider range 422.")
op("put", V + "/sites/{site_id}/holidays", "Set or replace the site's public holidays",
   OPERATORS, "Sites", body="SiteHolidays", response="SiteHolidays",
   description="Replaces the calendar and the dates together and answers them as stored. Bad "
               "input answers 422 (or 400 for a body that is not JSON) and the site keeps the "
               "holidays it had. Smart charging predicts the site's later arrivals with them.")

op("get", V + "/stations", "List stations", OPERATORS, "Stations", response=page_of("Station"),
   params=PAGE + [param("site_id", schema=integer()),
                  param("registration", schema=string(enum=["pending", "accepted", "rejected"])),
                  param("online", schema={"type": "boolean"}),
                  param("protocol", schema=string(enum=["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]))],
   errors=(400,))
op("post", V + "/stations", "Register a station", OPERATORS, "Stations", body="StationCreate",
   response="Station", status=201, errors=(400, 404, 409, 422),
   also=(200, "Adopted: the station existed without a site"),
   description="201: a new station. 200: the station had connected before anyone registered "
               "it (it has no site) and is adopted: the fields given are set, and a station "
               "waiting in pending is accepted unless registration says otherwise. Station ids "
               "are unique across all sites: an id held by a site of the caller answers 409 "
               "'already exists', an id held by any other site 409 'not available', the same "
               "whichever site holds it.")
op("get", V + "/stations/{station_id}", "A station, its connectors and associations", OPERATORS,
   "Stations", response="Station", errors=(404,))
op("patch", V + "/stations/{station_id}", "Change or approve a station", OPERATORS, "Stations",
   body="StationPatch", response="Station")
op("delete", V + "/stations/{station_id}", "Delete a station that has no sessions", OPERATORS,
   "Stations", status=204, errors=(404, 409))
op("post", V + "/stations/{station_id}/password", "Set or rotate the station's password",
   OPERATORS, "Stations", body="StationPassword", response="PasswordResult",
   errors=(400, 404, 409, 422, 502, 504))
op("get", V + "/stations/{station_id}/evses", "EVSEs with live connector status", OPERATORS,
   "Stations", response=items_of("Evse"), errors=(404,))
op("get", V + "/stations/{station_id}/evses/{evse_id}", "An EVSE's power model and connectors",
   OPERATORS, "Stations", response="EvsePower", errors=(404,),
   description="404 when the EVSE is neither described nor reported by the station.")
op("patch", V + "/stations/{station_id}/evses/{evse_id}", "Describe an EVSE's power",
   OPERATORS, "Stations", body="EvsePowerPatch", response="EvsePower",
   description="Smart charging plans with max_power_w, phases and bidirectional. An EVSE may be "
               "described before the station reports it. OCPP 1.6 connector n is EVSE n.")
op("get", V + "/stations/{station_id}/status-history", "Connector status history", OPERATORS,
   "Stations", response=page_of("StatusChange"),
   params=PAGE + TIME_RANGE + [param("evse_id", schema=integer()), param("status")],
   errors=(400, 404))
op("get", V + "/stations/{station_id}/security-events", "Security events the station reported",
   OPERATORS, "Stations", response=page_of("SecurityEvent"),
   params=PAGE + TIME_RANGE + [param("type")], errors=(400, 404))

COMMANDS = [
    ("remote-start", "RemoteStartCommand", "Start a session (1.6 RemoteStartTransaction, 2.0.1 "
     "RequestStartTransaction with remoteStartId = command id)"),
    ("remote-stop", "RemoteStopCommand", "Stop a session (1.6 RemoteStopTransaction, 2.0.1 "
     "RequestStopTransaction)"),
    ("reset", "ResetCommand", "Reset the station"),
    ("unlock-connector", "UnlockConnectorCommand", "Unlock a connector"),
    ("change-availability", "ChangeAvailabilityCommand", "Make the station or an EVSE "
     "operative or inoperative"),
    ("get-configuration", "GetConfigurationCommand", "Read configuration keys (1.6)"),
    ("change-configuration", "ChangeConfigurationCommand", "Change a configuration key (1.6)"),
    ("get-variables", "GetVariablesCommand", "Read device-model variables (2.0.1)"),
    ("set-variables", "SetVariablesCommand", "Set device-model variables (2.0.1)"),
    ("trigger-message", "TriggerMessageCommand", "Ask the station to send a message"),
    ("clear-cache", "EmptyCommand", "Clear the authorization cache"),
    ("send-local-list", "SendLocalListCommand", "Send the local authorization list"),
    ("get-local-list-version", "EmptyCommand", "Read the local list's version"),
    ("reserve-now", "ReserveNowCommand", "Reserve the station or an EVSE for a token"),
    ("cancel-reservation", "CancelReservationCommand", "Cancel a reservation"),
    ("update-firmware", "UpdateFirmwareCommand", "Install firmware from a URL "
     "(2.0.1 requestId = command id)"),
    ("get-log", "GetLogCommand", "Upload diagnostics or a log to a URL (1.6 GetDiagnostics, "
     "2.0.1 GetLog with requestId = command id)"),
]
COMMAND_ERRORS = (400, 404, 409, 422, 429, 502, 504)
for name, schema, summary in COMMANDS:
    op("post", V + "/stations/{station_id}/commands/" + name, summary, OPERATORS, "Commands",
       body=schema, response="CommandResult", errors=COMMAND_ERRORS,
       description="Sends the OCPP call in the station's version and returns its answer. "
                   "409: the station is offline (or speaks a version without this command); "
                   "502: it answered with a CALLERROR; 504: it did not answer in time. Every "
                   "command is kept in the audit log (/commands).")
op("post", V + "/stations/{station_id}/ocpp/{action}", "Send any OCPP call as is", [ADMIN],
   "Commands", body="OcppPayload", response="CommandResult", errors=COMMAND_ERRORS,
   description="The body is the OCPP request payload for the station's version; it is checked "
               "against the OCA schema before it is sent.")
op("get", V + "/commands", "The command audit log", OPERATORS, "Commands",
   response=page_of("CommandLogEntry"),
   params=PAGE + TIME_RANGE + [param("station_id"), param("site_id", schema=integer()),
                               param("outcome", schema=string(enum=[
                                   "pending", "answered", "call_error", "timeout", "offline",
                                   "lost", "refused", "invalid"]))], errors=(400,))
op("get", V + "/commands/{command_id}", "One command and the station's answer", OPERATORS,
   "Commands", response="CommandLogEntry", errors=(404,))

op("get", V + "/cluster", "The cluster's nodes", [ADMIN], "Cluster", response="Cluster",
   errors=(), description="Cluster mode (docs/cluster.md): every node registered in the "
   "database, live or not yet expired, with the number of stations it holds. Without cluster "
   "mode: cluster false and no nodes.")
op("get", V + "/cluster/connections", "The station connections of the node that answers",
   [ADMIN], "Cluster", response=obj({"node_id": nullable(string()), "items": {
       "type": "array", "items": ref("ClusterConnection")}}, ["node_id", "items"], closed=False),
   errors=(), description="Behind a shared port any node may answer: ask a node on its own "
   "address to see its connections.")

op("get", V + "/ledger/adapters", "The verifiable log and the ledger adapters", OPERATORS,
   "Ledger", response=obj({
       "log": obj({}, closed=False, description="size, newest checkpoint (size, root, "
                  "published_at, anchors), verifier_key, checkpoint_interval_s, last_anchor"),
       "alert_after_s": integer(),
       "adapters": {"type": "array", "items": obj({}, closed=False, description=(
           "name, feed (entries or checkpoints), state (ok, pending or alert), pending, "
           "oldest_pending_age_s, next_index, delivered, delivered_at, last_error, target"))}},
       ["log", "alert_after_s", "adapters"], closed=False),
   errors=(), description="docs/settlement.md: what each --ledger-adapter has delivered, what "
   "waits and since when (an alert past --ledger-alert-after), and the newest checkpoint with "
   "the chain transactions that anchored it.")

op("get", V + "/drivers", "List drivers", [ADMIN, MANAGER, DRIVER], "Drivers",
   response=page_of("Driver"),
   params=PAGE + [param("site_id", schema=integer()), param("q", description="Name or e-mail contains")],
   errors=(400,))
op("post", V + "/drivers", "Enrol a driver", OPERATORS, "Drivers", body="DriverCreate",
   response="Driver", status=201)
op("get", V + "/drivers/{driver_id}", "A driver and their tokens", [ADMIN, MANAGER, DRIVER],
   "Drivers", response="Driver", errors=(404,))
op("patch", V + "/drivers/{driver_id}", "Change a driver", OPERATORS, "Drivers",
   body="DriverPatch", response="Driver")
op("delete", V + "/drivers/{driver_id}", "Remove a driver and their tokens", OPERATORS,
   "Drivers", status=204, errors=(404,))
op("get", V + "/drivers/{driver_id}/tokens", "A driver's tokens", [ADMIN, MANAGER, DRIVER],
   "Drivers", response=items_of("Token"), errors=(404,))
op("post", V + "/drivers/{driver_id}/tokens", "Enrol a token for a driver", OPERATORS, "Drivers",
   body="TokenCreate", response="Token", status=201, errors=(400, 404, 409, 422),
   also=(200, "Adopted: an admin enrolled a token that had no driver"),
   description="Tokens are unique across all sites: a token of a driver the caller sees "
               "answers 409 'already enrolled', any other token 409 'not available', the same "
               "whoever holds it. An admin may enrol a token that has no driver (200).")
op("get", V + "/tokens/{id_token}", "A token", [ADMIN, MANAGER, DRIVER], "Drivers",
   response="Token", errors=(404,))
op("patch", V + "/tokens/{id_token}", "Block, unblock or change a token", OPERATORS, "Drivers",
   body="TokenPatch", response="Token")
op("delete", V + "/tokens/{id_token}", "Remove a token", OPERATORS, "Drivers", status=204,
   errors=(404,))

op("get", V + "/sessions", "List sessions, live and past", [ADMIN, MANAGER, DRIVER], "Sessions",
   response=page_of("Session"),
   params=PAGE + TIME_RANGE + [param("site_id", schema=integer()), param("station_id"),
                               param("driver_id", schema=integer()),
                               param("status", schema=string(enum=["active", "ended"]))],
   description="from/to select on the start time.", errors=(400,))
op("get", V + "/sessions/{session_id}", "A session", [ADMIN, MANAGER, DRIVER], "Sessions",
   response="Session", errors=(404,))
op("get", V + "/sessions/{session_id}/meter-values", "A session's meter samples",
   [ADMIN, MANAGER, DRIVER], "Sessions", response=page_of("MeterValue"),
   params=PAGE + TIME_RANGE + [param("measurand")], errors=(400, 404))
op("post", V + "/sessions/{session_id}/stop", "Stop a live session", [ADMIN, MANAGER, DRIVER],
   "Sessions", response="CommandResult", errors=(404, 409, 429, 502, 504),
   description="Drivers can stop their own sessions.")

op("patch", V + "/sessions/{session_id}", "Declare a live session's departure or energy",
   [ADMIN, MANAGER, DRIVER], "Sessions", body="SessionPatch", response="Declaration",
   description="The declaration replaces the predicted median departure (or energy) and the "
               "site is replanned. A departure in the past or a negative energy answers 422, "
               "an ended session 409.", errors=(400, 404, 409, 422))
op("get", V + "/sessions/{session_id}/charging-profiles", "The charging profiles sent for a session",
   [ADMIN, MANAGER, DRIVER], "Sessions", response=page_of("ChargingProfile"), params=PAGE,
   description="Every profile smart charging sent (and cleared) for the session, with the "
               "station's answer.", errors=(400, 404))
op("get", V + "/sites/{site_id}/schedule", "A site's smart-charging plan", [ADMIN, MANAGER, UTILITY],
   "Sites", response="Schedule", params=TIME_RANGE,
   description="The plan per slot (limits, baseline, planned import and export, flexibility, "
               "prices, demand-response events) and per vehicle (departure P10/P50/P90 and its "
               "source, energy need, planned energy, power per slot) over [from, to): the next "
               "24 h by default, at most 7 days. Accept: text/csv answers the slots as CSV with "
               "a header row.", errors=(400, 404, 422))
PATHS[V + "/sites/{site_id}/schedule"]["get"]["responses"]["200"]["content"]["text/csv"] = {
    "schema": {"type": "string"}}
op("get", V + "/sessions/{session_id}/settlement", "A session's settlement",
   [ADMIN, MANAGER, DRIVER], "Settlements", response="Settlement", errors=(404,),
   description="docs/settlement.md: the record appended to the verifiable log, its index, the "
               "verification status of the signed meter data (verified, unsigned, or invalid "
               "with the reason) and how far each ledger adapter has delivered it. 404 until "
               "the session has ended and been settled (a few seconds after its end).")
op("get", V + "/settlements", "List settlements", [ADMIN, MANAGER, DRIVER], "Settlements",
   response=page_of("Settlement"),
   params=PAGE + TIME_RANGE + [param("site_id", schema=integer())],
   description="from/to select on the session's end time; scoped like sessions. With "
               "Accept: text/csv the answer is CSV, one row per settlement (id, session_id, "
               "station_id, site_id, status, reason, log_index, started_at, ended_at, "
               "energy_imported_wh, energy_exported_wh, currency, total_minor) without the "
               "record and adapters.", errors=(400,))
op("put", V + "/stations/{station_id}/evses/{evse_id}/meter-key", "Register an EVSE's meter key",
   OPERATORS, "Settlements", body="MeterKeyPut", response="MeterKey",
   description="The key signed meter data (OCMF) from this EVSE is verified with; it replaces "
               "a key learnt from the first signed reading. 422: not a DER SubjectPublicKeyInfo.",
   errors=(400, 404, 422))
op("get", V + "/stations/{station_id}/evses/{evse_id}/meter-key", "An EVSE's meter key",
   OPERATORS, "Settlements", response="MeterKey", errors=(404,))

FIGURES = {"sessions": integer(), "sessions_verified": integer(),
           "energy_delivered_wh": integer(), "energy_exported_wh": integer(),
           "verified_energy_wh": integer(),
           "verified_share_ppm": integer("verified_energy_wh / energy_delivered_wh in parts per "
                                         "million, half to even")}
SCHEMAS["EnergyReportAnswer"] = obj({
    "period": string(), "site_id": nullable(integer()),
    "closed": {"type": "boolean", "description": "The period has ended and every session that "
               "ended in it is settled: the report is in the verifiable log"},
    "log_index": nullable(integer("The report's entry in the verifiable log; null for the "
                                  "preview of an open period")),
    "unsettled_sessions": integer(),
    "report": obj({
        "record_type": string(enum=["energy_report"]), "schema_version": integer(),
        "report_id": string(), "period": string(), "period_start": TIME, "period_end": TIME,
        "site_id": string("The site's id; empty for every site"),
        "stations": {"type": "array", "items": obj(dict(
            {"station_id": string(), "site_id": string()}, **FIGURES), closed=False)},
        "totals": obj(FIGURES, closed=False), "generated_at": TIME}, closed=False,
        description="The canonical EnergyReport (docs/energy-report.schema.json)")},
    ["period", "site_id", "closed", "log_index", "unsettled_sessions", "report"], closed=False)
op("get", V + "/reports/energy", "A regulator's energy report", [ADMIN, MANAGER, UTILITY],
   "Credits", response="EnergyReportAnswer",
   params=[param("period", description="A month (YYYY-MM, UTC) or a quarter (YYYY-Qn); the last "
                 "ended month by default"),
           param("site_id", schema=integer(), description="Required for a key of several sites; "
                 "an admin's report without it covers every site")],
   description="docs/settlement.md#credits-and-balances: per station, the sessions that ended in "
               "the period, the energy delivered and exported (Wh) and the share from verified "
               "signed meter data. A closed period's report is appended to the verifiable log "
               "once; asking again answers the same entry, which `chargegrid-verify report` checks "
               "offline against a checkpoint. Accept: text/csv answers one row per "
               "station and a TOTAL row (the log index in the ChargeGrid-Log-Index header).",
   errors=(400, 404))
PATHS[V + "/reports/energy"]["get"]["responses"]["200"]["content"]["text/csv"] = {
    "schema": {"type": "string"}}

SCHEMAS["CreditImport"] = obj({
    "id": integer(), "format": string(enum=["csv", "json"]), "row_count": integer(),
    "created_at": TIME,
    "created": {"type": "boolean", "description": "false: this body had been imported already"},
    "allocations": {"type": "array", "items": obj({
        "row": integer(), "period": string(), "station_id": nullable(string()),
        "site_id": nullable(integer()), "owner": string(), "currency": string(),
        "verified_energy_wh": integer(), "amount_minor": integer()}, closed=False)}},
    closed=False)
SCHEMAS["CreditBalance"] = obj({
    "owner": string(), "currency": string(), "balance_minor": integer(),
    "verified_energy_wh": integer(), "allocations": integer(), "last_import_at": TIME},
    closed=False)
SCHEMAS["StationOwnerPut"] = obj({
    "owner": string("Who the station's credits are allocated to", minLength=1, maxLength=200)},
    ["owner"])
SCHEMAS["StationOwner"] = obj({"station_id": string(), "owner": string()}, closed=False)
op("post", V + "/credits/imports", "Import the credits an authority returned", OPERATORS,
   "Credits", response="CreditImport", status=201,
   also=(200, "The same body had been imported already: that import"),
   description="docs/settlement.md#credits-and-balances. The body is CSV (Content-Type: text/csv; "
               "a header naming period, amount_minor, currency and station_id and/or site_id) or "
               "JSON ({\"rows\": [{\"period\", \"station_id\" or \"site_id\", "
               "\"amount_minor\", \"currency\"}]}), at most 1 MiB and 10,000 rows. Each row's "
               "credit goes to the owners of the station (or of the site's stations) in "
               "proportion to their verified energy in the period, in integer minor units. A "
               "malformed row, an open period, a station or site outside the key's sites or "
               "without verified energy answers 422 naming the row (row in the problem "
               "document) and imports nothing.", errors=(413, 415, 422))
op("get", V + "/credits/imports/{import_id}", "A credit import and its allocations", OPERATORS,
   "Credits", response="CreditImport", errors=(404,),
   description="A facility manager sees the allocations of their sites only.")
op("get", V + "/credits/balances", "Credit balances per owner", OPERATORS, "Credits",
   response=items_of("CreditBalance"),
   params=[param("owner"), param("site_id", schema=integer())],
   description="The credits allocated to each owner, per currency; a facility manager's key "
               "counts the allocations of its sites.", errors=(400, 404))
SCHEMAS["DriverBalance"] = obj({
    "driver_id": integer(),
    "balances": {"type": "array", "items": obj({
        "currency": string(), "balance_minor": integer(), "updated_at": TIME}, closed=False)},
    "entries": {"type": "array", "items": obj({
        "id": integer(), "currency": string(), "kind": string(enum=["earned", "spent"]),
        "amount_minor": integer(), "balance_after_minor": integer(), "settlement_id": string(),
        "session_id": integer(), "created_at": TIME}, closed=False,
        description="The newest 100 changes, newest first")}}, closed=False)
op("get", V + "/drivers/{driver_id}/balance", "A driver's V2G balance", [ADMIN, MANAGER, DRIVER],
   "Drivers", response="DriverBalance", errors=(404,),
   description="docs/settlement.md#driver-balances: per currency, what discharging earned the "
               "driver less what settlements spent, never below zero, and every change with the "
               "settlement that made it. Scoped like drivers.")
op("put", V + "/stations/{station_id}/owner", "Set who owns a station", OPERATORS, "Credits",
   body="StationOwnerPut", response="StationOwner", errors=(400, 404, 422),
   description="Credits allocated from then on go to this owner; a station without one is "
               "owned by its site's operator (site-<site id>).")

op("get", V + "/associations", "Which driver is at which station", [ADMIN, MANAGER, DRIVER],
   "Associations", response=page_of("Association"),
   params=PAGE + [param("station_id"), param("driver_id", schema=integer()),
                  param("active", schema={"type": "boolean"})], errors=(400,))
op("post", V + "/associations", "Claim a station or EVSE for a driver", [ADMIN, MANAGER, DRIVER],
   "Associations", body="AssociationCreate", response="Association", status=201,
   description="\"I am plugged in at EVSE 2\": the next session on that EVSE that starts "
               "without a known token (one in the token table) is the driver's. A session "
               "already running there becomes theirs only if it has no driver, started without "
               "a known token and started less than --claim-window seconds (300) ago; otherwise "
               "a claim on that EVSE answers 409. Drivers claim stations of their home site "
               "only (others answer 404). A claim overlapping another driver's open claim "
               "answers 409; the driver's own earlier claims at the station end (replaced).",
   errors=(400, 404, 409, 422))
op("delete", V + "/associations/{association_id}", "End an association",
   [ADMIN, MANAGER, DRIVER], "Associations", response="Association", errors=(404, 409))

# ---- trust anchors on stations (docs/iso15118.md) ----
TRUST_ANCHOR_TYPES = ["V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
                      "ManufacturerRootCertificate", "OEMRootCertificate"]
HASH_DATA = obj({
    "hash_algorithm": string(enum=["SHA256", "SHA384", "SHA512"]),
    "issuer_name_hash": string("Hex of the hash of the issuer's DER-encoded name"),
    "issuer_key_hash": string("Hex of the hash of the issuer's public key"),
    "serial_number": string("The serial number in hex, without leading zeros")},
    description="OCPP CertificateHashData")
SCHEMAS.update({
    "InstallCertificate": obj({
        "certificate_type": string(
            "V2G, MO, CSMS, manufacturer or (OCPP 2.1) OEM root. 1.6 stations take CSMS and "
            "manufacturer roots through the security extension (CentralSystemRootCertificate, "
            "ManufacturerRootCertificate) and V2G and MO roots through the Plug & Charge "
            "DataTransfer (vendorId org.openchargealliance.iso15118pnc)",
            enum=TRUST_ANCHOR_TYPES),
        "certificate": string("One PEM root (CA) certificate; anything else answers 422",
                              minLength=1, maxLength=5500)},
        ["certificate_type", "certificate"]),
    "InstalledCertificate": obj({
        "id": string("certificate_type.hash_algorithm.issuer_name_hash.issuer_key_hash."
                     "serial_number: the {certificate_id} of DELETE"),
        "certificate_type": string(), "hash_data": HASH_DATA}, closed=False),
    "CertificateCommandResult": obj({
        "command_id": integer(), "station_id": string(),
        "status": string("The station's status (Accepted, Rejected, Failed)"),
        "certificate": ref("InstalledCertificate"),
        "response": {"type": "object", "description": "The station's answer (a 1.6 "
                     "DataTransfer's data read as JSON)"}}, closed=False),
    "InstalledCertificates": obj({
        "station_id": string(), "items": {"type": "array", "items": ref("InstalledCertificate")},
        "command_ids": {"type": "array", "items": integer()},
        "not_supported": {"type": "array", "items": string(), "description":
                          "Types a 1.6 station without the Plug & Charge DataTransfer "
                          "cannot list"}}, ["station_id", "items"], closed=False),
    "CertificateRollout": obj({
        "id": integer(), "site_id": integer(), "certificate_type": string(),
        "certificate_id": string(), "subject": string(), "created_at": TIME,
        "state": string("running while a station has no outcome yet",
                        enum=["running", "completed"]),
        "completed_at": nullable(string(format="date-time")),
        "station_count": integer(), "pending": integer(),
        "accepted": integer("Stations that installed it"),
        "refused": integer("Stations that answered otherwise (Rejected, Failed)"),
        "offline": integer("Stations not connected when the rollout reached them"),
        "failed": integer("Timeouts, CALLERRORs, versions without this root type, ..."),
        "stations": {"type": "array", "items": obj({
            "station_id": string(),
            "outcome": string(enum=["pending", "answered", "offline", "timeout", "call_error",
                                    "lost", "refused", "invalid", "not_available", "error"]),
            "status": nullable(string()), "detail": nullable(string()),
            "command_id": nullable(integer()),
            "completed_at": nullable(string(format="date-time"))}, closed=False)}},
        closed=False),
})
CERTIFICATE_ERRORS = (400, 404, 409, 422, 429, 502, 504)
op("post", V + "/stations/{station_id}/certificates", "Install a root certificate on the station",
   OPERATORS, "Stations", body="InstallCertificate", response="CertificateCommandResult",
   errors=CERTIFICATE_ERRORS,
   description="InstallCertificate in the station's version (1.6: the security extension, or the "
               "Plug & Charge DataTransfer for V2G and MO roots). 200 with the station's status; "
               "409 offline, or a type the station's version does not have (OEM roots before "
               "2.1, V2G and MO roots on a 1.6 station without Plug & Charge).")
op("get", V + "/stations/{station_id}/certificates", "The root certificates the station holds",
   OPERATORS, "Stations", response="InstalledCertificates", errors=CERTIFICATE_ERRORS,
   params=[param("certificate_type", schema=string(enum=TRUST_ANCHOR_TYPES +
                                                   ["V2GCertificateChain"]))],
   description="GetInstalledCertificateIds, asked live of the station (a 1.6 station is asked "
               "once per security-extension type and once through the Plug & Charge "
               "DataTransfer).")
op("delete", V + "/stations/{station_id}/certificates/{certificate_id}",
   "Remove a root certificate from the station", OPERATORS, "Stations",
   response="CertificateCommandResult", errors=CERTIFICATE_ERRORS,
   description="DeleteCertificate with the hash data the id carries. 404 when the station "
               "holds no such certificate; 400 for text that is not a certificate id.")
op("post", V + "/sites/{site_id}/certificates/rollouts",
   "Install a root certificate on every station of the site", OPERATORS, "Sites",
   body="InstallCertificate", response="CertificateRollout", status=202,
   errors=(400, 404, 422),
   description="Answers at once with every station pending; each station's outcome is kept as "
               "it comes (offline stations at once), and the rollout is completed when every "
               "station has one.")
op("get", V + "/sites/{site_id}/certificates/rollouts", "The site's certificate rollouts",
   OPERATORS, "Sites", response=page_of("CertificateRollout"), params=PAGE, errors=(400, 404))
op("get", V + "/sites/{site_id}/certificates/rollouts/{rollout_id}",
   "A certificate rollout and each station's outcome", OPERATORS, "Sites",
   response="CertificateRollout", errors=(404,))

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "ChargeGrid API", "version": "1.0.0",
        "description": "Sites, stations, drivers, sessions, remote commands and live events "
                       "of a ChargeGrid charge point management server. Authenticate with "
                       "'Authorization: Bearer <API key>'. Errors are RFC 9457 problem+json. "
                       "Lists take limit and offset and answer with next_offset. A path "
                       "parameter or query parameter that is not properly percent-encoded or "
                       "decodes to a NUL character answers 400; a body nested deeper than 64 "
                       "levels 400; a body string or member name holding U+0000 422.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
    "servers": [{"url": "/"}],
    "tags": [{"name": t} for t in ["Meta", "Events", "API keys", "Sites", "Stations", "Commands",
                                   "Cluster", "Drivers", "Sessions", "Associations", "Ledger"]],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                       "description": "An API key: cgk_..."}},
        "responses": {"Problem": PROBLEM},
        "schemas": SCHEMAS},
}

# ---- outputs -------------------------------------------------------------


def schema_summary(schema):
    """A one-line description of a schema for the reference tables."""
    if "$ref" in schema:
        return "[" + schema["$ref"].split("/")[-1] + "](#" + schema["$ref"].split("/")[-1].lower() + ")"
    if "oneOf" in schema:
        return " or ".join(schema_summary(s) for s in schema["oneOf"])
    t = schema.get("type", "any")
    t = " or ".join(t) if isinstance(t, list) else t
    if t.startswith("array") and "items" in schema:
        t = "array of " + schema_summary(schema["items"])
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(
            f"`{v if isinstance(v, str) else json.dumps(v)}`" for v in schema["enum"]))
    if "format" in schema:
        notes.append(schema["format"])
    for key, word in (("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            notes.append(f"{word} {schema[key]}")
    if "minLength" in schema or "maxLength" in schema:
        notes.append(f"{schema.get('minLength', 0)}–{schema.get('maxLength', '∞')} chars")
    return t + (" (" + "; ".join(notes) + ")" if notes else "")


def markdown():
    out = ["# ChargeGrid REST API reference", "",
           "Generated from the OpenAPI document (`server/api/openapi.py`, served at "
           "`/api/v1/openapi.json`); a test keeps this file, the document and the server's "
           "routes in step.", "", DOCUMENT["info"]["description"], "",
           "| Method | Path | Summary | Roles |", "|---|---|---|---|"]
    for path, methods in PATHS.items():
        for method, operation in methods.items():
            roles = ", ".join(operation.get("x-roles", [])) or "none (public)"
            out.append(f"| {method.upper()} | `{path}` | {operation['summary']} | {roles} |")
    for path, methods in PATHS.items():
        for method, operation in methods.items():
            out += ["", f"## {method.upper()} {path}", "", operation["summary"] + "."]
            if "description" in operation:
                out += ["", operation["description"]]
            params = [p for p in operation["parameters"] if p["in"] == "query"]
            if params:
                out += ["", "Query: " + ", ".join(
                    f"`{p['name']}` ({schema_summary(p['schema'])})" for p in params)]
            if "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                out += ["", "Body: " + schema_summary(body)]
            codes = sorted(operation["responses"])
            successes = [c for c in codes if c.startswith("2")]
            ok = " or ".join(successes)
            content = operation["responses"][successes[0]].get("content", {}).get("application/json")
            answer = schema_summary(content["schema"]) if content and content["schema"] else "empty"
            if content and "properties" in content.get("schema", {}) and "items" in content["schema"]["properties"]:
                answer = "list of " + schema_summary(content["schema"]["properties"]["items"]["items"])
            out += ["", f"Answer: {ok} {answer}. Problems: " +
                    ", ".join(c for c in codes if c not in successes)]
    out += ["", "# Schemas"]
    for name, schema in SCHEMAS.items():
        out += ["", f"## {name}", ""]
        if "description" in schema:
            out += [schema["description"], ""]
        props = schema.get("properties", {})
        if not props:
            out.append("Any JSON object." if name == "OcppPayload" else "An empty object.")
            continue
        required = set(schema.get("required", []))
        out += ["| Field | Type | Required | Notes |", "|---|---|---|---|"]
        for field, s in props.items():
            note = s.get("description", "").replace("|", "\\|")
            out.append(f"| `{field}` | {schema_summary(s)} | {'yes' if field in required else ''} | {note} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json")
    parser.add_argument("--cpp")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    text = json.dumps(DOCUMENT, separators=(",", ":"), ensure_ascii=False)
    if args.json:
        open(args.json, "w", encoding="utf-8").write(text + "\n")
    if args.cpp:
        # Literals stay under the 65,536 characters every compiler must accept.
        chunk = 16000
        pieces = ",\n".join("      R\"openapi(" + text[i:i + chunk] + ")openapi\""
                            for i in range(0, len(text), chunk))
        open(args.cpp, "w", encoding="utf-8").write(
            "// Generated by server/api/openapi.py. Do not edit.\n"
            "#include <string>\n#include <string_view>\n"
            "namespace chargegrid::server::api {\n"
            "std::string_view openapi_text() {\n"
            "  static const std::string text = [] {\n"
            "    constexpr std::string_view pieces[] = {\n" + pieces + "};\n"
            "    std::string joined;\n"
            "    for (auto piece : pieces) joined += piece;\n"
            "    return joined;\n"
            "  }();\n"
            "  return text;\n}\n}  // namespace chargegrid::server::api\n")
    if args.markdown:
        open(args.markdown, "w", encoding="utf-8").write(markdown())
    if not (args.json or args.cpp or args.markdown):
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
