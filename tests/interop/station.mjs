// An independent OCPP-J station (ocpp-rpc, strictMode: every message it sends and
// receives is validated against the OCA schemas) that runs one full charging session
// against a CSMS: Boot, Status, Authorize, start, meter values, stop. It answers any
// call the CSMS makes meanwhile. Exits 0 on success, 1 on any error or CALLERROR.
//
// Usage: node station.mjs --url ws://127.0.0.1:PORT/ocpp --id STATION --version 1.6|2.0.1
//                         [--id-tag TAG] [--samples N]

import ocppRpc from 'ocpp-rpc';
import { parseArgs } from 'node:util';

const { RPCClient, createRPCError } = ocppRpc;  // CommonJS: no named imports
const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    id: { type: 'string' },
    version: { type: 'string', default: '1.6' },
    'id-tag': { type: 'string', default: 'INTEROP-TAG' },
    samples: { type: 'string', default: '3' },
  },
});
const v16 = args.version === '1.6';
if (!v16 && args.version !== '2.0.1') throw new Error(`unknown version ${args.version}`);

const failures = [];
const client = new RPCClient({
  endpoint: args.url,
  identity: args.id,
  protocols: [v16 ? 'ocpp1.6' : 'ocpp2.0.1'],
  strictMode: true,
  reconnect: false,
  callTimeoutMs: 15000,
});
client.on('strictValidationFailure', (e) => failures.push(`${e.method}: ${e.error?.message}`));
client.on('badMessage', (e) => failures.push(`bad message: ${e.error?.message}`));

// Server-initiated calls: plausible answers for common ones, NotImplemented otherwise.
client.handle(({ method, params }) => {
  switch (method) {
    case 'GetConfiguration': return { configurationKey: [], unknownKey: params.key ?? [] };
    case 'ChangeConfiguration': return { status: 'NotSupported' };
    case 'TriggerMessage': return { status: 'Rejected' };
    case 'SetChargingProfile': return { status: 'Accepted' };
    case 'ClearChargingProfile': return { status: 'Unknown' };
    case 'GetVariables':
      return { getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: 'UnknownComponent', component: d.component, variable: d.variable })) };
    case 'SetVariables':
      return { setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: 'UnknownComponent', component: d.component, variable: d.variable })) };
    default: throw createRPCError('NotImplemented');
  }
});

const now = (offsetS = 0) => new Date(Date.now() + offsetS * 1000).toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sampled16(registerWh, powerW, context) {
  return [
    { value: String(registerWh), context, measurand: 'Energy.Active.Import.Register', unit: 'Wh', location: 'Outlet' },
    { value: String(powerW), context, measurand: 'Power.Active.Import', unit: 'W', location: 'Outlet' },
    { value: '16.0', context, measurand: 'Current.Import', phase: 'L1', unit: 'A', location: 'Outlet' },
    { value: '230.0', context, measurand: 'Voltage', phase: 'L1-N', unit: 'V', location: 'Outlet' },
  ];
}
function sampled201(registerWh, powerW, context) {
  return [
    { value: registerWh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
    { value: powerW, context, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } },
    { value: 16, context, measurand: 'Current.Import', phase: 'L1', unitOfMeasure: { unit: 'A' } },
    { value: 230, context, measurand: 'Voltage', phase: 'L1-N', unitOfMeasure: { unit: 'V' } },
  ];
}

async function run() {
  await client.connect();
  const samples = Number(args.samples);
  const powerW = 11000;
  const startWh = 10000;
  const stepWh = 500;
  const stopWh = startWh + stepWh * (samples + 1);
  if (v16) {
    const boot = await client.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop', chargePointSerialNumber: args.id });
    if (boot.status !== 'Accepted') throw new Error(`boot ${boot.status}`);
    for (const connectorId of [0, 1]) {
      await client.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Available', timestamp: now() });
    }
    await client.call('Heartbeat', {});
    const auth = await client.call('Authorize', { idTag: args['id-tag'] });
    if (auth.idTagInfo.status !== 'Accepted') throw new Error(`authorize ${auth.idTagInfo.status}`);
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: now() });
    const start = await client.call('StartTransaction', { connectorId: 1, idTag: args['id-tag'], meterStart: startWh, timestamp: now() });
    if (start.idTagInfo.status !== 'Accepted') throw new Error(`start ${start.idTagInfo.status}`);
    const transactionId = start.transactionId;
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: now() });
    for (let i = 1; i <= samples; ++i) {
      await sleep(50);
      await client.call('MeterValues', { connectorId: 1, transactionId, meterValue: [{ timestamp: now(), sampledValue: sampled16(startWh + stepWh * i, powerW, 'Sample.Periodic') }] });
    }
    await client.call('StopTransaction', {
      transactionId, idTag: args['id-tag'], meterStop: stopWh, timestamp: now(), reason: 'Local',
      transactionData: [{ timestamp: now(), sampledValue: sampled16(stopWh, 0, 'Transaction.End') }],
    });
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() });
    console.log(JSON.stringify({ transactionId, meterStart: startWh, meterStop: stopWh }));
  } else {
    const boot = await client.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'ocpp-rpc', model: 'interop', serialNumber: args.id } });
    if (boot.status !== 'Accepted') throw new Error(`boot ${boot.status}`);
    await client.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    await client.call('Heartbeat', {});
    const idToken = { idToken: args['id-tag'], type: 'ISO14443' };
    const auth = await client.call('Authorize', { idToken });
    if (auth.idTokenInfo.status !== 'Accepted') throw new Error(`authorize ${auth.idTokenInfo.status}`);
    await client.call('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
    const transactionId = `${args.id}-tx1`;
    let seqNo = 0;
    const event = (eventType, triggerReason, registerWh, extra = {}) => client.call('TransactionEvent', {
      eventType, timestamp: now(), triggerReason, seqNo: seqNo++,
      transactionInfo: { transactionId, chargingState: eventType === 'Ended' ? 'EVConnected' : 'Charging', ...(extra.stoppedReason ? { stoppedReason: extra.stoppedReason } : {}) },
      ...(extra.idToken ? { idToken: extra.idToken } : {}),
      ...(extra.evse ? { evse: extra.evse } : {}),
      meterValue: [{ timestamp: now(), sampledValue: sampled201(registerWh, eventType === 'Ended' ? 0 : powerW, extra.context ?? 'Sample.Periodic') }],
    });
    const started = await event('Started', 'Authorized', startWh, { idToken, evse: { id: 1, connectorId: 1 }, context: 'Transaction.Begin' });
    if (started.idTokenInfo && started.idTokenInfo.status !== 'Accepted') throw new Error(`start ${started.idTokenInfo.status}`);
    for (let i = 1; i <= samples; ++i) {
      await sleep(50);
      await event('Updated', 'MeterValuePeriodic', startWh + stepWh * i);
    }
    await event('Ended', 'StopAuthorized', stopWh, { stoppedReason: 'Local', context: 'Transaction.End' });
    await client.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    console.log(JSON.stringify({ transactionId, meterStart: startWh, meterStop: stopWh }));
  }
  await sleep(200);  // let a server-initiated call that is already on its way arrive
  await client.close({ code: 1000 });
}

try {
  await run();
} catch (error) {
  failures.push(String(error?.rpcErrorCode ?? '') + ' ' + String(error?.message ?? error));
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
