// A minimal CSMS built on ocpp-rpc in strict mode: every CALL a station sends and every
// answer it gives is validated against the OCA JSON schemas by an independent
// implementation. Used to check ChargeGrid's station simulator.
//
// Usage: node strict_csms.mjs --ready-file PATH --report-file PATH [--port N]
// Writes {"port":N} to the ready file once listening; on SIGTERM/SIGINT writes a JSON
// report (validation failures, calls received, results of the CSMS's own calls) and exits.

import ocppRpc from 'ocpp-rpc';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { RPCServer, createRPCError, NOREPLY } = ocppRpc;  // CommonJS: no named imports

const { values: args } = parseArgs({
  options: {
    'ready-file': { type: 'string' },
    'report-file': { type: 'string' },
    port: { type: 'string', default: '0' },
    'boot-pending-first': { type: 'boolean', default: false },
    // Leave each station's first periodic meter message unanswered and drop the
    // connection: the station must send the same message again after reconnecting.
    'drop-first-meter': { type: 'boolean', default: false },
  },
});

const report = {
  validation_failures: [],
  received: {},            // action -> count, per protocol
  server_calls: [],        // { station, method, ok, result | error }
  stations: {},            // identity -> { protocol, connects, transactions }
  bad_messages: [],
  dropped: [],             // { station, method, messageId, params } left unanswered
  resent: [],              // { station, method, messageId, same_params } seen again
};
let nextTransactionId = 1000;
const now = () => new Date().toISOString();

const server = new RPCServer({
  protocols: ['ocpp1.6', 'ocpp2.0.1'],
  strictMode: true,
  callTimeoutMs: 10000,
});
server.auth((accept) => accept({}));

async function probe(client, method, params) {
  try {
    const result = await client.call(method, params);
    report.server_calls.push({ station: client.identity, method, ok: true, result });
  } catch (error) {
    report.server_calls.push({
      station: client.identity, method, ok: false,
      error: error.rpcErrorCode ?? String(error.message ?? error),
    });
  }
}

// What the CSMS asks a station once its first transaction runs: supported calls, which
// must get schema-valid answers (smart charging included).
async function probeStation(client, transactionId) {
  if (client.protocol === 'ocpp1.6') {
    await probe(client, 'GetConfiguration', { key: ['HeartbeatInterval', 'NoSuchKey'] });
    await probe(client, 'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '30' });
    await probe(client, 'TriggerMessage', { requestedMessage: 'Heartbeat' });
    await probe(client, 'DataTransfer', { vendorId: 'ChargeGrid', data: 'ping' });
    await probe(client, 'SetChargingProfile', {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Absolute', transactionId,
        chargingSchedule: { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] },
      },
    });
    await probe(client, 'ClearCache', {});
    await probe(client, 'GetCompositeSchedule', { connectorId: 1, duration: 3600 });
  } else {
    await probe(client, 'GetVariables', {
      getVariableData: [
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
        { component: { name: 'NoSuchComponent' }, variable: { name: 'X' } },
      ],
    });
    await probe(client, 'SetVariables', {
      setVariableData: [{ component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxUpdatedInterval' }, attributeValue: '30' }],
    });
    await probe(client, 'TriggerMessage', { requestedMessage: 'Heartbeat' });
    await probe(client, 'DataTransfer', { vendorId: 'ChargeGrid', data: 'ping' });
    await probe(client, 'SetChargingProfile', {
      evseId: 1,
      chargingProfile: {
        id: 1, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute',
        transactionId,
        chargingSchedule: [{ id: 1, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] }],
      },
    });
    await probe(client, 'ClearCache', {});
    await probe(client, 'GetCompositeSchedule', { duration: 3600, evseId: 1 });
  }
}

