//! The CID validator of docs/pallets.md: CIDv0 (base58btc `Qm…`) and lower-case base32 CIDv1 (`b…`),
//! so a CID has exactly one accepted spelling (devnode: `devnode/pallets/_cid.py`). Pure and
//! allocation-free: the longest accepted CID is `MaxCidLength` (128) bytes.

/// multicodec content types a CIDv1 may carry: raw, dag-pb, dag-cbor, dag-json.
const CODECS: [u64; 4] = [0x55, 0x70, 0x71, 0x0129];

/// Why bytes are not a CID this chain accepts (the chain only reports `InvalidCid`; the reason
/// helps tests and off-chain callers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidError {
	NotCid,
	BadBase58,
	NotSha256Multihash,
	BadBase32,
	BadVarint,
	UnsupportedVersion,
	UnsupportedCodec,
	UnsupportedHash,
	DigestLength,
	TooLong,
}

/// The digest length of a supported multihash function: sha2-256, sha2-512, blake3, blake2b-256.
fn digest_length(code: u64) -> Option<usize> {
	match code {
		0x12 => Some(32),
		0x13 => Some(64),
		0x1e => Some(32),
		0xb220 => Some(32),
		_ => None,
	}
}

fn base58_value(byte: u8) -> Option<u32> {
	const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	ALPHABET.iter().position(|&c| c == byte).map(|i| i as u32)
}

fn base32_value(byte: u8) -> Option<u8> {
	match byte {
		b'a'..=b'z' => Some(byte - b'a'),
		b'2'..=b'7' => Some(byte - b'2' + 26),
		_ => None,
	}
}

/// Reads an unsigned LEB128 varint (at most 9 bytes, minimally encoded) at `pos`.
fn varint(data: &[u8], pos: &mut usize) -> Result<u64, CidError> {
	let mut value: u64 = 0;
	for shift in (0..63).step_by(7) {
		let byte = *data.get(*pos).ok_or(CidError::BadVarint)?;
		*pos += 1;
		value |= u64::from(byte & 0x7f) << shift;
		if byte & 0x80 == 0 {
			if byte == 0 && shift != 0 {
				return Err(CidError::BadVarint);
			}
			return Ok(value);
		}
	}
	Err(CidError::BadVarint)
}

fn check_cid_v0(text: &[u8]) -> Result<(), CidError> {
	if text.len() != 46 {
		return Err(CidError::NotCid);
	}
	// Big-endian base-256 accumulator; 46 base58 digits fit in 34 bytes plus a little slack.
	let mut number = [0u8; 40];
	for &ch in text {
		let mut carry = base58_value(ch).ok_or(CidError::BadBase58)?;
		for byte in number.iter_mut().rev() {
			carry += u32::from(*byte) * 58;
			*byte = (carry & 0xff) as u8;
			carry >>= 8;
		}
		if carry != 0 {
			return Err(CidError::NotSha256Multihash);
		}
	}
	// A text starting with "Qm" has no leading '1' digits, so the value has no leading zero bytes.
	let start = number.iter().position(|&b| b != 0).unwrap_or(number.len());
	let data = &number[start..];
	if data.len() != 34 || data[..2] != [0x12, 0x20] {
		return Err(CidError::NotSha256Multihash);
	}
	Ok(())
}

fn check_cid_v1(body: &[u8]) -> Result<(), CidError> {
	if body.len() * 5 % 8 >= 5 {
		return Err(CidError::BadBase32);
	}
	let mut data = [0u8; 128];
	let mut len = 0;
	let mut acc: u32 = 0;
	let mut bits = 0;
	for &ch in body {
		acc = (acc << 5) | u32::from(base32_value(ch).ok_or(CidError::BadBase32)?);
		bits += 5;
		if bits >= 8 {
			bits -= 8;
			*data.get_mut(len).ok_or(CidError::TooLong)? = (acc >> bits) as u8;
			len += 1;
			acc &= (1 << bits) - 1;
		}
	}
	let data = &data[..len];
	let mut pos = 0;
	if varint(data, &mut pos)? != 1 {
		return Err(CidError::UnsupportedVersion);
	}
	if !CODECS.contains(&varint(data, &mut pos)?) {
		return Err(CidError::UnsupportedCodec);
	}
	let code = varint(data, &mut pos)?;
	let length = varint(data, &mut pos)?;
	let expected = digest_length(code).ok_or(CidError::UnsupportedHash)?;
	if length != expected as u64 || data.len() - pos != expected {
		return Err(CidError::DigestLength);
	}
	Ok(())
}

/// Checks a textual CID: `Ok` exactly when devnode's `parse_cid` accepts it.
pub fn check_cid(text: &[u8]) -> Result<(), CidError> {
	match text {
		[b'Q', b'm', ..] => check_cid_v0(text),
		[b'b', body @ ..] if !body.is_empty() => check_cid_v1(body),
		_ => Err(CidError::NotCid),
	}
}

/// Whether `text` is a CID this chain accepts.
pub fn is_valid_cid(text: &[u8]) -> bool {
	check_cid(text).is_ok()
}
