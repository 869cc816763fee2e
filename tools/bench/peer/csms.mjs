// The benchmark's peer: a minimal CSMS on ocpp-rpc with strict validation (every CALL
// and every answer checked against the OCA schemas), giving the answers chargegridd
// gives (boots accepted, any token accepted, server-issued 1.6 transaction ids) and
// keeping what stations report in memory only: statuses, transactions and their meter
// values.
//
// Usage: node csms.mjs --ready-file PATH [--port N] [--heartbeat-interval S]
// Writes {"port":N} to the ready file once listening on 127.0.0.1; stations connect to
// ws://127.0.0.1:N/ocpp/{stationId}. SIGTERM/SIGINT stop it.

import ocppRpc from 'ocpp-rpc';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { RPCServer, createRPCError } = ocppRpc;  // CommonJS: no named imports

const { values: args } = parseArgs({
  options: {
    'ready-file': { type: 'string' },
    port: { type: 'string', default: '0' },
    'heartbeat-interval': { type: 'string', default: '300' },
  },
});
const interval = Number(args['heartbeat-interval']);

const stations = new Map();  // identity -> { boot, statuses, transactions, lastSeen }
let nextTransactionId = 1;
let meterValues = 0;
const now = () => new Date().toISOString();

const server = new RPCServer({
  protocols: ['ocpp1.6', 'ocpp2.0.1'],
  strictMode: true,
});
server.auth((accept) => accept({}));

server.on('client', (client) => {
  let station = stations.get(client.identity);
  if (!station) {
    station = { boot: null, statuses: new Map(), transactions: new Map(), lastSeen: 0 };
    stations.set(client.identity, station);
  }
  const v16 = client.protocol === 'ocpp1.6';
  const seen = () => { station.lastSeen = Date.now(); };
  const transaction = (id) => {
    let tx = station.transactions.get(id);
    if (!tx) station.transactions.set(id, tx = { events: [], meterValues: [], ended: false });
    return tx;
  };
  const keepMeterValues = (id, values) => {
    if (!values) return;
    transaction(id ?? 'none').meterValues.push(values);
    meterValues += values.length;
  };

  client.handle('BootNotification', ({ params }) => {
    seen();
    station.boot = params;
    return { status: 'Accepted', currentTime: now(), interval };
  });
  client.handle('Heartbeat', () => { seen(); return { currentTime: now() }; });
  client.handle('StatusNotification', ({ params }) => {
    seen();
    station.statuses.set(`${params.evseId ?? 0}/${params.connectorId}`, params);
    return {};
  });
  client.handle('Authorize', () => {
    seen();
    return v16 ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
  });
  client.handle('StartTransaction', ({ params }) => {
    seen();
    const transactionId = nextTransactionId++;
    transaction(transactionId).start = params;
    return { transactionId, idTagInfo: { status: 'Accepted' } };
  });
  client.handle('StopTransaction', ({ params }) => {
    seen();
    const tx = transaction(params.transactionId);
    tx.stop = params;
    tx.ended = true;
    keepMeterValues(params.transactionId, params.transactionData);
    return { idTagInfo: { status: 'Accepted' } };
  });
  client.handle('MeterValues', ({ params }) => {
    seen();
    keepMeterValues(params.transactionId, params.meterValue);
    return {};
  });
  client.handle('TransactionEvent', ({ params }) => {
    seen();
    const id = params.transactionInfo.transactionId;
    const tx = transaction(id);
    if (tx.events.some((e) => e.seqNo === params.seqNo)) return {};  // a replay
    tx.events.push({ seqNo: params.seqNo, eventType: params.eventType, timestamp: params.timestamp });
    keepMeterValues(id, params.meterValue);
    if (params.eventType === 'Ended') tx.ended = true;
    return params.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
  });
  client.handle('DataTransfer', () => { seen(); return { status: 'UnknownVendorId' }; });
  client.handle(() => {
    throw createRPCError('NotImplemented');
  });
});

const httpServer = await server.listen(Number(args.port), '127.0.0.1');
writeFileSync(args['ready-file'], JSON.stringify({ port: httpServer.address().port }));

const finish = async () => {
  await server.close({ awaitPending: false, force: true }).catch(() => {});
  process.stderr.write(`stations ${stations.size}, meter values kept ${meterValues}\n`);
  process.exit(0);
};
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
