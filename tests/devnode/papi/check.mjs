// Drives devnode with unmodified polkadot-api over the new JSON-RPC interface only: the raw
// WebSocket provider (no legacy-RPC compatibility layer), typed descriptors generated from
// devnode's metadata by `papi`. Reads a protocol pallet's storage and view functions, submits a
// signed transfer and watches it reach finalized, follows finalized blocks. Prints one JSON line.
//
//   node check.mjs WS_URL DESCRIPTORS_INDEX_JS
import { AccountId, Binary, createClient } from 'polkadot-api';
import { getWsRawProvider } from 'polkadot-api/ws';
import { getPolkadotSigner } from 'polkadot-api/signer';
import { sr25519CreateDerive } from '@polkadot-labs/hdkd';
import { DEV_PHRASE, entropyToMiniSecret, mnemonicToEntropy } from '@polkadot-labs/hdkd-helpers';
import { pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';

const [url, descriptorsPath] = process.argv.slice(2);
const { devnode, MultiAddress } = await import(pathToFileURL(descriptorsPath).href);

const derive = sr25519CreateDerive(entropyToMiniSecret(mnemonicToEntropy(DEV_PHRASE)));
const account = (path) => {
  const pair = derive(path);
  return { publicKey: pair.publicKey, signer: getPolkadotSigner(pair.publicKey, 'Sr25519', pair.sign) };
};
const alice = account('//Alice');
const bob = account('//Bob');
const json = (value) => JSON.parse(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));

const timeout = setTimeout(() => {
  console.error('timed out');
  process.exit(2);
}, 90_000);

const client = createClient(getWsRawProvider(url, { websocketClass: WebSocket }));
const api = client.getTypedApi(devnode);
const out = {};

out.chainSpec = json(await client.getChainSpecData());

// Follow finalized blocks from the start; the transfer below must show up among them.
const finalized = [];
const followed = client.finalizedBlock$.subscribe((block) => finalized.push(block.number));

const aliceSs58 = AccountId().dec(alice.publicKey);
const bobSs58 = AccountId().dec(bob.publicKey);
out.alice = aliceSs58;
out.modelCount = await api.query.ModelRegistry.ModelCount.getValue();
// A V16 view function, run through RuntimeViewFunction_execute_view_function.
out.viewModelCount = await api.view.ModelRegistry.model_count();
out.viewModelOfCid = (await api.view.ModelRegistry.model_of_cid(Binary.fromText('QmNotRegistered'))) ?? null;
out.tokens = json(await api.query.Tokens.Accounts.getValue(aliceSs58, 1));
out.providers = (await api.query.Providers.Providers.getEntries()).length;
const before = (await api.query.System.Account.getValue(bobSs58)).data.free;

const tx = api.tx.Balances.transfer_keep_alive({ dest: MultiAddress.Id(bobSs58), value: 1234567890123n });
out.fee = (await tx.getEstimatedFees(alice.publicKey)).toString();
const events = await new Promise((resolve, reject) => {
  const seen = [];
  tx.signSubmitAndWatch(alice.signer).subscribe({
    next: (event) => {
      seen.push(event.type);
      if (event.type === 'finalized') {
        resolve({
          seen,
          ok: event.ok,
          block: event.block.number,
          events: event.events.map((e) => `${e.type}.${e.value.type}`),
        });
      }
    },
    error: reject,
  });
});
out.tx = events;
const after = (await api.query.System.Account.getValue(bobSs58, { at: 'finalized' })).data.free;
out.received = (after - before).toString();

// Wait until the follow reported the block the transfer is in.
while (!finalized.includes(events.block)) await new Promise((r) => setTimeout(r, 50));
followed.unsubscribe();
out.finalized = finalized;

clearTimeout(timeout);
client.destroy();
console.log(JSON.stringify(out));
