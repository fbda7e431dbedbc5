//! A test runtime on the real pallets: System (u32 block numbers, as the runtime), Balances, orml
//! Tokens (currencies 1 and 2 with issuance), ModelRegistry, Providers and Inference with the
//! spec's constants; the draws' seed is the parent hash (`ParentHashRandomness`, as the runtime
//! uses), which tests set with [`set_parent_hash`].

use crate as pallet_inference;
use crate::ModelId;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, ConstU64, ConstU8},
};
use orml_traits::parameter_type_with_key;
use sp_core::H256;
use sp_runtime::{BuildStorage, Permill};

pub type AccountId = u64;
pub type Balance = u128;
pub type CurrencyId = u32;
pub type BlockNumber = u32;

/// The author of the test models.
pub const ALICE: AccountId = 1;
/// The requester.
pub const BOB: AccountId = 2;
/// Anyone else (no provider, funded).
pub const CHARLIE: AccountId = 3;
/// Providers.
pub const P1: AccountId = 11;
pub const P2: AccountId = 12;
pub const P3: AccountId = 13;
/// Accounts endowed at genesis besides the above (benchmarks' and bulk tests' providers).
pub const FIRST_EXTRA: AccountId = 100;
pub const EXTRA_ACCOUNTS: AccountId = 70;

pub const INFER: CurrencyId = 1;
pub const USDD: CurrencyId = 2;
pub const EXISTENTIAL_DEPOSIT: Balance = 1_000_000;
/// 10^12: one weight unit of stake.
pub const UNIT: Balance = 1_000_000_000_000;
pub const MIN_STAKE: Balance = 100 * UNIT;
pub const ENDOWMENT: Balance = 1_000_000_000 * UNIT;

pub const MAX_INLINE_INPUT: u32 = 1024;
pub const MAX_SEALED_INLINE: u32 = 1024 + 128;
pub const MAX_KEY_WRAP_LENGTH: u32 = 128;
pub const MAX_OUTPUT_BYTES: u32 = 65_536;
pub const MAX_TOKENS_PER_REQUEST: u32 = 100_000;
pub const MIN_DEADLINE: BlockNumber = 2;
pub const MAX_DEADLINE: BlockNumber = 600;
pub const VALIDATION_PERIOD: BlockNumber = 20;
pub const OUTPUT_PROVIDE_PERIOD: BlockNumber = 10;
pub const MAX_TIMEOUTS_PER_BLOCK: u32 = 256;
pub const BLOCK_BANDWIDTH_BYTES: u64 = 21_500 * 1024;
pub const INPUT_BYTES_PER_TOKEN: u32 = 3;
pub const OUTPUT_BYTES_PER_TOKEN: u32 = 640;
pub const REPUTATION_GAIN: u32 = 5;
pub const REPUTATION_LOSS: u32 = 10;
pub const MAX_PROVIDERS_PER_MODEL: u32 = 64;

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Tokens: orml_tokens,
		ModelRegistry: pallet_model_registry,
		Providers: pallet_providers,
		Inference: pallet_inference,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type AccountStore = System;
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
}

parameter_type_with_key! {
	pub ExistentialDeposits: |_currency_id: CurrencyId| -> Balance { EXISTENTIAL_DEPOSIT };
}

