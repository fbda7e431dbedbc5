//! The CID validator accepts exactly what devnode's `parse_cid` accepts (each text below was
//! checked against it).

use crate::cid::{check_cid, is_valid_cid, CidError};

const VALID: &[&str] = &[
	"QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNft",
	"QmSXDk2v6kPu4BXW7UE6BsE4rB3k7Y1yJ11a9owiH52Ti4",
	"bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm",
	"bafybeigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm",
	"baguqee2ad5apzew2eqlji5ijphxgz5mc6lk5puuodazv3yc2xrknavqob5jqfbqmmuv7bdkwajjkuxtueecun43j7o545dasz7dzk6zgkl7ju5i",
	"bafyr4igks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm",
	"bafk2bzacedfjpaiszin33sx2yiy3hgrd3rg2pbxp7akhyttsxgahpbnp5zelw",
];

#[test]
fn accepts_cid_v0_and_base32_cid_v1_with_every_supported_codec_and_hash() {
	for cid in VALID {
		assert_eq!(check_cid(cid.as_bytes()), Ok(()), "{cid}");
	}
}

#[test]
fn rejects_what_devnode_rejects() {
	let cases: &[(&str, CidError)] = &[
		("QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNf", CidError::NotCid),
		("S5ekZwF6suYH2SDmnvC36GTkrewXSPNgBY5sCAakcuCDgW", CidError::NotCid),
		("Qm00000000000000000000000000000000000000000000", CidError::BadBase58),
		("BAFKREIGKS6ARFSQ3XXFPVQRRWONCHXCNU6DO76AUPRHHFOMAO6C273SIXM", CidError::NotCid),
		(
			"bajkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm",
			CidError::UnsupportedVersion,
		),
		("baflbeigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm", CidError::UnsupportedCodec),
		("bafkrcigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm", CidError::UnsupportedHash),
		("bafkreioks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixmaa", CidError::DigestLength),
		("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixmaa", CidError::DigestLength),
		("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273si", CidError::DigestLength),
		("bagaaavisedfjpaiszin33sx2yiy3hgrd3rg2pbxp7akhyttsxgahpbnp5zelw", CidError::BadVarint),
		("bae", CidError::BadVarint),
		("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm=", CidError::BadBase32),
		("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixma", CidError::BadBase32),
		("b", CidError::NotCid),
		("", CidError::NotCid),
		("zb2rhkH7YENgBZDCu4DK5oQLHKiHQgbR8z9274uJb8X4gxYsc", CidError::NotCid),
	];
	for (cid, why) in cases {
		assert_eq!(check_cid(cid.as_bytes()), Err(*why), "{cid}");
	}
}

#[test]
fn rejects_non_ascii_and_oversized_input_without_panicking() {
	assert!(!is_valid_cid("Qm\u{e9}yV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzN".as_bytes()));
	assert!(!is_valid_cid("bafkrei\u{e9}".as_bytes()));
	let mut long = b"b".to_vec();
	long.extend(core::iter::repeat_n(b'a', 400));
	assert_eq!(check_cid(&long), Err(CidError::TooLong));
	let mut big_v0 = b"Qm".to_vec();
	big_v0.extend(core::iter::repeat_n(b'z', 44));
	assert!(!is_valid_cid(&big_v0));
	assert!(!is_valid_cid(b"Qm11111111111111111111111111111111111111111111"));
}
