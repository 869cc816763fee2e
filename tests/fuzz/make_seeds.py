#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/).

rpc:      frames from tests/protocols/rpc_test.cpp and tests/server/bad_input_test.cpp, and the
          messages the simulated stations send.
validate: "<version> <Request|Response> <Action>" and a payload, for the messages the server
          handles, valid and broken in the ways tests/protocols/validation_test.cpp checks.
http:     one request per operation of the OpenAPI document (server/api/openapi.py), with a
          body built from its schema, plus query strings, keys, health, metrics and a station's
          WebSocket upgrade.
pki:      the pki target's first byte (the path) and then: V2G CSRs (secp256r1, secp521r1,
          Ed448, another station's CN, another organisation), OCSP responses of the PKI's
          responder (good, revoked, unknown), contract chains (good, expired, foreign root, a
          leaf alone) and OCSPRequestData lines, all made with scripts/pki and openssl.

Usage: tests/fuzz/make_seeds.py [--pki] (run from anywhere; rewrites the rpc, validate and
http folders; with --pki also the pki folder, whose seeds differ on every run: fresh keys).
"""

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

RPC_FRAMES = [
    '[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"M1"}]',
    '[3,"19223201",{"status":"Accepted","currentTime":"2024-01-01T00:00:00Z","interval":300}]',
    '[4,"162376037","NotSupported","SetDisplayMessage not implemented",{"hint":"none"}]',
    '[5,"abc","InternalError","could not store",{}]',
    '[6,"s1","NotifyPeriodicEventStream",{"id":1,"pending":0}]',
    '{"a":1}',
    '["2","id","Heartbeat",{}]',
    '[2.0,"id","Heartbeat",{}]',
    '[2]',
    '[2,17,"Heartbeat",{}]',
    '[2,"","Heartbeat",{}]',
    '[2,"0123456789012345678901234567890123456","Heartbeat",{}]',
    '[2,"id1","Heartbeat"]',
    '[2,"id1","Heartbeat",{},{}]',
    '[4,"id1","GenericError","x"]',
    '[2,"id1",7,{}]',
    '[4,"id1",1,"x",{}]',
    '[2,"id1","Heartbeat",[]]',
    '[2,"id1","Heartbeat",null]',
    '[7,"id1","Heartbeat",{}]',
    '[-1,"id1"]',
    '[18446744073709551615,"id1"]',
    '[2,"id9","Heartbeat",{"a": }]',
    '[2,"n","X",{"v":1e400}]',
    '[2,"n","X",{"v":123456789012345678901234567890}]',
    '[2,"deep","DataTransfer",{"vendorId":"x","data":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}]',
    '[2,"u","DataTransfer",{"vendorId":"\\u00e9\\ud83d\\ude00","data":"\\u0000"}]',
    '[2,"1","StartTransaction",{"connectorId":1,"idTag":"SIMTAG","meterStart":1200,'
    '"timestamp":"2026-11-24T12:00:00.000Z"}]',
    '[2,"2","MeterValues",{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":'
    '"2026-11-24T12:01:00.000Z","sampledValue":[{"value":"1350.5","context":"Sample.Periodic",'
    '"format":"Raw","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"230.1",'
    '"measurand":"Voltage","phase":"L1-N","unit":"V","location":"Outlet"}]}]}]',
    '[2,"3","TransactionEvent",{"eventType":"Started","timestamp":"2026-11-24T12:00:00.000Z",'
    '"triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"T-1",'
    '"chargingState":"Charging"},"idToken":{"idToken":"SIMTAG","type":"ISO14443"},'
    '"evse":{"id":1,"connectorId":1},"meterValue":[{"timestamp":"2026-11-24T12:00:00.000Z",'
    '"sampledValue":[{"value":1200,"measurand":"Energy.Active.Import.Register",'
    '"unitOfMeasure":{"unit":"Wh"}}]}]}]',
]

# What the typed readers (read_typed_call) must read exactly as the DOM path does, or leave to it.
RPC_FRAMES += [
    '[2,"d1","Authorize",{"idTag":"A","idTag":"B"}]',
    '[2,"c1","Heartbeat",{"customData":{"vendorId":"X","hint":1}}]',
    '[2,"c2","StatusNotification",{"connectorId":2.0,"errorCode":"NoError","status":"Available"}]',
    ' [ 2 , "i,d\\"{[" , "Authorize" , { "idTag" : "T{,}" } ] ',
    '[2,"e1","StatusNotification",{"timestamp":"2026-11-24T12:00:00Z","connectorStatus":'
    '"Occupied","evseId":1,"connectorId":1}]',
    '[2,"e2","BootNotification",{"chargingStation":{"model":"M","vendorName":"V","modem":'
    '{"iccid":"1"}},"reason":"PowerUp"}]',
]

# Hostile input every target must refuse cleanly: nesting past the 64-level limit (and far
# past any recursion a later pass could survive), NUL characters, non-finite numbers and
# integers that fit nothing they could be stored in.
DEEP = 5000
RPC_FRAMES += [
    '[2,"n1","DataTransfer",{"vendorId":"x","data":' + "[" * 65 + "]" * 65 + "}]",
    '[2,"n2","DataTransfer",{"vendorId":"x","data":' + "[" * DEEP + "]" * DEEP + "}]",
    '[2,"n3","DataTransfer",{"vendorId":"x","data":' + '{"a":' * 70 + "1" + "}" * 70 + "}]",
    "[" * DEEP,
    '[2,"z1","BootNotification",{"chargePointVendor":"V\u0000","chargePointModel":"M"}]',
    '[2,"z\u0000","Heartbeat",{}]',
    '[2,"z2","Heart\u0000beat",{}]',
    '[2,"f1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-24T12:00:00Z",'
    '"sampledValue":[{"value":"NaN"},{"value":"Infinity"},{"value":"-1e400"},{"value":"nan"}]}]}]',
    '[2,"f2","X",{"v":NaN}]',
    '[2,"f3","X",{"v":Infinity,"w":-Infinity}]',
    '[2,"f4","X",{"v":-0.0,"w":1e-400}]',
    '[2,"i1","StopTransaction",{"transactionId":4294967297,"meterStop":1,'
    '"timestamp":"2026-11-24T12:00:00Z"}]',
    '[2,"i2","StartTransaction",{"connectorId":2147483648,"idTag":"T","meterStart":-9223372036854775809,'
    '"timestamp":"2026-11-24T12:00:00Z"}]',
    '[2,"i3","TransactionEvent",{"eventType":"Updated","timestamp":"2026-11-24T12:00:00Z",'
    '"triggerReason":"MeterValuePeriodic","seqNo":18446744073709551616,'
    '"transactionInfo":{"transactionId":"T-1"},"evse":{"id":-2147483649}}]',
]

# (version, direction, action, payload): valid messages and the ways tests break them.
VALIDATE = [
    ("1.6", "Request", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
    ("1.6", "Request", "BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": 3}),
    ("1.6", "Request", "StartTransaction",
     {"connectorId": 1, "idTag": "T", "meterStart": 10, "timestamp": "2026-11-24T12:00:00Z"}),
    ("1.6", "Request", "StartTransaction",
     {"connectorId": 1.5, "idTag": "T", "meterStart": 1e300, "timestamp": "yesterday"}),
    ("1.6", "Request", "StopTransaction",
     {"transactionId": 1, "meterStop": 20, "timestamp": "2026-11-24T13:00:00+01:00",
      "reason": "Local", "transactionData": [{"timestamp": "2026-11-24T13:00:00Z",
                                              "sampledValue": [{"value": "20"}]}]}),
    ("1.6", "Request", "MeterValues",
     {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-24T12:00:00.123Z",
                                        "sampledValue": [{"value": "1", "unit": "kWh",
                                                          "measurand": "Energy.Active.Import.Register",
                                                          "phase": "L1", "location": "Outlet",
                                                          "context": "Sample.Periodic",
                                                          "format": "Raw"}]}]}),
    ("1.6", "Request", "MeterValues", {"connectorId": 1, "meterValue": []}),
    ("1.6", "Request", "StatusNotification",
     {"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
    ("1.6", "Request", "DataTransfer", {"vendorId": "ChargeGrid", "data": "x"}),
    ("1.6", "Response", "GetConfiguration",
     {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
      "unknownKey": ["X"]}),
    ("1.6", "Response", "RemoteStartTransaction", {"status": "Accepted"}),
    ("1.6", "Request", "Heartbeat", {}),
    ("1.6", "Request", "NoSuchAction", {}),
    ("2.0.1", "Request", "BootNotification",
     {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}),
    ("2.0.1", "Request", "TransactionEvent",
     {"eventType": "Updated", "timestamp": "2026-11-24T12:00:00Z",
      "triggerReason": "MeterValuePeriodic", "seqNo": 3, "offline": True,
      "transactionInfo": {"transactionId": "T-1", "chargingState": "Charging"},
      "meterValue": [{"timestamp": "2026-11-24T12:00:00Z",
                      "sampledValue": [{"value": 1.5, "measurand": "Power.Active.Import",
                                        "unitOfMeasure": {"unit": "kW", "multiplier": 3}}]}]}),
    ("2.0.1", "Request", "TransactionEvent",
     {"eventType": "Ended", "timestamp": "2026-11-24T12:00:00Z", "triggerReason": "Nope",
      "seqNo": -1, "transactionInfo": {"transactionId": "x" * 37}}),
    ("2.0.1", "Request", "NotifyReport",
     {"requestId": 1, "generatedAt": "2026-11-24T12:00:00Z", "seqNo": 0,
      "reportData": [{"component": {"name": "OCPPCommCtrlr"},
                      "variable": {"name": "HeartbeatInterval"},
                      "variableAttribute": [{"value": "300"}]}]}),
    ("2.0.1", "Request", "Authorize", {"idToken": {"idToken": "A", "type": "ISO14443"},
                                       "customData": {"vendorId": "x", "extra": [1, {}]}}),
    ("2.0.1", "Response", "GetVariables",
     {"getVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "C"},
                             "variable": {"name": "V"}, "attributeValue": "1"}]}),
    ("2.0.1", "Request", "SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
    ("2.1", "Request", "NotifyPeriodicEventStream",
     {"id": 1, "pending": 0, "basetime": "2026-11-24T12:00:00Z",
      "data": [{"t": 0.5, "v": "1"}]}),
    ("2.1", "Response", "NotifyPeriodicEventStream", {}),
    ("2.1", "Request", "TransactionEvent", {"eventType": "Started"}),
    ("1.6", "Request", "DataTransfer", {"vendorId": "V", "data": "a\u0000b"}),
    ("1.6", "Request", "StopTransaction",
     {"transactionId": 4294967297, "meterStop": 2147483648, "timestamp": "2026-11-24T12:00:00Z"}),
    ("1.6", "Request", "StartTransaction",
     {"connectorId": -2147483649, "idTag": "T\u0000", "meterStart": 10,
      "timestamp": "2026-11-24T12:00:00Z"}),
    ("2.0.1", "Request", "TransactionEvent",
     {"eventType": "Updated", "timestamp": "2026-11-24T12:00:00Z",
      "triggerReason": "MeterValuePeriodic", "seqNo": 9223372036854775808,
      "transactionInfo": {"transactionId": "T-1"}, "evse": {"id": 2147483648},
      "meterValue": [{"timestamp": "2026-11-24T12:00:00Z",
                      "sampledValue": [{"value": 1e308, "unitOfMeasure": {"multiplier": 400}}]}]}),
    ("2.1", "Request", "DataTransfer", {"vendorId": "V", "data": [[[[[[[[[[1]]]]]]]]]]}),
]

# Payloads that json.dumps cannot express: raw text after the header line.
VALIDATE_RAW = [
    "1.6 Request DataTransfer\n" + '{"vendorId":"V","data":' + "[" * 5000 + "]" * 5000 + "}",
    "2.0.1 Request MeterValues\n" + '{"evseId":1,"meterValue":[{"timestamp":"2026-11-24T12:00:00Z",'
    '"sampledValue":[{"value":NaN},{"value":Infinity}]}]}',
    "2.1 Request Heartbeat\n" + '{"customData":{"vendorId":"\\u0000"}}',
]


def schema_example(schema, document, depth=0):
    """A value that matches `schema` (the subset the OpenAPI document uses)."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return schema_example(document["components"]["schemas"][name], document, depth + 1)
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return schema_example(schema[combinator][0], document, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = [k for k in kind if k != "null"][0]
    if kind == "object":
        out = {}
        for name, sub in schema.get("properties", {}).items():
            if name in schema.get("required", []) or depth < 2:
                out[name] = schema_example(sub, document, depth + 1)
        return out
    if kind == "array":
        return [schema_example(schema.get("items", {}), document, depth + 1)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2026-11-24T17:00:00Z"
    if schema.get("format") == "uri":
        return "https://example.com/x"
    return "x" * max(1, schema.get("minLength", 1))


def http_request(method, target, body=None, key=True, extra=""):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8080"]
    if key:
        lines.append("Authorization: Bearer cgk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(data)}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def raw_request(method, target, text):
    """A request whose body is given as text (JSON that json.dumps would not write)."""
    data = text.encode()
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8080",
             "Authorization: Bearer cgk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
             "Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def http_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "openapi.json"
        subprocess.run([sys.executable, str(ROOT / "server/api/openapi.py"), "--json", str(out)],
                       check=True)
        document = json.loads(out.read_text())
    values = {"key_id": "1", "site_id": "2", "station_id": "CP-1", "driver_id": "3",
              "id_token": "04A1B2C3", "session_id": "4", "association_id": "5",
              "command_id": "6", "action": "DataTransfer"}
    seeds = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            target = path
            for name, value in values.items():
                target = target.replace("{" + name + "}", value)
            query = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
            if query:
                sample = {"limit": "10", "offset": "0", "from": "2026-11-24T00:00:00Z",
                          "to": "2026-11-25T00:00:00%2B01:00", "active": "true"}
                target += "?" + "&".join(f"{q}={sample.get(q, 'x')}" for q in query)
            body = None
            if "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                body = schema_example(schema, document)
            seeds.append(http_request(method.upper(), target, body))
    seeds += [
        http_request("GET", "/api/v1/openapi.json", key=False),
        http_request("GET", "/api/v1/sites", key=False),
        http_request("PUT", "/api/v1/sites", key=False),
        http_request("GET", "/api/v1/sessions?from=%zz&limit=0"),
        http_request("GET", "/api/v1/sites/12abc"),
        http_request("POST", "/api/v1/sites", {"name": 42}, extra="X-Extra: 1"),
        http_request("GET", "/healthz", key=False),
        http_request("GET", "/metrics", key=False),
        http_request("GET", "/api/v1/events?types=session.started,station.online", key=False,
                     extra="Last-Event-ID: 17"),
        http_request("GET", "/ocpp/CP%2D1?x=y", key=False,
                     extra="Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: ocpp2.1, ocpp2.0.1,ocpp1.6"),
        raw_request("POST", "/api/v1/stations/CP-1/ocpp/DataTransfer",
                    '{"vendorId":"x","data":' + "[" * 5000 + "]" * 5000 + "}"),
        raw_request("POST", "/api/v1/sites", '{"name":' + '{"a":' * 70 + "1" + "}" * 70 + "}"),
        raw_request("POST", "/api/v1/sites", '{"name":"harbour\\u0000depot"}'),
        raw_request("POST", "/api/v1/sites", '{"name":"x","import_limit_w":NaN}'),
        raw_request("POST", "/api/v1/sites", '{"name":"x","import_limit_w":1e400}'),
        raw_request("POST", "/api/v1/sites", '{"name":"x","import_limit_w":9223372036854775808}'),
        raw_request("PATCH", "/api/v1/sites/2", '{"export_limit_w":-Infinity}'),
        http_request("GET", "/api/v1/stations/a%00b"),
        http_request("GET", "/api/v1/sessions?limit=%00"),
        http_request("GET", "/api/v1/sites/9223372036854775808"),
        http_request("GET", "/api/v1/events?types=bogus"),
        b"POST /api/v1/sites HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Authorization: Bearer k\r\nContent-Type: application/json\r\n\r\n"
        b"5\r\n{\"nam\r\n9\r\ne\":\"x\"}  \r\n0\r\n\r\n",
    ]
    return seeds


def pki_seeds():
    """The pki target's seeds: byte 0..4 picks the path (tests/fuzz/pki_target.cpp)."""
    with tempfile.TemporaryDirectory() as work:
        pki = pathlib.Path(work) / "pki"
        subprocess.run([str(ROOT / "scripts" / "pki"), str(pki), "--secc-id", "FUZZ-SECC"],
                       check=True, capture_output=True)

        def openssl(*args):
            return subprocess.run(["openssl", *args], cwd=pki, check=True,
                                  capture_output=True).stdout

        def csr(key_args, cn, organisation="ChargeGrid fuzz"):
            openssl("req", "-new", *key_args, "-nodes", "-keyout", "fuzz.key", "-subj",
                    f"/DC=CPO/O={organisation}/CN={cn}")
            return openssl("req", "-new", "-key", "fuzz.key", "-subj",
                           f"/DC=CPO/O={organisation}/CN={cn}")

        p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        p521 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]
        seeds = [b"\x00" + csr(p256, "FUZZ-SECC"), b"\x00" + csr(p256, "ANOTHER-SECC"),
                 b"\x00" + csr(p256, "FUZZ-SECC", "Someone else"),
                 b"\x01" + csr(p521, "FUZZ-SECC"), b"\x01" + csr(["-newkey", "ed448"], "FUZZ-SECC")]

        def response(certificate):
            # The responder's answer, made offline from its index as `openssl ocsp -port` would.
            openssl("ocsp", "-issuer", "mo-sub2.pem", "-cert", certificate, "-reqout", "q.der")
            openssl("ocsp", "-index", "index.txt", "-CA", "mo-sub2.pem", "-rsigner", "ocsp.pem",
                    "-rkey", "ocsp.key", "-rother", "mo-chain.pem", "-reqin", "q.der",
                    "-respout", "r.der")
            return (pki / "r.der").read_bytes()

        seeds += [b"\x02" + response(c) for c in
                  ("contract-good.pem", "contract-revoked.pem", "secc-FUZZ-SECC.pem")]
        seeds += [b"\x03" + (pki / f"contract-{n}-chain.pem").read_bytes()
                  for n in ("good", "expired", "wrongroot")]
        seeds.append(b"\x03" + (pki / "contract-good.pem").read_bytes())
        text = openssl("ocsp", "-reqin", "q.der", "-req_text").decode()

        def field(label):
            return text.split(label + ": ")[1].split()[0]

        seeds.append(("\x04SHA1\n" + field("Issuer Name Hash") + "\n" + field("Issuer Key Hash") +
                      "\n" + field("Serial Number") + "\n").encode())
        seeds.append(b"\x04SHA256\nzz\n\n-1\n")
        return seeds


def client_hello(minimum, maximum, alpn=None):
    """The first flight of Python's TLS client (OpenSSL underneath) with these versions."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = minimum
    context.maximum_version = maximum
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_seeds():
    """Mode 0 (even first byte): a client's bytes, each segment after a length byte.
    Mode 1 (odd): a real client, then the script (tests/fuzz/tls_target.cpp)."""
    import ssl
    v = ssl.TLSVersion
    seeds = []
    for low, high in ((v.TLSv1_2, v.TLSv1_3), (v.TLSv1_2, v.TLSv1_2), (v.TLSv1_3, v.TLSv1_3)):
        hello = client_hello(low, high)
        seeds.append(b"\x00\xff" + hello)
        # The same hello in 1-byte, then 9-byte segments.
        seeds.append(b"\x00" + b"".join(b"\x00" + hello[i:i + 1] for i in range(len(hello))))
        seeds.append(b"\x00" + b"".join(b"\x02" + hello[i:i + 9]
                                          for i in range(0, len(hello), 9)))
        # Cut short, and followed by garbage.
        seeds.append(b"\x00\xff" + hello[:len(hello) // 2])
        seeds.append(b"\x00\xff" + hello + b"\x17\x03\x03\x00\x05hello")
    seeds.append(b"\x00\xffGET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\n\r\n")
    seeds.append(b"\x00\xff\x16\x03\x01\xff\xff" + b"\x01" * 64)

    def script(send, segment, faults, flip=0, cut=0, read=0, reply=0):
        out = b"\x01" + send.to_bytes(2, "big") + segment.to_bytes(2, "big") + bytes([faults])
        if faults & 1:
            out += flip.to_bytes(2, "big")
        if faults & 2:
            out += cut.to_bytes(2, "big")
        return out + read.to_bytes(2, "big") + reply.to_bytes(2, "big")
    seeds += [
        script(0, 100, 4),                               # nothing, then close_notify
        script(1000, 20000, 4, read=4095, reply=300),    # one record each way
        script(60000, 19999, 4, read=127, reply=30000),  # many records, small reads
        script(60000, 0, 0, read=19999),                 # 1-byte segments, TCP closed
        script(5000, 700, 1, flip=2000, read=999),       # a flipped byte
        script(5000, 700, 2, cut=2500, read=999),        # cut mid-record
        script(5000, 700, 6, cut=5, read=999),           # cut inside the first header
        script(20000, 16384, 7, flip=30, cut=9000, read=16384, reply=40000),
    ]
    return seeds


def write(folder, items):
    target = HERE / "corpus" / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for data in items:
        if isinstance(data, str):
            data = data.encode()
        (target / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    write("rpc", RPC_FRAMES)
    write("validate",
          [f"{v} {d} {a}\n{json.dumps(p)}" for v, d, a, p in VALIDATE] + VALIDATE_RAW)
    write("http", http_seeds())
    write("tls", tls_seeds())
    if "--pki" in sys.argv[1:]:
        write("pki", pki_seeds())


if __name__ == "__main__":
    main()
