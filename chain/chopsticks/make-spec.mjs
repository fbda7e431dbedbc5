// Writes the raw chain spec chopsticks starts from (`--genesis FILE`), made by the runtime itself:
// its GenesisBuilder API runs in chopsticks' executor over an empty storage —
// get_preset(None) (the default config), get_preset(Some("development")) (the patch), merged as
// chain-spec-builder merges them, then build_state — and the storage it writes, plus `:code`, is
// the genesis. Integers above 2^53 (balances) stay exact: numbers are never parsed as JS numbers.
//
//   node make-spec.mjs WASM OUT.json    (run by scripts/chain-spec.sh)
import { readFileSync, writeFileSync } from 'node:fs'
import { runTask, destroyWorker } from '@acala-network/chopsticks-core'

const [wasmPath, outPath] = process.argv.slice(2)
if (!wasmPath || !outPath) {
  console.error('usage: node make-spec.mjs RUNTIME.compact.compressed.wasm OUT.json')
  process.exit(2)
}
const wasm = '0x' + readFileSync(wasmPath).toString('hex')

const hex = (bytes) => '0x' + Buffer.from(bytes).toString('hex')
const unhex = (text) => Buffer.from(text.slice(2), 'hex')

function compact(length) {
  if (length < 1 << 6) return Buffer.from([length << 2])
  if (length < 1 << 14) return Buffer.from([((length << 2) | 1) & 0xff, length >> 6])
  if (length < 1 << 30) {
    const out = Buffer.alloc(4)
    out.writeUInt32LE(((length << 2) | 2) >>> 0)
    return out
  }
  throw new Error('payload too large')
}
const encodeBytes = (bytes) => Buffer.concat([compact(bytes.length), Buffer.from(bytes)])

function decodeCompact(buf, pos) {
  const mode = buf[pos] & 3
  if (mode === 0) return [buf[pos] >> 2, pos + 1]
  if (mode === 1) return [buf.readUInt16LE(pos) >> 2, pos + 2]
  if (mode === 2) return [buf.readUInt32LE(pos) >>> 2, pos + 4]
  throw new Error('big compact not expected here')
}

// Option<Vec<u8>> -> Buffer | null
function decodeOptionBytes(buf) {
  if (buf[0] === 0) return null
  const [length, pos] = decodeCompact(buf, 1)
  return buf.subarray(pos, pos + length)
}

// No storage at all: genesis is built from nothing.
const emptyStorage = {
  getStorage: async () => undefined,
  getNextKey: async () => undefined,
  offchainGetStorage: async () => undefined,
  offchainTimestamp: async () => Date.now(),
  offchainRandomSeed: async () => hex(new Uint8Array(32)),
  offchainSubmitTransaction: async () => false,
}

async function call(method, args) {
  const response = await runTask(
    { wasm, calls: [[method, args.map(hex)]], mockSignatureHost: false, allowUnresolvedImports: false, runtimeLogLevel: 0 },
    emptyStorage,
  )
  if ('Error' in response) throw new Error(`${method}: ${response.Error}`)
  return response.Call
}

// JSON with every number kept as its source text: numbers become marked strings before parsing and
// are written back verbatim after stringifying.
const MARK = '\u0000num:'
function protectNumbers(text) {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (inString) {
      out += ch
      if (ch === '\\') out += text[++i]
      else if (ch === '"') inString = false
    } else if (ch === '"') {
      inString = true
      out += ch
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      let j = i
      while (j < text.length && /[-+0-9.eE]/.test(text[j])) j++
      out += JSON.stringify(MARK + text.slice(i, j))
      i = j - 1
    } else {
      out += ch
    }
  }
  return JSON.parse(out)
}
const restoreNumbers = (value) =>
  JSON.stringify(value).replace(/"\\u0000num:([-+0-9.eE]+)"/g, '$1')

// chain-spec-builder's merge: objects merge key by key, anything else is replaced.
function merge(base, patch) {
  if (base && patch && typeof base === 'object' && typeof patch === 'object' && !Array.isArray(base) && !Array.isArray(patch)) {
    const out = { ...base }
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? merge(base[key], value) : value
    return out
  }
  return patch
}

async function preset(name) {
  const arg = name === null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), encodeBytes(Buffer.from(name))])
  const json = decodeOptionBytes(unhex((await call('GenesisBuilder_get_preset', [arg])).result))
  if (json === null) throw new Error(`the runtime has no preset ${name}`)
  return protectNumbers(json.toString('utf8'))
}

const config = merge(await preset(null), await preset('development'))
const built = await call('GenesisBuilder_build_state', [encodeBytes(Buffer.from(restoreNumbers(config)))])
// Result<(), String>: 0x00 is Ok.
const result = unhex(built.result)
if (result[0] !== 0) throw new Error(`build_state failed: ${result.subarray(1).toString('utf8')}`)

const top = { '0x3a636f6465': wasm }
for (const [key, value] of built.storageDiff) if (value !== null) top[key] = value
const spec = {
  name: 'Development',
  id: 'genai_dev',
  chainType: 'Development',
  bootNodes: [],
  telemetryEndpoints: null,
  protocolId: null,
  properties: { ss58Format: 42, tokenDecimals: 12, tokenSymbol: 'UNIT' },
  codeSubstitutes: {},
  genesis: { raw: { top: Object.fromEntries(Object.entries(top).sort()), childrenDefault: {} } },
}
writeFileSync(outPath, JSON.stringify(spec, null, 1) + '\n')
console.log(`${outPath}: ${Object.keys(top).length} keys, runtime ${readFileSync(wasmPath).length} bytes`)
await destroyWorker()
