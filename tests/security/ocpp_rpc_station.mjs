// An independent OCPP-J station (npm ocpp-rpc, strict mode) that connects over wss with
// HTTP Basic credentials and/or a client certificate, boots and sends a heartbeat.
// Prints one JSON line; exits 0 when both were answered, 1 otherwise.
//
// Usage: node ocpp_rpc_station.mjs --modules DIR/node_modules --url wss://127.0.0.1:PORT/ocpp
//          --id STATION --version 1.6|2.0.1 --ca CA.pem [--password P] [--cert C.pem --key K.pem]

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    modules: { type: 'string' },
    url: { type: 'string' },
    id: { type: 'string' },
    version: { type: 'string', default: '2.0.1' },
    ca: { type: 'string' },
    password: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
// ocpp-rpc is installed once, for the interop tests.
const { RPCClient } = createRequire(`${args.modules}/`)('ocpp-rpc');
const v16 = args.version === '1.6';

const wsOpts = { ca: readFileSync(args.ca) };
if (args.cert) {
  wsOpts.cert = readFileSync(args.cert);
  wsOpts.key = readFileSync(args.key);
}
const client = new RPCClient({
  endpoint: args.url,
  identity: args.id,
  password: args.password,
  protocols: [v16 ? 'ocpp1.6' : 'ocpp2.0.1'],
  strictMode: true,
  reconnect: false,
  callTimeoutMs: 10000,
  wsOpts,
});

try {
  await client.connect();
  const boot = v16
    ? await client.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'wss' })
    : await client.call('BootNotification', {
        reason: 'PowerUp',
        chargingStation: { vendorName: 'ocpp-rpc', model: 'wss' },
      });
  const heartbeat = await client.call('Heartbeat', {});
  console.log(JSON.stringify({ ok: true, protocol: client.protocol, boot: boot.status, time: heartbeat.currentTime }));
  await client.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
  process.exit(1);
}