impl orml_tokens::Config for Test {
	type Balance = Balance;
	type Amount = i128;
	type CurrencyId = CurrencyId;
	type WeightInfo = ();
	type ExistentialDeposits = ExistentialDeposits;
	type CurrencyHooks = ();
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type DustRemovalWhitelist = frame_support::traits::Nothing;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkCurrency;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_model_registry::BenchmarkHelper<CurrencyId> for BenchmarkCurrency {
	fn currency_id() -> CurrencyId {
		USDD
	}
}

impl pallet_model_registry::Config for Test {
	type Currency = Tokens;
	type MaxCidLength = ConstU32<128>;
	type MaxNameLength = ConstU32<64>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkCurrency;
}

parameter_types! {
	pub const StakeCurrencyId: CurrencyId = INFER;
	pub const UnbondingPeriod: BlockNumber = 10;
	pub const MinDeadline: BlockNumber = MIN_DEADLINE;
	pub const MaxDeadline: BlockNumber = MAX_DEADLINE;
	pub const ValidationPeriod: BlockNumber = VALIDATION_PERIOD;
	pub const OutputProvidePeriod: BlockNumber = OUTPUT_PROVIDE_PERIOD;
	pub const SlashFraction: Permill = Permill::from_parts(100_000);
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkModels;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_providers::BenchmarkHelper<AccountId> for BenchmarkModels {
	fn register_model(index: u32) -> ModelId {
		register_model(ALICE, index, 10, INFER, Permill::from_percent(5))
	}
}

impl pallet_providers::Config for Test {
	type Currency = Tokens;
	type Models = ModelRegistry;
	type StakeCurrencyId = StakeCurrencyId;
	type MinStake = ConstU128<MIN_STAKE>;
	type WeightStakeUnit = ConstU128<UNIT>;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxEndpointLength = ConstU32<256>;
	type MaxModelsPerProvider = ConstU32<16>;
	type MaxProvidersPerModel = ConstU32<MAX_PROVIDERS_PER_MODEL>;
	type MaxCapacity = ConstU32<1024>;
	type InitialReputation = ConstU8<0>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkModels;
}

/// frame_system's parent hash and block number, the seed of `ParentHashRandomness`.
pub struct SystemParentHash;
impl genai_primitives::ParentHashSource<BlockNumber> for SystemParentHash {
	fn parent_hash() -> H256 {
		System::parent_hash()
	}
	fn block_number() -> BlockNumber {
		System::block_number()
	}
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkSetup;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for BenchmarkSetup {
	fn model(author: &AccountId) -> ModelId {
		register_model(*author, 0, 1_000_000, INFER, Permill::from_percent(5))
	}
	fn provider(who: &AccountId, model: &ModelId) {
		use orml_traits::MultiCurrency;
		Tokens::deposit(INFER, who, 10 * MIN_STAKE).expect("a deposit");
		pallet_providers::Pallet::<Test>::register_provider(
			RuntimeOrigin::signed(*who),
			MIN_STAKE,
			b"http://provider".to_vec(),
			vec![*model],
			1024,
			Some([7; 32]),
		)
		.expect("a valid provider registration");
	}
}

impl pallet_inference::Config for Test {
	type Currency = Tokens;
	type Models = ModelRegistry;
	type Providers = Providers;
	type Randomness = genai_primitives::ParentHashRandomness<SystemParentHash>;
	type MaxInlineInput = ConstU32<MAX_INLINE_INPUT>;
	type MaxSealedInline = ConstU32<MAX_SEALED_INLINE>;
	type MaxKeyWrapLength = ConstU32<MAX_KEY_WRAP_LENGTH>;
	type MaxOutputBytes = ConstU32<MAX_OUTPUT_BYTES>;
	type MaxTokensPerRequest = ConstU32<MAX_TOKENS_PER_REQUEST>;
	type MinDeadline = MinDeadline;
	type MaxDeadline = MaxDeadline;
	type ValidationPeriod = ValidationPeriod;
	type OutputProvidePeriod = OutputProvidePeriod;
	type MaxTimeoutsPerBlock = ConstU32<MAX_TIMEOUTS_PER_BLOCK>;
	type BlockBandwidthBytes = ConstU64<BLOCK_BANDWIDTH_BYTES>;
	type InputBytesPerToken = ConstU32<INPUT_BYTES_PER_TOKEN>;
	type OutputBytesPerToken = ConstU32<OUTPUT_BYTES_PER_TOKEN>;
	type ReputationGain = ConstU32<REPUTATION_GAIN>;
	type ReputationLoss = ConstU32<REPUTATION_LOSS>;
	type SlashFraction = SlashFraction;
	type MaxCidLength = ConstU32<128>;
	type MaxProvidersPerModel = ConstU32<MAX_PROVIDERS_PER_MODEL>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkSetup;
}

/// A valid base32 CIDv1 (raw codec, sha2-256), different for every `index`.
pub fn cid_of(index: u32) -> Vec<u8> {
	genai_primitives::raw_cid_v1_text(0x12, &sp_io::hashing::blake2_256(&index.to_le_bytes()))
}

/// `owner` registers the model `cid_of(index)` at `price` per 1k tokens; returns its id.
pub fn register_model(
	owner: AccountId,
	index: u32,
	price: Balance,
	currency_id: CurrencyId,
	author_share: Permill,
) -> ModelId {
	let cid = cid_of(index);
	pallet_model_registry::Pallet::<Test>::register_model(
		RuntimeOrigin::signed(owner),
		cid.clone(),
		b"model".to_vec(),
		pallet_model_registry::ModelTask::TextGeneration,
		pallet_model_registry::WeightFormat::Safetensors,
		1_000,
		price,
		currency_id,
		author_share,
	)
	.expect("a valid model registration");
	pallet_model_registry::Pallet::<Test>::model_id_of(&cid)
}

/// The seed of the next draws: frame_system's `ParentHash` (private to frame_system; written by
/// its storage key, `System::initialize` would also reset the events).
pub fn set_parent_hash(hash: H256) {
	let mut key = sp_io::hashing::twox_128(b"System").to_vec();
	key.extend(sp_io::hashing::twox_128(b"ParentHash"));
	frame_support::storage::unhashed::put(&key, &hash);
	assert_eq!(System::parent_hash(), hash);
}

/// Alice, Bob, Charlie, P1..P3 and the extra accounts hold the native token and both
/// currencies. Block 1, events recorded.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let funded: Vec<AccountId> = [ALICE, BOB, CHARLIE, P1, P2, P3]
		.into_iter()
		.chain(FIRST_EXTRA..FIRST_EXTRA + EXTRA_ACCOUNTS)
		.collect();
	pallet_balances::GenesisConfig::<Test> {
		balances: funded.iter().map(|who| (*who, ENDOWMENT)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	orml_tokens::GenesisConfig::<Test> {
		balances: funded
			.iter()
			.flat_map(|who| [(*who, INFER, ENDOWMENT), (*who, USDD, ENDOWMENT)])
			.collect(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
