// Drives devnode with unmodified polkadot.js: reads, a signed transfer, events, finality.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';

const url = process.argv[2];
const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, throwOnConnect: true });
const out = {};
out.chain = (await api.rpc.system.chain()).toString();
out.specName = api.runtimeVersion.specName.toString();
out.ss58 = api.registry.chainSS58;
out.decimals = api.registry.chainDecimals;
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const before = (await api.query.system.account(bob.address)).data.free.toBigInt();
const tx = api.tx.balances.transferKeepAlive(bob.address, 1234567890123n);
const info = await tx.paymentInfo(alice);
out.partialFee = info.partialFee.toString();
const result = await new Promise((resolve, reject) => {
  tx.signAndSend(alice, ({ status, events, dispatchError }) => {
    if (dispatchError) reject(new Error(dispatchError.toString()));
    if (status.isFinalized) {
      resolve({ block: status.asFinalized.toHex(), events: events.map(({ event }) => `${event.section}.${event.method}`) });
    }
  }).catch(reject);
});
out.events = result.events;
const after = (await api.query.system.account(bob.address)).data.free.toBigInt();
out.received = (after - before).toString();
const entries = await api.query.system.account.entries();
out.accounts = entries.length;
const header = await api.rpc.chain.getHeader(result.block);
out.finalizedNumber = header.number.toNumber();
console.log(JSON.stringify(out));
await api.disconnect();