server.on('client', (client) => {
  const station = (report.stations[client.identity] ??= {
    protocol: client.protocol, connects: 0, transactions: [], boots: 0,
  });
  station.connects += 1;
  const count = (method) => {
    const key = `${client.protocol} ${method}`;
    report.received[key] = (report.received[key] ?? 0) + 1;
  };
  let probed = false;
  // Returns true when this call is the one to leave unanswered (and drops the link).
  const dropOrRecordResend = (method, messageId, params) => {
    const earlier = report.dropped.find((d) => d.station === client.identity && d.messageId === messageId);
    if (earlier) {
      report.resent.push({ station: client.identity, method, messageId,
        same_params: JSON.stringify(earlier.params) === JSON.stringify(params) });
      return false;
    }
    // The drop waits for the probe calls to be answered, so that a slow machine never cuts
    // them off: it is the first meter value after them.
    if (!args['drop-first-meter'] || station.dropped || !station.probeDone) return false;
    station.dropped = true;
    report.dropped.push({ station: client.identity, method, messageId, params });
    setTimeout(() => client.close({ code: 1011, reason: 'test drop', force: true }), 20);
    return true;
  };
  const startProbe = (transactionId) => {
    if (probed || station.probed) return;
    probed = station.probed = true;
    setTimeout(() => probeStation(client, transactionId).then(() => { station.probeDone = true; }), 50);
  };

  client.on('strictValidationFailure', (event) => {
    report.validation_failures.push({
      station: client.identity, method: event.method, outbound: event.outbound,
      isCall: event.isCall, params: event.params, result: event.result,
      error: String(event.error?.message ?? event.error),
    });
  });
  client.on('badMessage', (event) => {
    report.bad_messages.push({ station: client.identity, error: String(event.error?.message) });
  });

  client.handle('BootNotification', () => {
    count('BootNotification');
    station.boots += 1;
    if (args['boot-pending-first'] && station.boots === 1) {
      return { status: 'Pending', currentTime: now(), interval: 1 };
    }
    return { status: 'Accepted', currentTime: now(), interval: 300 };
  });
  client.handle('Heartbeat', () => { count('Heartbeat'); return { currentTime: now() }; });
  client.handle('StatusNotification', () => { count('StatusNotification'); return {}; });
  client.handle('MeterValues', ({ params, messageId }) => {
    count('MeterValues');
    if (params.transactionId !== undefined && dropOrRecordResend('MeterValues', messageId, params)) return NOREPLY;
    return {};
  });
  client.handle('Authorize', () => {
    count('Authorize');
    return client.protocol === 'ocpp1.6'
      ? { idTagInfo: { status: 'Accepted' } }
      : { idTokenInfo: { status: 'Accepted' } };
  });
  client.handle('StartTransaction', ({ params }) => {
    count('StartTransaction');
    const transactionId = nextTransactionId++;
    station.transactions.push({ id: transactionId, meterStart: params.meterStart, stopped: false });
    startProbe(transactionId);
    return { transactionId, idTagInfo: { status: 'Accepted' } };
  });
  client.handle('StopTransaction', ({ params }) => {
    count('StopTransaction');
    const tx = station.transactions.find((t) => t.id === params.transactionId);
    if (tx) { tx.stopped = true; tx.meterStop = params.meterStop; }
    return { idTagInfo: { status: 'Accepted' } };
  });
  client.handle('TransactionEvent', ({ params, messageId }) => {
    count('TransactionEvent');
    if (params.eventType === 'Updated' && dropOrRecordResend('TransactionEvent', messageId, params)) return NOREPLY;
    const id = params.transactionInfo.transactionId;
    let tx = station.transactions.find((t) => t.id === id);
    if (!tx) station.transactions.push(tx = { id, seqNos: [], stopped: false });
    tx.seqNos.push(params.seqNo);
    if (params.eventType === 'Started') startProbe(id);
    if (params.eventType === 'Ended') tx.stopped = true;
    return params.eventType === 'Started' ? { idTokenInfo: { status: 'Accepted' } } : {};
  });
  client.handle('NotifyEVChargingNeeds', () => { count('NotifyEVChargingNeeds'); return { status: 'Accepted' }; });
  client.handle(({ method }) => {
    count(method);
    throw createRPCError('NotImplemented');
  });
});

const httpServer = await server.listen(Number(args.port), '127.0.0.1');
writeFileSync(args['ready-file'], JSON.stringify({ port: httpServer.address().port }));

const finish = async () => {
  writeFileSync(args['report-file'], JSON.stringify(report, null, 1));
  await server.close({ awaitPending: false, force: true }).catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
