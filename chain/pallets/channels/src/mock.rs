//! A test runtime: System (u32 block numbers, AccountId32), Balances, orml Tokens (currencies 1
//! and 2 with issuance, as at genesis on the runtime), the real ModelRegistry and Providers, and
//! Channels with the spec's constants and devnode's randomness (the parent hash).

use crate as pallet_channels;
use crate::ModelId;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, ConstU8},
};
use genai_primitives::{ParentHashRandomness, ParentHashSource};
use orml_traits::parameter_type_with_key;
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{traits::IdentityLookup, AccountId32, BuildStorage, Permill};

pub type AccountId = AccountId32;
pub type Balance = u128;
pub type BlockNumber = u32;
pub type CurrencyId = u32;

pub const INFER: CurrencyId = 1;
pub const USDD: CurrencyId = 2;
pub const EXISTENTIAL_DEPOSIT: Balance = 1_000_000;
/// 10^12: one weight unit of stake.
pub const UNIT: Balance = 1_000_000_000_000;
pub const MIN_STAKE: Balance = 100 * UNIT;
pub const ENDOWMENT: Balance = 1_000_000_000 * UNIT;
/// The models' price per 1k tokens: one unit per token, so a result's cost is its token count.
pub const PRICE: Balance = 1_000;
pub const MAX_TICKET_LIFE: BlockNumber = 100;
pub const CLOSE_DELAY: BlockNumber = 150;
pub const VALIDATION_PERIOD: BlockNumber = 20;
pub const MAX_TIMEOUTS_PER_BLOCK: u32 = 256;
pub const MAX_RESULTS_PER_SETTLE: u32 = 1024;
pub const MAX_MODELS_PER_SETTLEMENT: u32 = 16;

/// The dev accounts endowed at genesis: requesters, providers, a model author.
pub const SEEDS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Tokens: orml_tokens,
		ModelRegistry: pallet_model_registry,
		Providers: pallet_providers,
		Channels: pallet_channels,
	}
);

/// The pallets under their own names (`Channels` and `Providers` are also storage items).
pub type ChannelsPallet = pallet_channels::Pallet<Test>;
pub type ProvidersPallet = pallet_providers::Pallet<Test>;

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
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
	pub const SlashFraction: Permill = Permill::from_percent(10);
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkModels;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_providers::BenchmarkHelper<AccountId> for BenchmarkModels {
	fn register_model(index: u32) -> ModelId {
		register_model(&account("Dave"), index, PRICE, INFER)
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
	type MaxProvidersPerModel = ConstU32<64>;
	type MaxCapacity = ConstU32<1024>;
	type InitialReputation = ConstU8<0>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkModels;
}

/// frame_system's parent hash and block number, for devnode's randomness.
pub struct SystemParentHash;
impl ParentHashSource<BlockNumber> for SystemParentHash {
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
impl pallet_channels::BenchmarkHelper<AccountId, CurrencyId> for BenchmarkSetup {
	fn model_with_providers(author: &AccountId, providers: &[AccountId]) -> (ModelId, CurrencyId) {
		use orml_traits::MultiCurrency;
		let model_id = register_model(author, 0, PRICE, INFER);
		for who in providers {
			Tokens::deposit(INFER, who, 2 * MIN_STAKE).expect("a deposit");
			register_provider(who, &[model_id]);
		}
		(model_id, INFER)
	}
	fn ticket_signer(index: u32) -> AccountId {
		pair(&format!("bench{index}")).public().into()
	}
	fn sign_ticket(index: u32, message: &[u8]) -> [u8; 64] {
		pair(&format!("bench{index}")).sign(message).0
	}
}

impl pallet_channels::Config for Test {
	type Currency = Tokens;
	type Randomness = ParentHashRandomness<SystemParentHash>;
	type Models = ModelRegistry;
	type Providers = Providers;
	type MaxTicketLife = ConstU32<MAX_TICKET_LIFE>;
	type MinTicketMargin = ConstU32<5>;
	type CloseDelay = ConstU32<CLOSE_DELAY>;
	type MaxResultsPerSettle = ConstU32<MAX_RESULTS_PER_SETTLE>;
	type MaxModelsPerSettlement = ConstU32<MAX_MODELS_PER_SETTLEMENT>;
	type ValidationPeriod = ConstU32<VALIDATION_PERIOD>;
	type MaxTimeoutsPerBlock = ConstU32<MAX_TIMEOUTS_PER_BLOCK>;
	type ReputationGain = ConstU8<5>;
	type SlashFraction = SlashFraction;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkSetup;
}

/// The sr25519 dev key `//seed`.
pub fn pair(seed: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{seed}"), None).expect("a dev seed")
}

/// The account of the dev key `//seed`.
pub fn account(seed: &str) -> AccountId {
	pair(seed).public().into()
}

/// A valid base32 CIDv1 (raw codec, sha2-256), different for every `index`.
pub fn cid_of(index: u32) -> Vec<u8> {
	genai_primitives::raw_cid_v1_text(0x12, &sp_io::hashing::blake2_256(&index.to_le_bytes()))
}

/// `owner` registers the model `cid_of(index)` (10 % author share); returns its id.
pub fn register_model(
	owner: &AccountId,
	index: u32,
	price: Balance,
	currency: CurrencyId,
) -> ModelId {
	let cid = cid_of(index);
	pallet_model_registry::Pallet::<Test>::register_model(
		RuntimeOrigin::signed(owner.clone()),
		cid.clone(),
		b"model".to_vec(),
		pallet_model_registry::ModelTask::TextGeneration,
		pallet_model_registry::WeightFormat::Safetensors,
		1_000,
		price,
		currency,
		Permill::from_percent(10),
	)
	.expect("a valid model registration");
	pallet_model_registry::Pallet::<Test>::model_id_of(&cid)
}

/// `who` becomes an active provider of `models` with the minimum stake (reputation 0).
pub fn register_provider(who: &AccountId, models: &[ModelId]) {
	register_provider_with_stake(who, models, MIN_STAKE);
}

/// The dev accounts hold the native token and both currencies. Block 1, events recorded.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let funded: Vec<AccountId> = SEEDS.iter().map(|seed| account(seed)).collect();
	pallet_balances::GenesisConfig::<Test> {
		balances: funded.iter().map(|who| (who.clone(), ENDOWMENT)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	orml_tokens::GenesisConfig::<Test> {
		balances: funded
			.iter()
			.flat_map(|who| [(who.clone(), INFER, ENDOWMENT), (who.clone(), USDD, ENDOWMENT)])
			.collect(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// `who` becomes an active provider of `models` staking `stake` (reputation 0).
pub fn register_provider_with_stake(who: &AccountId, models: &[ModelId], stake: Balance) {
	pallet_providers::Pallet::<Test>::register_provider(
		RuntimeOrigin::signed(who.clone()),
		stake,
		b"http://127.0.0.1:8000".to_vec(),
		models.to_vec(),
		8,
		None,
	)
	.expect("a valid provider registration");
}
